// The association control APDUs (AARQ, AARE, RLRQ, RLRE) of IEC 62056-5-3 §9.3, BER-encoded, carrying the
// A-XDR xDLMS InitiateRequest/InitiateResponse in their user-information field.
//
// AARQ ::= [APPLICATION 0] IMPLICIT SEQUENCE {
//   application-context-name [1] (A1 09 06 07 60 85 74 05 08 01 xx),
//   sender-acse-requirements [10] IMPLICIT BIT STRING OPTIONAL (8A 02 07 80: authentication),
//   mechanism-name [11] IMPLICIT OBJECT IDENTIFIER OPTIONAL (8B 07 60 85 74 05 08 02 xx),
//   calling-authentication-value [12] EXPLICIT CHOICE { charstring [0] } OPTIONAL (AC len 80 len <password>),
//   user-information [30] EXPLICIT OCTET STRING OPTIONAL (BE len 04 len <InitiateRequest>) }
// AARE ::= [APPLICATION 1] { application-context-name [1], result [2] (A2 03 02 01 r),
//   result-source-diagnostic [3] (A3 05 A1|A2 03 02 01 d), responder-acse-requirements [8],
//   mechanism-name [9], responding-authentication-value [10], user-information [30] }

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
}

/// xDLMS InitiateRequest (the AARQ's user information), A-XDR:
/// `01 <dedicated-key opt> <response-allowed opt> <quality-of-service opt> <version> 5F 1F 04 00 <conf 3> <max PDU 2>`.
public struct InitiateRequest: Hashable, Sendable {
    public var dedicatedKey: [UInt8]?
    public var responseAllowed: Bool
    public var proposedQualityOfService: UInt8?
    public var dlmsVersion: UInt8
    public var proposedConformance: Conformance
    public var clientMaxReceivePDUSize: UInt16

    public init(proposedConformance: Conformance, clientMaxReceivePDUSize: UInt16, dlmsVersion: UInt8 = 6,
                dedicatedKey: [UInt8]? = nil, responseAllowed: Bool = true, proposedQualityOfService: UInt8? = nil) {
        self.dedicatedKey = dedicatedKey
        self.responseAllowed = responseAllowed
        self.proposedQualityOfService = proposedQualityOfService
        self.dlmsVersion = dlmsVersion
        self.proposedConformance = proposedConformance
        self.clientMaxReceivePDUSize = clientMaxReceivePDUSize
    }

    public func encode(into out: inout [UInt8]) {
        out.append(0x01)
        if let key = dedicatedKey {
            out.append(0x01); out.appendAXDRLength(key.count); out.append(contentsOf: key)
        } else { out.append(0x00) }
        // response-allowed DEFAULT TRUE: encoded absent when true.
        if responseAllowed { out.append(0x00) } else { out.append(0x01); out.append(0x00) }
        if let q = proposedQualityOfService { out.append(0x01); out.append(q) } else { out.append(0x00) }
        out.append(dlmsVersion)
        out.append(contentsOf: [0x5F, 0x1F, 0x04, 0x00])
        out.append(contentsOf: proposedConformance.bytes)
        out.appendU16(clientMaxReceivePDUSize)
    }

    public static func decode(from r: inout ByteReader) throws(COSEMError) -> InitiateRequest {
        let tagAt = r.offset
        let tag = try r.u8("the InitiateRequest tag")
        guard tag == 0x01 else {
            throw COSEMError.unexpectedTag(at: tagAt, expected: 0x01, found: tag, what: "InitiateRequest")
        }
        var key: [UInt8]? = nil
        if try r.u8("the dedicated-key flag") != 0 {
            let n = try r.axdrLength()
            key = try r.bytes(n, "the dedicated key")
        }
        var allowed = true
        if try r.u8("the response-allowed flag") != 0 { allowed = try r.u8("response-allowed") != 0 }
        var qos: UInt8? = nil
        if try r.u8("the quality-of-service flag") != 0 { qos = try r.u8("the quality of service") }
        let version = try r.u8("the DLMS version")
        let conformance = try decodeConformanceBits(&r)
        let pdu = try r.u16("the max receive PDU size")
        return InitiateRequest(proposedConformance: conformance, clientMaxReceivePDUSize: pdu, dlmsVersion: version,
                               dedicatedKey: key, responseAllowed: allowed, proposedQualityOfService: qos)
    }
}

