// The AARE (association response), BER: see ACSE.swift for the grammar.

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
    /// A glo-/ded-initiate-response or ciphered confirmed-service-error (`28`, `48`, `2E`, `4E` ...), as it
    /// travels; `CipheringContext` deciphers it.
    case ciphered([UInt8])
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
    /// The meter's system title (responding-AP-title), sent with ciphering: the IV of all it sends.
    public var respondingAPTitle: SystemTitle?
    /// The responding authentication value: the meter's HLS challenge StoC.
    public var respondingAuthenticationValue: [UInt8]?

    public init(result: AssociationResult, diagnostic: AssociateSourceDiagnostic,
                userInformation: AAREUserInformation?, mechanism: MechanismName? = nil,
                applicationContext: ApplicationContextName = .logicalNameNoCiphering,
                respondingAPTitle: SystemTitle? = nil, respondingAuthenticationValue: [UInt8]? = nil) {
        self.applicationContext = applicationContext
        self.result = result
        self.diagnostic = diagnostic
        self.mechanism = mechanism
        self.userInformation = userInformation
        self.respondingAPTitle = respondingAPTitle
        self.respondingAuthenticationValue = respondingAuthenticationValue
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
        if let respondingAPTitle { appendAPTitle(respondingAPTitle, tag: 0xA4, to: &body) }
        if let mechanism {
            body.append(contentsOf: [0x88, 0x02, 0x07, 0x80])
            body.appendBER(tag: 0x89, MechanismName.prefix + [mechanism.rawValue])
        }
        if let respondingAuthenticationValue {
            var element: [UInt8] = []
            element.appendBER(tag: 0x80, respondingAuthenticationValue)
            body.appendBER(tag: 0xAA, element)
        }
        if let userInformation {
            var inner: [UInt8] = []
            switch userInformation {
            case let .initiateResponse(r): r.encode(into: &inner)
            case let .confirmedServiceError(e): e.encode(into: &inner)
            case let .ciphered(bytes): inner = bytes
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
        var title: SystemTitle? = nil
        var challenge: [UInt8]? = nil
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
            case 0xA4:
                title = try decodeAPTitle(&content, "the responding AP title")
            case 0xAA:
                var element = try content.berElement(expecting: 0x80, "the responding authentication value")
                challenge = try element.bytes(element.remaining, "the responding authentication value")
            case 0x89:
                let oid = try content.bytes(content.remaining, "the mechanism name")
                if oid.count == 7, Array(oid[0..<6]) == MechanismName.prefix { mechanism = MechanismName(rawValue: oid[6]) }
            case 0xBE:
                var octets = try content.berElement(expecting: 0x04, "the AARE user information")
                let at = octets.offset
                switch try octets.peek("the user information") {
                case 0x08: user = .initiateResponse(try InitiateResponse.decode(from: &octets))
                case 0x0E: user = .confirmedServiceError(try ConfirmedServiceError.decode(from: &octets))
                case let tag where CipheringTags.isCiphered(tag):
                    user = .ciphered(try octets.bytes(octets.remaining, "the ciphered InitiateResponse"))
                case let other:
                    throw COSEMError.unexpectedTag(at: at, expected: 0x08, found: other, what: "AARE user information")
                }
            default:
                break  // responder requirements, AE qualifiers: not needed here
            }
        }
        guard let result else { throw COSEMError.invalidValue(at: 2, what: "AARE without a result field") }
        return AARE(result: result, diagnostic: diagnostic ?? .null, userInformation: user, mechanism: mechanism,
                    applicationContext: context, respondingAPTitle: title, respondingAuthenticationValue: challenge)
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
            case .highLevelGMAC, .other:
                return AARE(result: .rejectedPermanent, diagnostic: .mechanismNameNotRecognised, userInformation: nil)
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
