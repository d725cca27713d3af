// Error APDUs and the APDU enum that decodes any APDU this layer knows (for `dlms-bridge decode`).

/// exception-response (`D8 <state-error> <service-error> [invocation counter u32]`): the meter could not
/// process the APDU at all.
public struct ExceptionResponse: Hashable, Sendable, CustomStringConvertible {
    /// 1 service-not-allowed, 2 service-unknown.
    public var stateError: UInt8
    /// 1 operation-not-possible, 2 service-not-supported, 3 other-reason, 4 pdu-too-long,
    /// 5 deciphering-error, 6 invocation-counter-error (then followed by the expected counter).
    public var serviceError: UInt8
    public var invocationCounter: UInt32?

    public init(stateError: UInt8, serviceError: UInt8, invocationCounter: UInt32? = nil) {
        self.stateError = stateError
        self.serviceError = serviceError
        self.invocationCounter = invocationCounter
    }

    public var stateErrorName: String {
        switch stateError {
        case 1: return "service-not-allowed"
        case 2: return "service-unknown"
        default: return "state-error \(stateError)"
        }
    }

    public var serviceErrorName: String {
        switch serviceError {
        case 1: return "operation-not-possible"
        case 2: return "service-not-supported"
        case 3: return "other-reason"
        case 4: return "pdu-too-long"
        case 5: return "deciphering-error"
        case 6: return "invocation-counter-error"
        default: return "service-error \(serviceError)"
        }
    }

    public var description: String {
        var text = "the meter rejected the request (exception-response: \(stateErrorName), \(serviceErrorName))"
        switch serviceError {
        case 4: text += ": lower the max PDU size in the configuration"
        case 2: text += ": the meter does not support this service; check what it granted in the association"
        default:
            if stateError == 1 { text += ": the association is not open (the meter may have dropped it); it will be reopened" }
        }
        return text
    }

    public func encode(into out: inout [UInt8]) {
        out.append(0xD8); out.append(stateError); out.append(serviceError)
        if let invocationCounter { out.appendU32(invocationCounter) }
    }

    public static func decode(from r: inout ByteReader) throws(COSEMError) -> ExceptionResponse {
        let at = r.offset
        let tag = try r.u8("the exception-response tag")
        guard tag == 0xD8 else { throw COSEMError.unexpectedTag(at: at, expected: 0xD8, found: tag, what: "exception-response") }
        let state = try r.u8("the state-error")
        let service = try r.u8("the service-error")
        var counter: UInt32? = nil
        if service == 6, r.remaining >= 4 { counter = try r.u32("the invocation counter") }
        return ExceptionResponse(stateError: state, serviceError: service, invocationCounter: counter)
    }
}

/// confirmed-service-error (`0E <service> <error kind> <value>`): the meter refused a confirmed service, e.g.
/// the InitiateRequest inside the AARQ.
public struct ConfirmedServiceError: Hashable, Sendable, CustomStringConvertible {
    /// Which service failed: 1 initiateError, 2 getStatus, 3 getNameList, 4 getVariableAttribute, 5 read,
    /// 6 write, ...
    public var service: UInt8
    /// The ServiceError choice: 0 application-reference, 1 hardware-resource, 2 vde-state-error, 3 service,
    /// 4 definition, 5 access, 6 initiate, 7 load-data-set, 8 change-scope, 9 task, 10 other.
    public var errorKind: UInt8
    public var value: UInt8

    public init(service: UInt8, errorKind: UInt8, value: UInt8) {
        self.service = service
        self.errorKind = errorKind
        self.value = value
    }

    public var serviceName: String {
        switch service {
        case 1: return "initiate"
        case 2: return "get-status"
        case 3: return "get-name-list"
        case 4: return "get-variable-attribute"
        case 5: return "read"
        case 6: return "write"
        default: return "service \(service)"
        }
    }

    public var errorName: String {
        switch errorKind {
        case 0: return "application-reference error \(value)"
        case 1: return "hardware-resource error \(value)"
        case 2: return "vde-state error \(value)"
        case 3:
            switch value {
            case 1: return "service: pdu-size"
            case 2: return "service: service-unsupported"
            default: return "service error \(value)"
            }
        case 4: return "definition error \(value)"
        case 5: return "access error \(value)"
        case 6:
            switch value {
            case 0: return "initiate: other"
            case 1: return "initiate: dlms-version-too-low"
            case 2: return "initiate: incompatible-conformance"
            case 3: return "initiate: pdu-size-too-short"
            case 4: return "initiate: refused-by-the-VDE-handler"
            default: return "initiate error \(value)"
            }
        default: return "error kind \(errorKind) value \(value)"
        }
    }