/// xDLMS InitiateResponse (the AARE's user information):
/// `08 <quality-of-service opt> <version> 5F 1F 04 00 <conf 3> <max PDU 2> <vaa-name 2>`.
public struct InitiateResponse: Hashable, Sendable {
    public var negotiatedQualityOfService: UInt8?
    public var dlmsVersion: UInt8
    public var negotiatedConformance: Conformance
    public var serverMaxReceivePDUSize: UInt16
    /// 0x0007 for LN referencing.
    public var vaaName: UInt16

    public init(negotiatedConformance: Conformance, serverMaxReceivePDUSize: UInt16, dlmsVersion: UInt8 = 6,
                vaaName: UInt16 = 0x0007, negotiatedQualityOfService: UInt8? = nil) {
        self.negotiatedQualityOfService = negotiatedQualityOfService
        self.dlmsVersion = dlmsVersion
        self.negotiatedConformance = negotiatedConformance
        self.serverMaxReceivePDUSize = serverMaxReceivePDUSize
        self.vaaName = vaaName
    }

    public func encode(into out: inout [UInt8]) {
        out.append(0x08)
        if let q = negotiatedQualityOfService { out.append(0x01); out.append(q) } else { out.append(0x00) }
        out.append(dlmsVersion)
        out.append(contentsOf: [0x5F, 0x1F, 0x04, 0x00])
        out.append(contentsOf: negotiatedConformance.bytes)
        out.appendU16(serverMaxReceivePDUSize)
        out.appendU16(vaaName)
    }

    public static func decode(from r: inout ByteReader) throws(COSEMError) -> InitiateResponse {
        let tagAt = r.offset
        let tag = try r.u8("the InitiateResponse tag")
        guard tag == 0x08 else {
            throw COSEMError.unexpectedTag(at: tagAt, expected: 0x08, found: tag, what: "InitiateResponse")
        }
        var qos: UInt8? = nil
        if try r.u8("the quality-of-service flag") != 0 { qos = try r.u8("the quality of service") }
        let version = try r.u8("the DLMS version")
        let conformance = try decodeConformanceBits(&r)
        let pdu = try r.u16("the server max receive PDU size")
        let vaa = try r.u16("the VAA name")
        return InitiateResponse(negotiatedConformance: conformance, serverMaxReceivePDUSize: pdu, dlmsVersion: version,
                                vaaName: vaa, negotiatedQualityOfService: qos)
    }
}

