// The association control APDUs (AARQ, AARE, RLRQ, RLRE) of IEC 62056-5-3 §9.3, BER-encoded, carrying the
// A-XDR xDLMS InitiateRequest/InitiateResponse in their user-information field.
//
// AARQ ::= [APPLICATION 0] IMPLICIT SEQUENCE {
//   application-context-name [1] (A1 09 06 07 60 85 74 05 08 01 xx),
//   sender-acse-requirements [10] IMPLICIT BIT STRING OPTIONAL (8A 02 07 80: authentication),
//   calling-AP-title [6] (A6 0A 04 08 <client system title>, with ciphering),
//   mechanism-name [11] IMPLICIT OBJECT IDENTIFIER OPTIONAL (8B 07 60 85 74 05 08 02 xx),
//   calling-authentication-value [12] EXPLICIT CHOICE { charstring [0] } OPTIONAL (AC len 80 len <password
//     or HLS challenge CtoS>),
//   user-information [30] EXPLICIT OCTET STRING OPTIONAL (BE len 04 len <InitiateRequest, or a
//     glo-/ded-initiate-request 21/41 with ciphering>) }
// AARE ::= [APPLICATION 1] { application-context-name [1], result [2] (A2 03 02 01 r),
//   result-source-diagnostic [3] (A3 05 A1|A2 03 02 01 d), responding-AP-title [4] (A4 0A 04 08 <title>),
//   responder-acse-requirements [8], mechanism-name [9], responding-authentication-value [10] (AA len 80 len
//   <StoC>), user-information [30] }

/// The application context name (last byte of `60 85 74 05 08 01 xx`).
public struct ApplicationContextName: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// Logical-name referencing, no ciphering (the one this agent uses).
    public static let logicalNameNoCiphering = ApplicationContextName(rawValue: 1)
    public static let shortNameNoCiphering = ApplicationContextName(rawValue: 2)
    public static let logicalNameWithCiphering = ApplicationContextName(rawValue: 3)
    public static let shortNameWithCiphering = ApplicationContextName(rawValue: 4)

    static let prefix: [UInt8] = [0x60, 0x85, 0x74, 0x05, 0x08, 0x01]

    public var name: String {
        switch rawValue {
        case 1: return "LN, no ciphering"
        case 2: return "SN, no ciphering"
        case 3: return "LN, ciphered"
        case 4: return "SN, ciphered"
        default: return "context \(rawValue)"
        }
    }
}

/// The authentication mechanism (last byte of `60 85 74 05 08 02 xx`).
public struct MechanismName: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let none = MechanismName(rawValue: 0)
    public static let lowLevel = MechanismName(rawValue: 1)
    public static let highLevel = MechanismName(rawValue: 2)
    public static let highLevelMD5 = MechanismName(rawValue: 3)
    public static let highLevelSHA1 = MechanismName(rawValue: 4)
    public static let highLevelGMAC = MechanismName(rawValue: 5)

    static let prefix: [UInt8] = [0x60, 0x85, 0x74, 0x05, 0x08, 0x02]
}

/// How the client authenticates in the AARQ.
public enum Authentication: Hashable, Sendable {
    /// Lowest security: no password (the public client, SAP 16).
    case none
    /// Low-level security: a password of any length, sent in clear.
    case lowLevel(password: [UInt8])
    /// High-level security with GMAC (mechanism 5): the client's challenge CtoS (8 to 64 random bytes).
    case highLevelGMAC(challenge: [UInt8])
    /// Another mechanism, as decoded (HLS 2/3/4...): its calling authentication value.
    case other(mechanism: MechanismName, value: [UInt8])

    /// The mechanism name that travels in the AARQ (`none` when absent).
    public var mechanism: MechanismName {
        switch self {
        case .none: return .none
        case .lowLevel: return .lowLevel
        case .highLevelGMAC: return .highLevelGMAC
        case let .other(mechanism, _): return mechanism
        }
    }

    /// The calling authentication value (password or challenge); nil without authentication.
    var value: [UInt8]? {
        switch self {
        case .none: return nil
        case let .lowLevel(password): return password
        case let .highLevelGMAC(challenge): return challenge
        case let .other(_, value): return value
        }
    }

    /// `LLS password of 8 bytes`: never the password itself.
    public var summary: String {
        switch self {
        case .none: return "no authentication"
        case let .lowLevel(password): return "LLS password of \(password.count) bytes"
        case let .highLevelGMAC(challenge): return "HLS-GMAC, challenge of \(challenge.count) bytes"
        case let .other(mechanism, value): return "mechanism \(mechanism.rawValue), value of \(value.count) bytes"
        }
    }
}

/// The AARQ's user information: an InitiateRequest in clear, or a ciphered one (glo-/ded-initiate-request).
public enum AARQUserInformation: Hashable, Sendable {
    case initiateRequest(InitiateRequest)
    /// The ciphered APDU as it travels (`21 ...` or `41 ...`); `CipheringContext` deciphers it.
    case ciphered([UInt8])
}