    public var description: String {
        var text = "the meter refused the \(serviceName) service (confirmed-service-error: \(errorName))"
        if errorKind == 6 {
            switch value {
            case 2: text += ": the proposed conformance has nothing the meter supports"
            case 3: text += ": raise the max PDU size in the configuration"
            case 1: text += ": the meter needs another DLMS version"
            default: break
            }
        }
        return text
    }

    public func encode(into out: inout [UInt8]) {
        out.append(0x0E); out.append(service); out.append(errorKind); out.append(value)
    }

    public static func decode(from r: inout ByteReader) throws(COSEMError) -> ConfirmedServiceError {
        let at = r.offset
        let tag = try r.u8("the confirmed-service-error tag")
        guard tag == 0x0E else {
            throw COSEMError.unexpectedTag(at: at, expected: 0x0E, found: tag, what: "confirmed-service-error")
        }
        return ConfirmedServiceError(service: try r.u8("the failed service"), errorKind: try r.u8("the service error kind"),
                                     value: try r.u8("the service error value"))
    }
}

/// Any APDU this layer decodes.
public enum APDU: Equatable, Sendable, CustomStringConvertible {
    case aarq(AARQ)
    case aare(AARE)
    case rlrq(RLRQ)
    case rlre(RLRE)
    case getRequest(GetRequest)
    case getResponse(GetResponse)
    case exceptionResponse(ExceptionResponse)
    case confirmedServiceError(ConfirmedServiceError)
    case actionRequest(ActionRequest)
    case actionResponse(ActionResponse)
    case setRequest(SetRequest)
    case setResponse(SetResponse)

    /// The standard name of the APDU (`GET-Response-Normal`).
    public var name: String {
        switch self {
        case .aarq: return "AARQ"
        case .aare: return "AARE"
        case .rlrq: return "RLRQ"
        case .rlre: return "RLRE"
        case let .getRequest(r):
            switch r {
            case .normal: return "GET-Request-Normal"
            case .next: return "GET-Request-Next"
            case .withList: return "GET-Request-With-List"
            }
        case let .getResponse(r):
            switch r {
            case .normal: return "GET-Response-Normal"
            case .withDatablock: return "GET-Response-With-Datablock"
            case .withList: return "GET-Response-With-List"
            }
        case .exceptionResponse: return "exception-response"
        case .confirmedServiceError: return "confirmed-service-error"
        case .actionRequest: return "ACTION-Request-Normal"
        case .actionResponse: return "ACTION-Response-Normal"
        case .setRequest: return "SET-Request-Normal"
        case .setResponse: return "SET-Response-Normal"
        }
    }

    /// One line per APDU for the decode command and logs, e.g.
    /// `GET-Response-Normal invoke 1: long-unsigned 2301`. Passwords are never printed, only their length.
    public var description: String {
        switch self {
        case let .aarq(a):
            var text = "AARQ: context \(a.applicationContext.rawValue) (\(a.applicationContext.name)), "
            text += a.authentication.summary
            if let title = a.callingAPTitle { text += "; client system title \(title)" }
            switch a.userInformation {
            case let .initiateRequest(r):
                text += "; proposed conformance: \(r.proposedConformance)"
                text += "; client max receive PDU \(r.clientMaxReceivePDUSize)"
            case let .ciphered(bytes):
                text += "; ciphered InitiateRequest (\(bytes.count) bytes)"
            }
            return text
        case let .aare(a):
            var text = "AARE: \(a.result.name), diagnostic \(a.diagnostic.rawValue) (\(a.diagnostic.name))"
            switch a.userInformation {
            case let .initiateResponse(r)?:
                text += "; granted conformance: \(r.negotiatedConformance); server max receive PDU \(r.serverMaxReceivePDUSize)"
            case let .confirmedServiceError(e)?: text += "; " + e.description
            case let .ciphered(bytes)?: text += "; ciphered InitiateResponse (\(bytes.count) bytes)"
            case nil: text += "; no user information"
            }
            if let title = a.respondingAPTitle { text += "; meter system title \(title)" }
            if let challenge = a.respondingAuthenticationValue { text += "; HLS challenge of \(challenge.count) bytes" }
            return text
        case let .rlrq(r): return "RLRQ: reason " + (r.content.reason.map { "\($0)" } ?? "absent")
        case let .rlre(r): return "RLRE: reason " + (r.content.reason.map { "\($0)" } ?? "absent")
        case let .getRequest(g):
            var text = name + " " + Self.describe(g.invoke) + ": "
            switch g {
            case let .normal(_, attribute, access): text += attribute.description + Self.describe(access)
            case let .next(_, block): text += "acknowledges block \(block)"
            case let .withList(_, list):
                text += "\(list.count) attributes: "
                for (i, item) in list.enumerated() {
                    if i > 0 { text += "; " }
                    text += item.attribute.description + Self.describe(item.access)
                }
            }
            return text
        case let .getResponse(g):
            var text = name + " " + Self.describe(g.invoke) + ": "
            switch g {
            case let .normal(_, result): text += Self.describe(result)
            case let .withDatablock(_, block):
                text += "block \(block.blockNumber)" + (block.lastBlock ? " (last)" : "") + ", "
                switch block.result {
                case let .raw(bytes): text += "\(bytes.count) raw bytes"
                case let .error(e): text += "error \(e.name) (\(e.rawValue))"
                }
            case let .withList(_, results):
                text += "\(results.count) results: "
                for (i, r) in results.enumerated() {
                    if i > 0 { text += "; " }
                    text += Self.describe(r)
                }
            }
            return text
        case let .exceptionResponse(e): return "exception-response: " + e.stateErrorName + ", " + e.serviceErrorName
        case let .confirmedServiceError(e): return "confirmed-service-error: " + e.serviceName + ", " + e.errorName
        case let .actionRequest(a): return a.description
        case let .actionResponse(a): return a.description
        case let .setRequest(s): return s.description
        case let .setResponse(s): return s.description
        }
    }