/// `5F 1F 04 00 b0 b1 b2`: [APPLICATION 31] IMPLICIT BIT STRING of 24 bits (0 unused bits).
func decodeConformanceBits(_ r: inout ByteReader) throws(COSEMError) -> Conformance {
    let at = r.offset
    let t0 = try r.u8("the conformance tag")
    let t1 = try r.u8("the conformance tag")
    guard t0 == 0x5F, t1 == 0x1F else {
        throw COSEMError.unexpectedTag(at: at, expected: 0x5F, found: t0 == 0x5F ? t1 : t0, what: "conformance block")
    }
    let lenAt = r.offset
    let len = try r.u8("the conformance length")
    guard len == 4 else { throw COSEMError.invalidValue(at: lenAt, what: "conformance block length \(len) (must be 4)") }
    _ = try r.u8("the conformance unused-bits count")
    let b0 = try r.u8("the conformance block"), b1 = try r.u8("the conformance block"), b2 = try r.u8("the conformance block")
    return Conformance(bytes: b0, b1, b2)
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
    public var authentication: Authentication
    public var initiateRequest: InitiateRequest

    public init(authentication: Authentication = .none,
                proposedConformance: Conformance = .usualClientProposal,
                maxReceivePDUSize: UInt16 = 0xFFFF,
                applicationContext: ApplicationContextName = .logicalNameNoCiphering) {
        self.applicationContext = applicationContext
        self.authentication = authentication
        self.initiateRequest = InitiateRequest(proposedConformance: proposedConformance,
                                               clientMaxReceivePDUSize: maxReceivePDUSize)
    }

    public init(applicationContext: ApplicationContextName, authentication: Authentication,
                initiateRequest: InitiateRequest) {
        self.applicationContext = applicationContext
        self.authentication = authentication
        self.initiateRequest = initiateRequest
    }

    /// The mechanism the authentication implies.
    public var mechanism: MechanismName {
        switch authentication {
        case .none: return .none
        case .lowLevel: return .lowLevel
        }
    }

    /// The BER bytes, starting with `60`.
    public func encode() -> [UInt8] {
        var body: [UInt8] = []
        body.appendBER(tag: 0xA1, [0x06, 0x07] + ApplicationContextName.prefix + [applicationContext.rawValue])
        if case let .lowLevel(password) = authentication {
            body.append(contentsOf: [0x8A, 0x02, 0x07, 0x80])
            body.appendBER(tag: 0x8B, MechanismName.prefix + [MechanismName.lowLevel.rawValue])
            var value: [UInt8] = []
            value.appendBER(tag: 0x80, password)
            body.appendBER(tag: 0xAC, value)
        }
        var initiate: [UInt8] = []
        initiateRequest.encode(into: &initiate)
        var octets: [UInt8] = []
        octets.appendBER(tag: 0x04, initiate)
        body.appendBER(tag: 0xBE, octets)
        var out: [UInt8] = []
        out.appendBER(tag: 0x60, body)
        return out
    }

    /// Decodes an AARQ (the meter's side). Unknown optional fields are skipped.
    public static func decode(_ bytes: [UInt8]) throws(COSEMError) -> AARQ {
        var r = ByteReader(bytes)
        let t = try r.peek("the AARQ tag")
        guard t == 0x60 else { throw COSEMError.unexpectedTag(at: 0, expected: 0x60, found: t, what: "AARQ") }
        var body = try r.berElement("the AARQ").content
        try r.expectEnd()
        var context: ApplicationContextName? = nil
        var mechanism = MechanismName.none
        var password: [UInt8]? = nil
        var initiate: InitiateRequest? = nil
        while !body.isAtEnd {
            let at = body.offset
            var (tag, content) = try body.berElement("an AARQ field")
            switch tag {
            case 0xA1:
                context = ApplicationContextName(
                    rawValue: try content.dlmsObjectIdentifier(prefix: ApplicationContextName.prefix,
                                                               "the application context name"))
            case 0x8B:
                let oidAt = content.offset
                let oid = try content.bytes(content.remaining, "the mechanism name")
                guard oid.count == 7, Array(oid[0..<6]) == MechanismName.prefix else {
                    throw COSEMError.invalidValue(at: oidAt, what: "mechanism name")
                }
                mechanism = MechanismName(rawValue: oid[6])
            case 0xAC:
                var value = try content.berElement(expecting: 0x80, "the calling authentication value")
                password = try value.bytes(value.remaining, "the password")
            case 0xBE:
                var octets = try content.berElement(expecting: 0x04, "the AARQ user information")
                initiate = try InitiateRequest.decode(from: &octets)
            default:
                _ = at  // other fields (AP titles, requirements) are not needed by this agent
            }
        }
        guard let context else {
            throw COSEMError.invalidValue(at: 2, what: "AARQ without application context name")
        }
        guard let initiate else {
            throw COSEMError.invalidValue(at: 2, what: "AARQ without user information (InitiateRequest)")
        }
        let auth: Authentication
        if mechanism == .lowLevel, let password { auth = .lowLevel(password: password) } else { auth = .none }
        return AARQ(applicationContext: context, authentication: auth, initiateRequest: initiate)
    }
}

// MARK: - AARE

/// The AARE result field.
public struct AssociationResult: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let accepted = AssociationResult(rawValue: 0)
    public static let rejectedPermanent = AssociationResult(rawValue: 1)
    public static let rejectedTransient = AssociationResult(rawValue: 2)

    public var name: String {
        switch rawValue {
        case 0: return "accepted"
        case 1: return "rejected-permanent"
        case 2: return "rejected-transient"
        default: return "result \(rawValue)"
        }
    }
}

/// The AARE result-source-diagnostic: from the ACSE service user (`A1`) or provider (`A2`), and a code.
public struct AssociateSourceDiagnostic: Hashable, Sendable {
    public enum Source: UInt8, Hashable, Sendable {
        case serviceUser = 0xA1
        case serviceProvider = 0xA2
    }
    public var source: Source
    public var rawValue: UInt8

    public init(source: Source = .serviceUser, rawValue: UInt8) {
        self.source = source
        self.rawValue = rawValue
    }