/// Appends `A6|A4 0A 04 08 <title>` (an AP title as a BER OCTET STRING in a constructed tag).
func appendAPTitle(_ title: SystemTitle, tag: UInt8, to body: inout [UInt8]) {
    body.append(contentsOf: [tag, 0x0A, 0x04, 0x08])
    body.appendU64(title.rawValue)
}

/// Reads the content of an AP title field (`04 08 <title>`); other lengths are rejected.
func decodeAPTitle(_ content: inout ByteReader, _ what: String) throws(COSEMError) -> SystemTitle {
    var octets = try content.berElement(expecting: 0x04, what)
    let at = octets.offset
    guard octets.remaining == 8 else {
        throw COSEMError.invalidValue(at: at, what: what + " of \(octets.remaining) bytes (a system title has 8)")
    }
    return SystemTitle(rawValue: try octets.u64(what))
}

// MARK: - BER helpers

extension Array where Element == UInt8 {
    /// Appends a BER definite length (short form below 128, else 81 xx / 82 xx xx).
    mutating func appendBERLength(_ n: Int) {
        if n < 0x80 { append(UInt8(n)) } else if n <= 0xFF { append(0x81); append(UInt8(n)) } else {
            append(0x82); appendU16(UInt16(truncatingIfNeeded: n))
        }
    }

    mutating func appendBER(tag: UInt8, _ content: [UInt8]) {
        append(tag)
        appendBERLength(content.count)
        append(contentsOf: content)
    }
}

extension ByteReader {
    /// Reads a BER tag and definite length and returns a reader over the content.
    mutating func berElement(_ what: String) throws(COSEMError) -> (tag: UInt8, content: ByteReader) {
        let tag = try u8(what)
        let lenAt = offset
        let len = try axdrLength()  // BER definite lengths share the 1/81/82/84 forms
        if len > remaining { throw COSEMError.lengthExceedsInput(at: lenAt, declared: len, remaining: remaining) }
        return (tag, try sub(len, what))
    }

    /// Reads an element with the expected tag.
    mutating func berElement(expecting tag: UInt8, _ what: String) throws(COSEMError) -> ByteReader {
        let at = offset
        let found = try peek(what)
        guard found == tag else { throw COSEMError.unexpectedTag(at: at, expected: tag, found: found, what: what) }
        return try berElement(what).content
    }

    /// `06 07 60 85 74 05 08 kk vv`: returns vv after checking the 6-byte prefix.
    mutating func dlmsObjectIdentifier(prefix: [UInt8], _ what: String) throws(COSEMError) -> UInt8 {
        var oid = try berElement(expecting: 0x06, what)
        let at = oid.offset
        let bytes = try oid.bytes(oid.remaining, what)
        guard bytes.count == 7, Array(bytes[0..<6]) == prefix else {
            throw COSEMError.invalidValue(at: at, what: what + " (not a DLMS UA object identifier)")
        }
        return bytes[6]
    }

    /// `02 01 v` INTEGER of one byte (longer integers are accepted and their last byte returned when small).
    mutating func berSmallInteger(_ what: String) throws(COSEMError) -> UInt8 {
        var i = try berElement(expecting: 0x02, what)
        let at = i.offset
        guard i.remaining >= 1 else { throw COSEMError.invalidValue(at: at, what: what) }
        var v = 0
        while !i.isAtEnd {
            v = v << 8 | Int(try i.u8(what))
            if v > 255 { throw COSEMError.invalidValue(at: at, what: what) }
        }
        return UInt8(v)
    }
}

// MARK: - AARQ

/// The association request a client sends (AARQ, tag `60`).
public struct AARQ: Hashable, Sendable {
    public var applicationContext: ApplicationContextName
    /// The client's system title (calling-AP-title), sent with ciphering.
    public var callingAPTitle: SystemTitle?
    public var authentication: Authentication
    public var userInformation: AARQUserInformation

    public init(authentication: Authentication = .none,
                proposedConformance: Conformance = .usualClientProposal,
                maxReceivePDUSize: UInt16 = 0xFFFF,
                applicationContext: ApplicationContextName = .logicalNameNoCiphering) {
        self.applicationContext = applicationContext
        self.authentication = authentication
        self.userInformation = .initiateRequest(InitiateRequest(proposedConformance: proposedConformance,
                                                                clientMaxReceivePDUSize: maxReceivePDUSize))
    }

    public init(applicationContext: ApplicationContextName, authentication: Authentication,
                initiateRequest: InitiateRequest) {
        self.applicationContext = applicationContext
        self.authentication = authentication
        self.userInformation = .initiateRequest(initiateRequest)
    }

    /// A ciphered AARQ: context `03` (LN with ciphering), the client title, and `cipheredInitiateRequest`
    /// (a glo-/ded-initiate-request built by `CipheringContext.protect`).
    public init(callingAPTitle: SystemTitle, authentication: Authentication, cipheredInitiateRequest: [UInt8],
                applicationContext: ApplicationContextName = .logicalNameWithCiphering) {
        self.applicationContext = applicationContext
        self.callingAPTitle = callingAPTitle
        self.authentication = authentication
        self.userInformation = .ciphered(cipheredInitiateRequest)
    }

