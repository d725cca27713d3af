// Security suite 0 (AES-GCM-128) applied to one APDU, stateless: which key, IV, AAD and tag length each
// security control byte implies. The invocation counters and the policy live in `CipheringContext`.
//   SC 0x30  AAD = SC || AK,             text = ciphertext, tag = GCM tag[0..<12]
//   SC 0x10  AAD = SC || AK || plaintext, text = plaintext,  tag over an empty GCM plaintext
//   SC 0x20  no AAD, no tag,              text = ciphertext (AES-CTR from IV || 00000002)
// IV = sender system title || invocation counter.

/// The keys of one association: the global unicast encryption key, the authentication key, and the
/// dedicated key the client proposed in its AARQ (if any).
public struct SecurityKeys: Hashable, Sendable, CustomStringConvertible {
    public var encryption: SecurityKey
    public var authentication: SecurityKey
    public var dedicated: SecurityKey?

    public init(encryption: SecurityKey, authentication: SecurityKey, dedicated: SecurityKey? = nil) {
        self.encryption = encryption
        self.authentication = authentication
        self.dedicated = dedicated
    }

    /// Never shows key bytes.
    public var description: String {
        "EK, AK" + (dedicated == nil ? "" : " and a dedicated key") + " (hidden)"
    }

    func key(dedicated: Bool) throws(SecurityError) -> SecurityKey {
        guard dedicated else { return encryption }
        guard let key = self.dedicated else { throw SecurityError.missingKey(.dedicated) }
        return key
    }
}

/// The result of deciphering in place: the plaintext APDU is `bytes[plaintext]`.
public struct Deciphered: Hashable, Sendable {
    /// The ciphered APDU as it was received.
    public var apdu: CipheredAPDU
    /// Where the plain APDU now lies in the buffer that was deciphered.
    public var plaintext: Range<Int>
}

/// Suite 0 protection of single APDUs.
public enum Suite0 {
    /// Protects the plain APDU `plain` (its first byte picks the service-specific tag) and returns the ciphered
    /// APDU: `form` picks glo/ded and service-specific/general, `security` the SC (suite 0 only).
    public static func protect<Engine: AESGCMEngine>(
        _ plain: [UInt8], engine: Engine, keys: SecurityKeys, security: SecurityControl, form: CipheringForm,
        systemTitle: SystemTitle, invocationCounter: UInt32
    ) throws(COSEMError) -> [UInt8] {
        guard let first = plain.first else {
            throw COSEMError.truncated(at: 0, needed: 1, remaining: 0, what: "the APDU to protect")
        }
        guard let tag = form.tag(forPlain: first) else {
            throw COSEMError.invalidValue(at: 0, what: "APDU type 0x\(hex(first)) for ciphering (it has no ciphered form)")
        }
        guard security.suite == 0, !security.isCompressed, security.isAuthenticated || security.isEncrypted else {
            throw COSEMError.security(.unsupportedSuite(security))
        }
        // The broadcast key is the meter's to use, never this client's.
        if security.usesBroadcastKey { throw COSEMError.security(.missingKey(.broadcast)) }
        let key: SecurityKey
        do { key = try keys.key(dedicated: form.dedicated) } catch { throw COSEMError.security(error) }
        let tagLength = security.tagLength
        var out: [UInt8] = []
        out.reserveCapacity(plain.count + 32)
        out.append(tag)
        if form.general {
            out.append(8)
            out.appendU64(systemTitle.rawValue)
        }
        out.appendAXDRLength(5 + plain.count + tagLength)
        out.append(security.rawValue)
        out.appendU32(invocationCounter)
        let textStart = out.count
        out.append(contentsOf: plain)
        let tagStart = out.count
        out.append(contentsOf: repeatElement(0, count: tagLength))
        var failure: SecurityError? = nil
        out.withUnsafeMutableBytes { raw in
            do throws(SecurityError) {
                let text = UnsafeMutableRawBufferPointer(rebasing: raw[textStart..<tagStart])
                let tagBytes = UnsafeMutableRawBufferPointer(rebasing: raw[tagStart..<tagStart + tagLength])
                try withInitializationVector(systemTitle, invocationCounter) { (iv) throws(SecurityError) in
                    try withAADHead(security.rawValue, keys.authentication) { (head) throws(SecurityError) in
                        let empty = UnsafeMutableRawBufferPointer(start: nil, count: 0)
                        if security.isEncrypted {
                            try engine.seal(key: key, iv: iv, aad: security.isAuthenticated ? head : UnsafeRawBufferPointer(empty),
                                            aadTail: UnsafeRawBufferPointer(empty), text: text, tag: tagBytes)
                        } else {
                            try engine.seal(key: key, iv: iv, aad: head, aadTail: UnsafeRawBufferPointer(text),
                                            text: empty, tag: tagBytes)
                        }
                    }
                }
            } catch {
                failure = error
            }
        }
        if let failure { throw COSEMError.security(failure) }
        return out
    }