    public static let null = AssociateSourceDiagnostic(rawValue: 0)
    public static let noReasonGiven = AssociateSourceDiagnostic(rawValue: 1)
    public static let applicationContextNameNotSupported = AssociateSourceDiagnostic(rawValue: 2)
    public static let mechanismNameNotRecognised = AssociateSourceDiagnostic(rawValue: 11)
    public static let mechanismNameRequired = AssociateSourceDiagnostic(rawValue: 12)
    public static let authenticationFailure = AssociateSourceDiagnostic(rawValue: 13)
    public static let authenticationRequired = AssociateSourceDiagnostic(rawValue: 14)

    /// The standard name of the diagnostic.
    public var name: String {
        if source == .serviceProvider {
            switch rawValue {
            case 0: return "null"
            case 1: return "no reason given"
            case 2: return "no common ACSE version"
            default: return "provider diagnostic \(rawValue)"
            }
        }
        switch rawValue {
        case 0: return "null"
        case 1: return "no reason given"
        case 2: return "application context name not supported"
        case 3: return "calling AP title not recognized"
        case 4: return "calling AP invocation identifier not recognized"
        case 5: return "calling AE qualifier not recognized"
        case 6: return "calling AE invocation identifier not recognized"
        case 7: return "called AP title not recognized"
        case 8: return "called AP invocation identifier not recognized"
        case 9: return "called AE qualifier not recognized"
        case 10: return "called AE invocation identifier not recognized"
        case 11: return "authentication mechanism name not recognised"
        case 12: return "authentication mechanism name required"
        case 13: return "authentication failure"
        case 14: return "authentication required"
        default: return "diagnostic \(rawValue)"
        }
    }

    /// What the operator should do, when there is something specific.
    public func advice(clientSAP: UInt8?) -> String? {
        let sap = clientSAP.map { "client SAP \($0)" } ?? "this client SAP"
        guard source == .serviceUser else { return "the meter does not speak this ACSE version" }
        switch rawValue {
        case 13: return "the password is wrong for \(sap)"
        case 14: return "\(sap) needs a password on this meter: configure one (LLS)"
        case 12: return "the meter wants an authentication mechanism for \(sap): configure a password (LLS)"
        case 11: return "the meter does not accept this authentication level for \(sap): check the client SAP and authentication settings"
        case 2: return "the meter refuses logical-name referencing without ciphering for \(sap)"
        case 1: return "check the client SAP (\(sap)), the server address and the password"
        default: return nil
        }
    }
}

/// The AARE's user information: an InitiateResponse when accepted; a rejecting meter may send a
/// confirmed-service-error (`0E`) instead, or nothing.
public enum AAREUserInformation: Hashable, Sendable {
    case initiateResponse(InitiateResponse)
    case confirmedServiceError(ConfirmedServiceError)
}

/// The association response a meter sends (AARE, tag `61`).
public struct AARE: Hashable, Sendable {
    public var applicationContext: ApplicationContextName
    public var result: AssociationResult
    public var diagnostic: AssociateSourceDiagnostic
    /// The mechanism the meter names (LLS meters often echo it); nil when absent.
    public var mechanism: MechanismName?
    /// Absent in some rejecting AAREs.
    public var userInformation: AAREUserInformation?

    public init(result: AssociationResult, diagnostic: AssociateSourceDiagnostic,
                userInformation: AAREUserInformation?, mechanism: MechanismName? = nil,
                applicationContext: ApplicationContextName = .logicalNameNoCiphering) {
        self.applicationContext = applicationContext
        self.result = result
        self.diagnostic = diagnostic
        self.mechanism = mechanism
        self.userInformation = userInformation
    }

    /// The InitiateResponse, if the user information carries one.
    public var initiateResponse: InitiateResponse? {
        if case let .initiateResponse(r) = userInformation { return r }
        return nil
    }

