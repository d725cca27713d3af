// Every field of one APDU, for people: what `dlms-bridge decode` shows beside HDLC's FrameDescription. The
// command only parses its input and renders; what an APDU means (including a ciphered one, deciphered when
// keys are given, with the verdict on its tag) is worked out here.

/// The keys `APDUDescription` deciphers with, and the sender's system title for APDUs that carry none (the
/// service-specific glo-/ded- forms). Titles inside the APDU (general ciphering, AARQ/AARE AP titles) win.
public struct DecipheringKeys<Engine: AESGCMEngine> {
    public var engine: Engine
    public var keys: SecurityKeys
    public var systemTitle: SystemTitle?

    public init(engine: Engine, keys: SecurityKeys, systemTitle: SystemTitle?) {
        self.engine = engine
        self.keys = keys
        self.systemTitle = systemTitle
    }
}

/// What became of a ciphered APDU.
public enum TagVerdict: Equatable, Sendable, CustomStringConvertible {
    /// No keys were given: the ciphered part is shown as it is.
    case notChecked
    /// Deciphered, and the 12-byte tag verifies.
    case verified
    /// Deciphered, but SC 0x20 carries no tag: nothing proves who sent it.
    case noTag
    /// Deciphering failed (the tag does not verify, a key or title is missing...).
    case failed(SecurityError)

    public var description: String {
        switch self {
        case .notChecked: return "not deciphered: no keys given (--ek, --ak, --system-title)"
        case .verified: return "deciphered, the tag verifies"
        case .noTag: return "deciphered (SC 0x20: no tag, authenticity not checked)"
        case let .failed(error): return error.description
        }
    }
}

/// A described APDU: its decoded form (or the error that stopped decoding), one line per field, the
/// ciphering layer when there is one, and the bytes never to print (an AARQ's password).
public struct APDUDescription: Sendable, CustomStringConvertible {
    /// The first bytes of every APDU this layer describes (plain, ciphered, and other xDLMS ones it names).
    public static let knownTags: Set<UInt8> = [
        0x60, 0x61, 0x62, 0x63, 0xC0, 0xC1, 0xC3, 0xC4, 0xC5, 0xC7, 0xD8, 0x0E,
        0xC8, 0xC9, 0xCA, 0xCB, 0xCC, 0xCD, 0xCF, 0xD0, 0xD1, 0xD2, 0xD3, 0xD4, 0xD5, 0xD7,
        0xDB, 0xDC, 0xDD, 0xDF, 0xE0,
    ]

    /// The bytes described.
    public var bytes: [UInt8]
    /// The plain APDU (deciphered first when it was ciphered and keys were given); nil when it could not be
    /// decoded (see `error`) or stays ciphered.
    public var apdu: APDU?
    /// What stopped decoding or deciphering; nil when everything checked out.
    public var error: COSEMError?
    /// The ciphered layer, when the APDU is one.
    public var ciphered: CipheredAPDU?
    public var verdict: TagVerdict?
    /// The plaintext, when deciphered.
    public var plaintext: [UInt8]?
    /// Indices within `bytes` never to print (an AARQ's password).
    public var hidden: Set<Int>
    /// One line per field (`application context 1 (LN, no ciphering)`), without the type name.
    public var lines: [String]

    /// True when decoding (and deciphering, when keys were given) succeeded.
    public var isValid: Bool { error == nil }

    /// `GET-Response-Normal`, `glo-get-request`, or `APDU 0xNN` when nothing was decoded.
    public var name: String {
        if let apdu { return ciphered == nil ? apdu.name : CipheringTags.name(of: bytes[0]) + " (" + apdu.name + ")" }
        if bytes.first.map(CipheringTags.isCiphered) ?? false { return CipheringTags.name(of: bytes[0]) }
        return bytes.first.map { "APDU 0x" + hex($0) } ?? "empty APDU"
    }

    /// Describes plain APDUs only (ciphered ones are shown as they are).
    public init(_ bytes: [UInt8]) {
        self.init(bytes, deciphering: DecipheringKeys<NoEngine>?.none)
    }

    /// Describes `bytes`, deciphering ciphered APDUs and ciphered AARQ/AARE user information with `keys`.
    public init<Engine: AESGCMEngine>(_ bytes: [UInt8], deciphering keys: DecipheringKeys<Engine>?) {
        self.bytes = bytes
        hidden = Self.passwordRange(bytes).map { Set($0) } ?? []
        lines = []
        guard let first = bytes.first else {
            error = .truncated(at: 0, needed: 1, remaining: 0, what: "an APDU")
            return
        }
        if CipheringTags.isCiphered(first) {
            describeCiphered(keys)
            return
        }
        do throws(COSEMError) {
            let decoded = try APDU.decode(bytes)
            apdu = decoded
            lines = Self.details(decoded)
            try describeCipheredUserInformation(decoded, keys)
        } catch {
            self.error = error
        }
    }