    /// Deciphers `apdu` (parsed from `bytes`) in place and verifies its tag. `senderTitle` is the title of
    /// the peer (from the AARE or the configuration); the one inside a general-ciphering APDU wins.
    /// On a tag mismatch the text is zeroed and `.security(.tagMismatch)` is thrown.
    public static func decipher<Engine: AESGCMEngine>(
        _ bytes: inout [UInt8], _ apdu: CipheredAPDU, engine: Engine, keys: SecurityKeys, senderTitle: SystemTitle?
    ) throws(COSEMError) -> Range<Int> {
        do {
            return try decipherCore(&bytes, apdu, engine: engine, keys: keys, senderTitle: senderTitle)
        } catch {
            throw COSEMError.security(error)
        }
    }

    static func decipherCore<Engine: AESGCMEngine>(
        _ bytes: inout [UInt8], _ apdu: CipheredAPDU, engine: Engine, keys: SecurityKeys, senderTitle: SystemTitle?
    ) throws(SecurityError) -> Range<Int> {
        let security = apdu.security
        if security.isCompressed { throw SecurityError.compressionUnsupported }
        guard security.suite == 0, security.isAuthenticated || security.isEncrypted else {
            throw SecurityError.unsupportedSuite(security)
        }
        if security.usesBroadcastKey { throw SecurityError.missingKey(.broadcast) }
        guard let title = apdu.systemTitle ?? senderTitle else { throw SecurityError.missingSystemTitle }
        let key = try keys.key(dedicated: apdu.isDedicated)
        let textRange = apdu.text
        let tagRange = apdu.authenticationTag
        var failure: SecurityError? = nil
        let verified = bytes.withUnsafeMutableBytes { (raw) -> Bool in
            let text = UnsafeMutableRawBufferPointer(rebasing: raw[textRange])
            let tag = UnsafeRawBufferPointer(rebasing: raw[tagRange])
            do throws(SecurityError) {
            return try withInitializationVector(title, apdu.invocationCounter) { (iv) throws(SecurityError) -> Bool in
                try withAADHead(security.rawValue, keys.authentication) { (head) throws(SecurityError) -> Bool in
                    let empty = UnsafeMutableRawBufferPointer(start: nil, count: 0)
                    if security.isEncrypted {
                        let ok = try engine.open(key: key, iv: iv, aad: security.isAuthenticated ? head : UnsafeRawBufferPointer(empty),
                                                 aadTail: UnsafeRawBufferPointer(empty), text: text, tag: tag)
                        // Never leave unauthenticated plaintext behind in the caller's buffer.
                        if !ok { text.initializeMemory(as: UInt8.self, repeating: 0) }
                        return ok
                    }
                    return try engine.open(key: key, iv: iv, aad: head, aadTail: UnsafeRawBufferPointer(text),
                                           text: empty, tag: tag)
                }
            }
            } catch {
                failure = error
                return false
            }
        }
        if let failure { throw failure }
        guard verified else {
            throw SecurityError.tagMismatch(apduTag: apdu.tag, invocationCounter: apdu.invocationCounter,
                                            key: apdu.isDedicated ? .dedicated : .encryption)
        }
        return textRange
    }
}