    /// The BER bytes, starting with `61` (the simulated meter's side).
    public func encode() -> [UInt8] {
        var body: [UInt8] = []
        body.appendBER(tag: 0xA1, [0x06, 0x07] + ApplicationContextName.prefix + [applicationContext.rawValue])
        body.appendBER(tag: 0xA2, [0x02, 0x01, result.rawValue])
        body.appendBER(tag: 0xA3, [diagnostic.source.rawValue, 0x03, 0x02, 0x01, diagnostic.rawValue])
        if let mechanism {
            body.append(contentsOf: [0x88, 0x02, 0x07, 0x80])
            body.appendBER(tag: 0x89, MechanismName.prefix + [mechanism.rawValue])
        }
        if let userInformation {
            var inner: [UInt8] = []
            switch userInformation {
            case let .initiateResponse(r): r.encode(into: &inner)
            case let .confirmedServiceError(e): e.encode(into: &inner)
            }
            var octets: [UInt8] = []
            octets.appendBER(tag: 0x04, inner)
            body.appendBER(tag: 0xBE, octets)
        }
        var out: [UInt8] = []
        out.appendBER(tag: 0x61, body)
        return out
    }

    /// Decodes an AARE (the client's side).
    public static func decode(_ bytes: [UInt8]) throws(COSEMError) -> AARE {
        var r = ByteReader(bytes)
        let t = try r.peek("the AARE tag")
        guard t == 0x61 else { throw COSEMError.unexpectedTag(at: 0, expected: 0x61, found: t, what: "AARE") }
        var body = try r.berElement("the AARE").content
        try r.expectEnd()
        var context = ApplicationContextName.logicalNameNoCiphering
        var result: AssociationResult? = nil
        var diagnostic: AssociateSourceDiagnostic? = nil
        var mechanism: MechanismName? = nil
        var user: AAREUserInformation? = nil
        while !body.isAtEnd {
            var (tag, content) = try body.berElement("an AARE field")
            switch tag {
            case 0xA1:
                context = ApplicationContextName(
                    rawValue: try content.dlmsObjectIdentifier(prefix: ApplicationContextName.prefix,
                                                               "the application context name"))
            case 0xA2:
                result = AssociationResult(rawValue: try content.berSmallInteger("the association result"))
            case 0xA3:
                let at = content.offset
                let (sourceTag, inner) = try content.berElement("the result source diagnostic")
                guard let source = AssociateSourceDiagnostic.Source(rawValue: sourceTag) else {
                    throw COSEMError.unexpectedTag(at: at, expected: 0xA1, found: sourceTag, what: "result source diagnostic")
                }
                var innerReader = inner
                diagnostic = AssociateSourceDiagnostic(
                    source: source, rawValue: try innerReader.berSmallInteger("the diagnostic"))
            case 0x89:
                let oid = try content.bytes(content.remaining, "the mechanism name")
                if oid.count == 7, Array(oid[0..<6]) == MechanismName.prefix { mechanism = MechanismName(rawValue: oid[6]) }
            case 0xBE:
                var octets = try content.berElement(expecting: 0x04, "the AARE user information")
                let at = octets.offset
                switch try octets.peek("the user information") {
                case 0x08: user = .initiateResponse(try InitiateResponse.decode(from: &octets))
                case 0x0E: user = .confirmedServiceError(try ConfirmedServiceError.decode(from: &octets))
                case let other:
                    throw COSEMError.unexpectedTag(at: at, expected: 0x08, found: other, what: "AARE user information")
                }
            default:
                break  // responder requirements, AP titles, authentication value: not needed here
            }
        }
        guard let result else { throw COSEMError.invalidValue(at: 2, what: "AARE without a result field") }
        return AARE(result: result, diagnostic: diagnostic ?? .null, userInformation: user, mechanism: mechanism,
                    applicationContext: context)
    }
}

// MARK: - RLRQ / RLRE

/// A release request (`62`) or response (`63`): an optional reason and optional user information (kept raw).
public struct ReleaseAPDU: Hashable, Sendable {
    /// RLRQ reason: 0 normal, 1 urgent, 30 user-defined. RLRE reason: 0 normal, 1 not-finished, 30 user-defined.
    public var reason: UInt8?
    /// The raw content of the user-information octet string (an InitiateRequest/Response), if any.
    public var userInformation: [UInt8]?

    public init(reason: UInt8? = 0, userInformation: [UInt8]? = nil) {
        self.reason = reason
        self.userInformation = userInformation
    }

    func encode(tag: UInt8) -> [UInt8] {
        var body: [UInt8] = []
        if let reason { body.append(contentsOf: [0x80, 0x01, reason]) }
        if let userInformation {
            var octets: [UInt8] = []
            octets.appendBER(tag: 0x04, userInformation)
            body.appendBER(tag: 0xBE, octets)
        }
        var out: [UInt8] = []
        out.appendBER(tag: tag, body)
        return out
    }

