// The framing of ciphered xDLMS APDUs (IEC 62056-5-3 §9.5, Green Book security):
//   service-specific glo-/ded-   <tag> <len> SC IC(4) <ciphertext or plaintext> <tag 12, when authenticated>
//   general-glo/ded-ciphering    DB|DC <title len: 08 or 00> <title 8> <len> SC IC(4) <text> <tag 12>
// <len> is an A-XDR length (1 byte below 0x80, else 81 nn / 82 nnnn). Parsing records where each part is in
// the caller's buffer instead of copying it, so a response can be deciphered in place and decoded from there.

/// The ciphered forms of an xDLMS APDU: which plain APDU each service-specific tag carries.
public enum CipheringTags {
    // (plain, global, dedicated): glo- tags are the plain tag + 8, ded- tags + 16 for the services, and
    // the initiate APDUs (inside AARQ/AARE) + 0x20 / + 0x40.
    static let table: [(plain: UInt8, global: UInt8, dedicated: UInt8)] = [
        (0xC0, 0xC8, 0xD0),  // get-request
        (0xC4, 0xCC, 0xD4),  // get-response
        (0xC1, 0xC9, 0xD1),  // set-request
        (0xC5, 0xCD, 0xD5),  // set-response
        (0xC3, 0xCB, 0xD3),  // action-request
        (0xC7, 0xCF, 0xD7),  // action-response
        (0xC2, 0xCA, 0xD2),  // event-notification-request
        (0x01, 0x21, 0x41),  // initiate-request
        (0x08, 0x28, 0x48),  // initiate-response
        (0x0E, 0x2E, 0x4E),  // confirmed-service-error
    ]

    /// general-glo-ciphering.
    public static let generalGlobal: UInt8 = 0xDB
    /// general-ded-ciphering.
    public static let generalDedicated: UInt8 = 0xDC

    /// The service-specific ciphered tag for a plain APDU tag; nil when the APDU has no ciphered form.
    public static func cipheredTag(forPlain plain: UInt8, dedicated: Bool) -> UInt8? {
        for row in table where row.plain == plain { return dedicated ? row.dedicated : row.global }
        return nil
    }

    /// The plain tag a service-specific ciphered tag carries, and whether it uses the dedicated key.
    public static func plainTag(forCiphered tag: UInt8) -> (plain: UInt8, dedicated: Bool)? {
        for row in table {
            if row.global == tag { return (row.plain, false) }
            if row.dedicated == tag { return (row.plain, true) }
        }
        return nil
    }

    /// True for every tag `CipheredAPDU.parse` accepts.
    public static func isCiphered(_ tag: UInt8) -> Bool {
        tag == generalGlobal || tag == generalDedicated || plainTag(forCiphered: tag) != nil
    }

    /// `glo-get-request`, `ded-action-response`, `general-glo-ciphering`.
    public static func name(of tag: UInt8) -> String {
        if tag == generalGlobal { return "general-glo-ciphering" }
        if tag == generalDedicated { return "general-ded-ciphering" }
        guard let found = plainTag(forCiphered: tag) else { return "APDU 0x" + hex(tag) }
        let service: String
        switch found.plain {
        case 0xC0: service = "get-request"
        case 0xC4: service = "get-response"
        case 0xC1: service = "set-request"
        case 0xC5: service = "set-response"
        case 0xC3: service = "action-request"
        case 0xC7: service = "action-response"
        case 0xC2: service = "event-notification-request"
        case 0x01: service = "initiate-request"
        case 0x08: service = "initiate-response"
        default: service = "confirmed-service-error"
        }
        return (found.dedicated ? "ded-" : "glo-") + service
    }
}

/// Where the parts of one ciphered APDU lie in the buffer it was parsed from (nothing is copied).
public struct CipheredAPDU: Hashable, Sendable, CustomStringConvertible {
    /// The wire tag (`C8`, `D0`, `DB`, ...).
    public var tag: UInt8
    /// The plain APDU tag a service-specific form announces; nil for general-glo/ded-ciphering.
    public var plainTag: UInt8?
    /// Whether the dedicated key protects it (ded- tags and general-ded-ciphering).
    public var isDedicated: Bool
    /// The sender's system title carried by general-glo/ded-ciphering; nil when absent or empty.
    public var systemTitle: SystemTitle?
    public var security: SecurityControl
    public var invocationCounter: UInt32
    /// The ciphertext (the plaintext under SC `0x10`).
    public var text: Range<Int>
    /// The 12-byte authentication tag; empty when the SC has no authentication.
    public var authenticationTag: Range<Int>
    /// The index after the last byte of this APDU.
    public var end: Int

