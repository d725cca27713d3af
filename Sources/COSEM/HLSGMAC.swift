// HLS-GMAC (authentication mechanism 5). The AARQ carries the client's challenge CtoS, the AARE the meter's
// StoC (with result "authentication required"). Pass 3: the client proves it holds the keys with
// f(StoC) = 10 || IC || GMAC(StoC), sent as ACTION reply_to_HLS_authentication on the association object;
// pass 4: the meter answers with f(CtoS), computed with its own title and counter, which the client checks.
// GMAC = the 12-byte GCM tag under EK with IV = sender title || IC, AAD = 10 || AK || challenge, empty text.

/// The HLS-GMAC computations, stateless.
public enum HLSGMAC {
    /// The security control byte inside f(challenge): authenticated only.
    public static let securityControl = SecurityControl.authenticated

    /// Checks that a challenge has 8 to 64 bytes (the standard's bounds).
    public static func checkChallenge(_ challenge: [UInt8]) throws(COSEMError) {
        guard (8...64).contains(challenge.count) else {
            throw COSEMError.security(.invalidChallengeLength(challenge.count))
        }
    }

    /// f(challenge) = `10 || IC || GMAC` (17 bytes) for a sender with `systemTitle` using counter `invocationCounter`.
    public static func response<Engine: AESGCMEngine>(
        to challenge: [UInt8], engine: Engine, keys: SecurityKeys, systemTitle: SystemTitle, invocationCounter: UInt32
    ) throws(COSEMError) -> [UInt8] {
        try checkChallenge(challenge)
        var out: [UInt8] = [securityControl.rawValue]
        out.appendU32(invocationCounter)
        out.append(contentsOf: repeatElement(0, count: 12))
        var failure: SecurityError? = nil
        challenge.withUnsafeBytes { tail in
            out.withUnsafeMutableBytes { raw in
                let tag = UnsafeMutableRawBufferPointer(rebasing: raw[5..<17])
                do throws(SecurityError) {
                    try withInitializationVector(systemTitle, invocationCounter) { (iv) throws(SecurityError) in
                        try withAADHead(securityControl.rawValue, keys.authentication) { (head) throws(SecurityError) in
                            try engine.seal(key: keys.encryption, iv: iv, aad: head, aadTail: tail,
                                            text: UnsafeMutableRawBufferPointer(start: nil, count: 0), tag: tag)
                        }
                    }
                } catch {
                    failure = error
                }
            }
        }
        if let failure { throw COSEMError.security(failure) }
        return out
    }

    /// Verifies the peer's f(challenge) (computed by the holder of `systemTitle`); returns the counter it used.
    /// Throws `.security(.meterAuthenticationFailed)` when it does not verify.
    @discardableResult
    public static func verify<Engine: AESGCMEngine>(
        _ f: [UInt8], challenge: [UInt8], engine: Engine, keys: SecurityKeys, systemTitle: SystemTitle
    ) throws(COSEMError) -> UInt32 {
        guard f.count == 17, f[0] == securityControl.rawValue else {
            throw COSEMError.security(.meterAuthenticationFailed)
        }
        let counter = UInt32(f[1]) << 24 | UInt32(f[2]) << 16 | UInt32(f[3]) << 8 | UInt32(f[4])
        let expected = try response(to: challenge, engine: engine, keys: keys, systemTitle: systemTitle,
                                    invocationCounter: counter)
        // Compare every byte whatever the first difference: the time taken tells nothing about the tag.
        var difference: UInt8 = 0
        for i in 0..<17 { difference |= expected[i] ^ f[i] }
        guard difference == 0 else { throw COSEMError.security(.meterAuthenticationFailed) }
        return counter
    }

    /// Pass 3 in clear: ACTION-Request-Normal on `0-0:40.0.0.255` method 1 with the octet string f(StoC).
    public static func pass3Request(invoke: InvokeIdAndPriority, response f: [UInt8]) -> ActionRequest {
        ActionRequest(invoke: invoke, method: .replyToHLSAuthentication, parameters: .octetString(f))
    }

    /// Pass 4 in clear: the f(CtoS) the meter returned, or why there is none.
    public static func meterResponse(in response: ActionResponse) throws(COSEMError) -> [UInt8] {
        guard response.result == .success else {
            throw COSEMError.security(.meterRefusedAuthentication("action-result " + response.result.description))
        }
        switch response.returnParameters {
        case let .data(.octetString(f))?: return f
        case let .error(e)?: throw COSEMError.security(.meterRefusedAuthentication("data-access-result " + e.name))
        default: throw COSEMError.security(.meterRefusedAuthentication("no f(CtoS) in the reply"))
        }
    }
}

extension CipheringContext {
    /// HLS-GMAC pass 3 from the client: f(StoC) with the next counter, wrapped in the ACTION request and
    /// ciphered (service-specific glo-, the association is not open yet) with the counter after it, as
    /// gurux does: an IV is never used twice under EK.
    public mutating func hlsPass3(serverChallenge: [UInt8], invoke: InvokeIdAndPriority) throws(COSEMError) -> [UInt8] {
        let ic: UInt32
        do { ic = try counter.take() } catch { throw COSEMError.security(error) }
        let f = try HLSGMAC.response(to: serverChallenge, engine: engine, keys: keys, systemTitle: ownSystemTitle,
                                     invocationCounter: ic)
        let action = HLSGMAC.pass3Request(invoke: invoke, response: f).encode()
        return try protect(action, form: CipheringForm(general: false, dedicated: false))
    }

    /// HLS-GMAC pass 4 at the client: deciphers the meter's ACTION-Response and checks f(CtoS) against our
    /// challenge and the meter's title. Returns the decoded response. The counter inside f(CtoS) is not
    /// replay-checked on its own: the enclosing APDU's counter was, and f binds our fresh challenge.
    @discardableResult
    public mutating func hlsPass4(_ bytes: [UInt8], clientChallenge: [UInt8]) throws(COSEMError) -> ActionResponse {
        var copy = bytes
        let deciphered = try unprotect(&copy)
        var r = ByteReader(copy, range: deciphered.plaintext)
        let response = try ActionResponse.decode(from: &r)
        try r.expectEnd()
        let f = try HLSGMAC.meterResponse(in: response)
        guard let title = peerSystemTitle else { throw COSEMError.security(.missingSystemTitle) }
        try HLSGMAC.verify(f, challenge: clientChallenge, engine: engine, keys: keys, systemTitle: title)
        return response
    }
}