    static func decode(_ bytes: [UInt8], tag expected: UInt8, what: String) throws(COSEMError) -> ReleaseAPDU {
        var r = ByteReader(bytes)
        let t = try r.peek(what)
        guard t == expected else { throw COSEMError.unexpectedTag(at: 0, expected: expected, found: t, what: what) }
        var body = try r.berElement(what).content
        try r.expectEnd()
        var out = ReleaseAPDU(reason: nil, userInformation: nil)
        while !body.isAtEnd {
            var (tag, content) = try body.berElement(what + " field")
            switch tag {
            case 0x80:
                if content.remaining >= 1 { out.reason = try content.u8("the release reason") }
            case 0xBE:
                var octets = try content.berElement(expecting: 0x04, what + " user information")
                out.userInformation = try octets.bytes(octets.remaining, "the user information")
            default: break
            }
        }
        return out
    }
}

/// Release request (RLRQ, `62`).
public struct RLRQ: Hashable, Sendable {
    public var content: ReleaseAPDU
    public init(reason: UInt8? = 0, userInformation: [UInt8]? = nil) {
        content = ReleaseAPDU(reason: reason, userInformation: userInformation)
    }
    /// `62 03 80 01 00` for a normal release without user information.
    public func encode() -> [UInt8] { content.encode(tag: 0x62) }
    public static func decode(_ bytes: [UInt8]) throws(COSEMError) -> RLRQ {
        let c = try ReleaseAPDU.decode(bytes, tag: 0x62, what: "RLRQ")
        return RLRQ(reason: c.reason, userInformation: c.userInformation)
    }
}

/// Release response (RLRE, `63`).
public struct RLRE: Hashable, Sendable {
    public var content: ReleaseAPDU
    public init(reason: UInt8? = 0, userInformation: [UInt8]? = nil) {
        content = ReleaseAPDU(reason: reason, userInformation: userInformation)
    }
    /// `63 03 80 01 00` for a normal release without user information.
    public func encode() -> [UInt8] { content.encode(tag: 0x63) }
    public static func decode(_ bytes: [UInt8]) throws(COSEMError) -> RLRE {
        let c = try ReleaseAPDU.decode(bytes, tag: 0x63, what: "RLRE")
        return RLRE(reason: c.reason, userInformation: c.userInformation)
    }
}

// MARK: - Meter side

extension AARE {
    /// The meter's answer to `aarq`: accepted when the password matches `password` (nil = no password
    /// required), rejected with authentication-failure / authentication-required otherwise. The granted
    /// conformance is what the client proposed and the meter supports; the PDU size is the meter's own.
    public static func answering(_ aarq: AARQ, password: [UInt8]?, supported: Conformance,
                                 serverMaxReceivePDUSize: UInt16) -> AARE {
        if aarq.applicationContext != .logicalNameNoCiphering {
            return AARE(result: .rejectedPermanent, diagnostic: .applicationContextNameNotSupported,
                        userInformation: nil, applicationContext: aarq.applicationContext)
        }
        if let password {
            switch aarq.authentication {
            case .none:
                return AARE(result: .rejectedPermanent, diagnostic: .authenticationRequired, userInformation: nil)
            case let .lowLevel(given) where given != password:
                return AARE(result: .rejectedPermanent, diagnostic: .authenticationFailure, userInformation: nil,
                            mechanism: .lowLevel)
            case .lowLevel:
                break
            }
        }
        let granted = aarq.initiateRequest.proposedConformance.intersection(supported)
        if aarq.initiateRequest.dlmsVersion < 6 {
            return AARE(result: .rejectedPermanent, diagnostic: .noReasonGiven,
                        userInformation: .confirmedServiceError(ConfirmedServiceError(service: 1, errorKind: 6, value: 1)))
        }
        return AARE(result: .accepted, diagnostic: .null,
                    userInformation: .initiateResponse(InitiateResponse(
                        negotiatedConformance: granted, serverMaxReceivePDUSize: serverMaxReceivePDUSize)),
                    mechanism: aarq.mechanism == .none ? nil : aarq.mechanism)
    }
}