    mutating func describeCiphered<Engine: AESGCMEngine>(_ keys: DecipheringKeys<Engine>?) {
        let layout: CipheredAPDU
        do throws(COSEMError) {
            layout = try CipheredAPDU.parse(bytes)
            if layout.end < bytes.count { throw COSEMError.trailingBytes(at: layout.end, count: bytes.count - layout.end) }
        } catch {
            self.error = error
            return
        }
        ciphered = layout
        lines.append("security \(layout.security)")
        lines.append("invocation counter \(layout.invocationCounter)")
        if let title = layout.systemTitle { lines.append("system title \(title)") }
        lines.append("\(layout.text.count) bytes of " + (layout.security.isEncrypted ? "ciphertext" : "plaintext")
            + (layout.security.isAuthenticated ? ", 12-byte tag" : ", no tag"))
        guard let keys else {
            verdict = .notChecked
            lines.append(TagVerdict.notChecked.description)
            return
        }
        var copy = bytes
        do throws(COSEMError) {
            let range = try Suite0.decipher(&copy, layout, engine: keys.engine, keys: keys.keys, senderTitle: keys.systemTitle)
            let plain = Array(copy[range])
            plaintext = plain
            verdict = layout.security.isAuthenticated ? .verified : .noTag
            lines.append(verdict!.description)
            lines.append("plain APDU " + compactHex(plain))
            let inner = try APDU.decode(plain)
            apdu = inner
            lines += Self.details(inner)
        } catch {
            // The failure itself is `error` (the command shows it once, as the reason the APDU is invalid).
            if case let .security(reason) = error { verdict = .failed(reason) }
            self.error = error
        }
    }

    /// An AARQ's or AARE's ciphered InitiateRequest/Response, deciphered with the AP title it carries.
    mutating func describeCipheredUserInformation<Engine: AESGCMEngine>(
        _ decoded: APDU, _ keys: DecipheringKeys<Engine>?
    ) throws(COSEMError) {
        let inner: [UInt8]
        let title: SystemTitle?
        switch decoded {
        case let .aarq(a):
            guard case let .ciphered(bytes) = a.userInformation else { return }
            inner = bytes
            title = a.callingAPTitle
        case let .aare(a):
            guard case let .ciphered(bytes)? = a.userInformation else { return }
            inner = bytes
            title = a.respondingAPTitle
        default:
            return
        }
        let layout = try CipheredAPDU.parse(inner)
        lines.append("ciphered user information: " + layout.description)
        guard let keys else {
            lines.append(TagVerdict.notChecked.description)
            return
        }
        var copy = inner
        do throws(COSEMError) {
            let range = try Suite0.decipher(&copy, layout, engine: keys.engine, keys: keys.keys,
                                            senderTitle: title ?? keys.systemTitle)
            verdict = layout.security.isAuthenticated ? .verified : .noTag
            lines.append(verdict!.description)
            var r = ByteReader(copy, range: range)
            if copy[range.lowerBound] == 0x01 {
                let request = try InitiateRequest.decode(from: &r)
                lines.append("proposed conformance \(request.proposedConformance)")
                lines.append("client max receive PDU \(request.clientMaxReceivePDUSize)")
                lines.append("DLMS version \(request.dlmsVersion)")
                if request.dedicatedKey != nil { lines.append("dedicated key proposed (hidden)") }
            } else {
                let response = try InitiateResponse.decode(from: &r)
                lines.append("granted conformance \(response.negotiatedConformance)")
                lines.append("server max receive PDU \(response.serverMaxReceivePDUSize)")
            }
        } catch {
            if case let .security(reason) = error { verdict = .failed(reason) }
            throw error
        }
    }

