// The association steps with ciphering, for the client: the AARQ with its ciphered InitiateRequest and the
// AARE with the meter's title, challenge and ciphered InitiateResponse. HLS-GMAC pass 3/4 follow in HLSGMAC.swift.

/// What a ciphered AARE told the client.
public struct CipheredAssociationOutcome: Equatable, Sendable {
    /// The meter's answer; `aare.result` and `aare.diagnostic` say whether HLS pass 3 must follow
    /// (accepted with diagnostic 14 "authentication required").
    public var aare: AARE
    /// The deciphered InitiateResponse (nil when the meter rejected without one).
    public var initiateResponse: InitiateResponse?
    /// The meter's HLS challenge StoC, for pass 3.
    public var serverChallenge: [UInt8]?

    /// True when HLS-GMAC pass 3/4 must run before the association may be used.
    public var needsHLSPass3: Bool {
        aare.result == .accepted && aare.diagnostic == .authenticationRequired && serverChallenge != nil
    }
}

extension CipheringContext {
    /// The client's AARQ: context LN-with-ciphering, this side's title, `authentication` (LLS, or HLS-GMAC with
    /// the client's challenge), and `initiate` ciphered with the next counter in the service-specific glo- form.
    /// A dedicated key to propose goes in `initiate.dedicatedKey` (and in `keys.dedicated` for what follows).
    public mutating func associationRequest(authentication: Authentication, initiate: InitiateRequest) throws(COSEMError) -> AARQ {
        if case let .highLevelGMAC(challenge) = authentication { try HLSGMAC.checkChallenge(challenge) }
        var plain: [UInt8] = []
        initiate.encode(into: &plain)
        let ciphered = try protect(plain, form: form(associated: false))
        return AARQ(callingAPTitle: ownSystemTitle, authentication: authentication, cipheredInitiateRequest: ciphered)
    }

    /// Reads the meter's AARE: learns its system title (responding-AP-title, unless one is configured),
    /// deciphers the InitiateResponse (its counter enters the replay guard), and records whether
    /// general-protection was granted. A plain InitiateResponse where ciphering is required is refused.
    public mutating func handleAssociationResponse(_ aare: AARE) throws(COSEMError) -> CipheredAssociationOutcome {
        if peerSystemTitle == nil { peerSystemTitle = aare.respondingAPTitle }
        var response: InitiateResponse? = nil
        switch aare.userInformation {
        case let .ciphered(bytes)?:
            var copy = bytes
            let deciphered = try unprotect(&copy)
            var r = ByteReader(copy, range: deciphered.plaintext)
            let first = try r.peek("the InitiateResponse")
            if first == 0x0E {
                throw COSEMError.confirmedServiceError(try ConfirmedServiceError.decode(from: &r))
            }
            response = try InitiateResponse.decode(from: &r)
            try r.expectEnd()
        case .initiateResponse?:
            throw COSEMError.security(.protectionTooWeak(required: policy.security, received: nil))
        case let .confirmedServiceError(e)?:
            if aare.result == .accepted { throw COSEMError.confirmedServiceError(e) }
        case nil:
            break
        }
        if let response { generalProtectionGranted = response.negotiatedConformance.contains(.generalProtection) }
        return CipheredAssociationOutcome(aare: aare, initiateResponse: response,
                                          serverChallenge: aare.respondingAuthenticationValue)
    }
}