    static func describe(_ invoke: InvokeIdAndPriority) -> String {
        "invoke \(invoke.invokeId)" + (invoke.isHighPriority ? " (high priority)" : "")
    }

    static func describe(_ access: SelectiveAccess?) -> String {
        switch access {
        case nil: return ""
        case let .byRange(restricting, from, to, selected)?:
            var text = " by range of \(restricting.obis.fullDescription) from "
            text += from.dateTimeValue?.description ?? from.description
            text += " to " + (to.dateTimeValue?.description ?? to.description)
            return text + (selected.isEmpty ? ", all columns" : ", \(selected.count) columns")
        case let .byEntry(fromEntry, toEntry, fromValue, toValue)?:
            return " by entry \(fromEntry)...\(toEntry), columns \(fromValue)...\(toValue)"
        case let .other(selector, parameters)?:
            return " selector \(selector) " + parameters.description
        }
    }

    static func describe(_ result: GetDataResult) -> String {
        switch result {
        case let .data(v): return v.description
        case let .error(e): return "error \(e.name) (\(e.rawValue))"
        }
    }

    /// Decodes one complete APDU (trailing bytes are an error).
    public static func decode(_ bytes: [UInt8], limits: DecodingLimits = .default) throws(COSEMError) -> APDU {
        guard let first = bytes.first else {
            throw COSEMError.truncated(at: 0, needed: 1, remaining: 0, what: "an APDU")
        }
        var r = ByteReader(bytes)
        let apdu: APDU
        switch first {
        case 0x60: return .aarq(try AARQ.decode(bytes))
        case 0x61: return .aare(try AARE.decode(bytes))
        case 0x62: return .rlrq(try RLRQ.decode(bytes))
        case 0x63: return .rlre(try RLRE.decode(bytes))
        case 0xC0: apdu = .getRequest(try GetRequest.decode(from: &r, limits: limits))
        case 0xC4: apdu = .getResponse(try GetResponse.decode(from: &r, limits: limits))
        case 0xD8: apdu = .exceptionResponse(try ExceptionResponse.decode(from: &r))
        case 0x0E: apdu = .confirmedServiceError(try ConfirmedServiceError.decode(from: &r))
        case 0xC3: apdu = .actionRequest(try ActionRequest.decode(from: &r, limits: limits))
        case 0xC7: apdu = .actionResponse(try ActionResponse.decode(from: &r, limits: limits))
        case 0xC1: apdu = .setRequest(try SetRequest.decode(from: &r, limits: limits))
        case 0xC5: apdu = .setResponse(try SetResponse.decode(from: &r))
        default: throw COSEMError.unknownAPDU(tag: first)
        }
        try r.expectEnd()
        return apdu
    }

    /// The bytes of the APDU.
    public func encode() -> [UInt8] {
        var out: [UInt8] = []
        switch self {
        case let .aarq(a): return a.encode()
        case let .aare(a): return a.encode()
        case let .rlrq(a): return a.encode()
        case let .rlre(a): return a.encode()
        case let .getRequest(g): g.encode(into: &out)
        case let .getResponse(g): g.encode(into: &out)
        case let .exceptionResponse(e): e.encode(into: &out)
        case let .confirmedServiceError(e): e.encode(into: &out)
        case let .actionRequest(a): return a.encode()
        case let .actionResponse(a): return a.encode()
        case let .setRequest(s): s.encode(into: &out)
        case let .setResponse(s): s.encode(into: &out)
        }
        return out
    }
}