    /// One line per field of a plain APDU, more than `APDU.description`'s single line. Passwords are masked.
    public static func details(_ apdu: APDU) -> [String] {
        switch apdu {
        case let .aarq(a):
            var lines = ["application context \(a.applicationContext.rawValue) (\(a.applicationContext.name))"]
            switch a.authentication {
            case .none: lines.append("authentication none")
            case let .lowLevel(password):
                lines.append("authentication LLS, password " + String(repeating: "*", count: password.count)
                    + " (\(password.count) bytes, masked)")
            case .highLevelGMAC, .other: lines.append("authentication " + a.authentication.summary)
            }
            if let title = a.callingAPTitle { lines.append("client system title \(title)") }
            if case let .initiateRequest(r) = a.userInformation {
                lines.append("proposed conformance \(r.proposedConformance)")
                lines.append("client max receive PDU \(r.clientMaxReceivePDUSize)")
                lines.append("DLMS version \(r.dlmsVersion)")
            }
            return lines
        case let .aare(a):
            var lines = ["result \(a.result.rawValue) (\(a.result.name))",
                         "diagnostic \(a.diagnostic.rawValue) (\(a.diagnostic.name))"]
            if let advice = a.diagnostic.advice(clientSAP: nil), a.result != .accepted { lines.append("advice " + advice) }
            switch a.userInformation {
            case let .initiateResponse(r)?:
                lines.append("granted conformance \(r.negotiatedConformance)")
                lines.append("server max receive PDU \(r.serverMaxReceivePDUSize)")
            case let .confirmedServiceError(e)?: lines.append(e.description)
            case .ciphered?: break  // described by describeCipheredUserInformation
            case nil: lines.append("no user information")
            }
            if let title = a.respondingAPTitle { lines.append("meter system title \(title)") }
            if let challenge = a.respondingAuthenticationValue { lines.append("HLS challenge StoC of \(challenge.count) bytes") }
            return lines
        default:
            return [descriptionBody(apdu)]
        }
    }

    /// `APDU.description` without the leading name (the name is shown on its own line).
    public static func descriptionBody(_ apdu: APDU) -> String {
        let text = apdu.description
        let name = apdu.name
        if text.hasPrefix(name) {
            var rest = text.dropFirst(name.count)
            while rest.first == " " || rest.first == ":" { rest = rest.dropFirst() }
            return String(rest)
        }
        return text
    }

    /// Where an AARQ carries its password (`AC len 80 len <password>`), found by walking the BER elements, so
    /// it is hidden even when the rest of the AARQ does not decode.
    public static func passwordRange(_ b: [UInt8]) -> Range<Int>? {
        guard b.count > 2, b[0] == 0x60 else { return nil }
        func length(_ at: Int) -> (value: Int, used: Int)? {
            guard at < b.count else { return nil }
            if b[at] < 0x80 { return (Int(b[at]), 1) }
            let n = Int(b[at] & 0x7F)
            guard n >= 1, n <= 2, at + n < b.count else { return nil }
            var v = 0
            for i in 1...n { v = v << 8 | Int(b[at + i]) }
            return (v, n + 1)
        }
        guard let outer = length(1) else { return nil }
        var p = 1 + outer.used
        while p + 1 < b.count {
            let tag = b[p]
            guard let element = length(p + 1) else { return nil }
            let value = p + 1 + element.used
            if tag == 0xAC {
                // calling-authentication-value: [0] GraphicString (80) or another choice; hide the whole value.
                if value + 1 < b.count, let inner = length(value + 1) {
                    let start = value + 1 + inner.used
                    return start..<Swift.min(b.count, start + inner.value)
                }
                return value..<Swift.min(b.count, value + element.value)
            }
            p = value + element.value
        }
        return nil
    }

    /// `glo-get-request (GET-Request-Normal): ...` in one line.
    public var description: String {
        ([name] + lines).joined(separator: "; ")
    }
}

/// The engine type of `APDUDescription(_:)`, which never deciphers.
public struct NoEngine: AESGCMEngine {
    public func seal(key: SecurityKey, iv: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer,
                     aadTail: UnsafeRawBufferPointer, text: UnsafeMutableRawBufferPointer,
                     tag: UnsafeMutableRawBufferPointer) throws(SecurityError) {
        throw SecurityError.cipherFailure("no AES-GCM engine")
    }

    public func open(key: SecurityKey, iv: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer,
                     aadTail: UnsafeRawBufferPointer, text: UnsafeMutableRawBufferPointer,
                     tag: UnsafeRawBufferPointer) throws(SecurityError) -> Bool {
        throw SecurityError.cipherFailure("no AES-GCM engine")
    }
}

extension COSEMError {
    /// The byte offset (in the APDU) the error names, if any.
    public var byteOffset: Int? {
        switch self {
        case let .truncated(at, _, _, _), let .lengthExceedsInput(at, _, _), let .invalidLengthForm(at, _),
             let .unknownDataTag(at, _), let .nestingTooDeep(at, _), let .tooManyElements(at, _, _),
             let .valueTooLarge(at, _, _), let .trailingBytes(at, _), let .unexpectedTag(at, _, _, _),
             let .invalidValue(at, _):
            return at
        case .unknownAPDU: return 0
        default: return nil
        }
    }
}