    public var isGeneral: Bool { plainTag == nil }

    /// `glo-get-request, SC 0x30 (...), IC 19088743, 13 bytes of ciphertext, tag 12 bytes`.
    public var description: String {
        var text = CipheringTags.name(of: tag)
        if let systemTitle { text += ", system title \(systemTitle)" }
        text += ", SC \(security), IC \(invocationCounter)"
        text += ", \(self.text.count) bytes of " + (security.isEncrypted ? "ciphertext" : "plaintext")
        text += security.isAuthenticated ? ", 12-byte tag" : ", no tag"
        return text
    }

    /// Parses the ciphered APDU that starts at `start`; the caller checks `end` against its own bounds.
    public static func parse(_ bytes: [UInt8], at start: Int = 0) throws(COSEMError) -> CipheredAPDU {
        var r = ByteReader(bytes, range: start..<bytes.count)
        let tagAt = r.offset
        let tag = try r.u8("the ciphered APDU tag")
        var plainTag: UInt8? = nil
        var dedicated = false
        var title: SystemTitle? = nil
        if tag == CipheringTags.generalGlobal || tag == CipheringTags.generalDedicated {
            dedicated = tag == CipheringTags.generalDedicated
            let lengthAt = r.offset
            let titleLength = try r.axdrLength()
            switch titleLength {
            case 0: break
            case 8: title = SystemTitle(rawValue: try r.u64("the system title"))
            default:
                throw COSEMError.invalidValue(at: lengthAt, what: "system title length \(titleLength) (must be 8 or 0)")
            }
        } else if let found = CipheringTags.plainTag(forCiphered: tag) {
            plainTag = found.plain
            dedicated = found.dedicated
        } else {
            throw COSEMError.unexpectedTag(at: tagAt, expected: 0xDB, found: tag, what: "ciphered APDU")
        }
        let lengthAt = r.offset
        let length = try r.axdrLength()
        if length > r.remaining {
            throw COSEMError.lengthExceedsInput(at: lengthAt, declared: length, remaining: r.remaining)
        }
        let contentStart = r.position
        let security = SecurityControl(rawValue: try r.u8("the security control byte"))
        let counter = try r.u32("the invocation counter")
        let textCount = length - 5 - security.tagLength
        if textCount < 0 {
            throw COSEMError.invalidValue(
                at: lengthAt, what: "ciphered content length \(length) (SC 0x\(hex(security.rawValue)) needs at least "
                    + "\(5 + security.tagLength) bytes)")
        }
        let textStart = r.position
        let end = contentStart + length
        return CipheredAPDU(
            tag: tag, plainTag: plainTag, isDedicated: dedicated, systemTitle: title, security: security,
            invocationCounter: counter, text: textStart..<textStart + textCount,
            authenticationTag: textStart + textCount..<end, end: end)
    }
}

/// Which ciphered form a sender uses.
public struct CipheringForm: Hashable, Sendable, CustomStringConvertible {
    /// general-glo/ded-ciphering (`DB`/`DC`, with the system title) instead of the service-specific tag.
    public var general: Bool
    /// The dedicated key (ded- tags, `DC`) instead of the global encryption key.
    public var dedicated: Bool

    public init(general: Bool = false, dedicated: Bool = false) {
        self.general = general
        self.dedicated = dedicated
    }

    public static let global = CipheringForm()
    public static let generalGlobal = CipheringForm(general: true)

    public var description: String {
        (general ? "general-" : "service-specific ") + (dedicated ? "ded" : "glo") + " ciphering"
    }

    /// The wire tag for a plain APDU starting with `plainTag`; nil when the service has no ciphered form.
    public func tag(forPlain plainTag: UInt8) -> UInt8? {
        if general { return dedicated ? CipheringTags.generalDedicated : CipheringTags.generalGlobal }
        return CipheringTags.cipheredTag(forPlain: plainTag, dedicated: dedicated)
    }
}