    /// The InitiateRequest in clear. For a ciphered AARQ (until it is deciphered and set here) this is
    /// `InitiateRequest.unknown` (DLMS version 0, nothing proposed), which every meter-side check refuses.
    public var initiateRequest: InitiateRequest {
        get {
            if case let .initiateRequest(r) = userInformation { return r }
            return .unknown
        }
        set { userInformation = .initiateRequest(newValue) }
    }

    /// The mechanism the authentication implies.
    public var mechanism: MechanismName { authentication.mechanism }

    /// The BER bytes, starting with `60`.
    public func encode() -> [UInt8] {
        var body: [UInt8] = []
        body.appendBER(tag: 0xA1, [0x06, 0x07] + ApplicationContextName.prefix + [applicationContext.rawValue])
        if let callingAPTitle { appendAPTitle(callingAPTitle, tag: 0xA6, to: &body) }
        if let value = authentication.value {
            body.append(contentsOf: [0x8A, 0x02, 0x07, 0x80])
            body.appendBER(tag: 0x8B, MechanismName.prefix + [authentication.mechanism.rawValue])
            var element: [UInt8] = []
            element.appendBER(tag: 0x80, value)
            body.appendBER(tag: 0xAC, element)
        }
        var initiate: [UInt8] = []
        switch userInformation {
        case let .initiateRequest(r): r.encode(into: &initiate)
        case let .ciphered(bytes): initiate = bytes
        }
        var octets: [UInt8] = []
        octets.appendBER(tag: 0x04, initiate)
        body.appendBER(tag: 0xBE, octets)
        var out: [UInt8] = []
        out.appendBER(tag: 0x60, body)
        return out
    }

    /// Decodes an AARQ (the meter's side). Unknown optional fields are skipped; a ciphered InitiateRequest is
    /// kept as it travels (`userInformation == .ciphered`).
    public static func decode(_ bytes: [UInt8]) throws(COSEMError) -> AARQ {
        var r = ByteReader(bytes)
        let t = try r.peek("the AARQ tag")
        guard t == 0x60 else { throw COSEMError.unexpectedTag(at: 0, expected: 0x60, found: t, what: "AARQ") }
        var body = try r.berElement("the AARQ").content
        try r.expectEnd()
        var context: ApplicationContextName? = nil
        var title: SystemTitle? = nil
        var mechanism = MechanismName.none
        var value: [UInt8]? = nil
        var user: AARQUserInformation? = nil
        while !body.isAtEnd {
            var (tag, content) = try body.berElement("an AARQ field")
            switch tag {
            case 0xA1:
                context = ApplicationContextName(
                    rawValue: try content.dlmsObjectIdentifier(prefix: ApplicationContextName.prefix,
                                                               "the application context name"))
            case 0xA6:
                title = try decodeAPTitle(&content, "the calling AP title")
            case 0x8B:
                let oidAt = content.offset
                let oid = try content.bytes(content.remaining, "the mechanism name")
                guard oid.count == 7, Array(oid[0..<6]) == MechanismName.prefix else {
                    throw COSEMError.invalidValue(at: oidAt, what: "mechanism name")
                }
                mechanism = MechanismName(rawValue: oid[6])
            case 0xAC:
                var element = try content.berElement(expecting: 0x80, "the calling authentication value")
                value = try element.bytes(element.remaining, "the calling authentication value")
            case 0xBE:
                var octets = try content.berElement(expecting: 0x04, "the AARQ user information")
                let first = try octets.peek("the AARQ user information")
                if CipheringTags.isCiphered(first) {
                    user = .ciphered(try octets.bytes(octets.remaining, "the ciphered InitiateRequest"))
                } else {
                    user = .initiateRequest(try InitiateRequest.decode(from: &octets))
                }
            default:
                break  // other fields (AE qualifiers, implementation information) are not needed by this agent
            }
        }
        guard let context else {
            throw COSEMError.invalidValue(at: 2, what: "AARQ without application context name")
        }
        guard let user else {
            throw COSEMError.invalidValue(at: 2, what: "AARQ without user information (InitiateRequest)")
        }
        let auth: Authentication
        switch (mechanism, value) {
        case let (.lowLevel, value?): auth = .lowLevel(password: value)
        case let (.highLevelGMAC, value?): auth = .highLevelGMAC(challenge: value)
        case (.none, _), (_, nil): auth = .none  // a value without a mechanism name authenticates nothing
        case let (other, value?): auth = .other(mechanism: other, value: value)
        }
        var aarq = AARQ(applicationContext: context, authentication: auth, initiateRequest: .unknown)
        aarq.userInformation = user
        aarq.callingAPTitle = title
        return aarq
    }
}
