// The xDLMS ACTION service, LN referencing, as far as HLS pass 3/4 needs it (normal requests and responses):
//   ACTION-Request-Normal   C3 01 <iid> <class u16> <OBIS 6> <method i8> <00 | 01 <Data>>
//   ACTION-Response-Normal  C7 01 <iid> <action-result enum> <00 | 01 <00 <Data> | 01 <data-access-result>>>

/// A COSEM method reference: class id, logical name, method index.
public struct MethodDescriptor: Hashable, Sendable, CustomStringConvertible {
    public var classId: UInt16
    public var obis: ObisCode
    public var method: Int8

    public init(classId: UInt16, obis: ObisCode, method: Int8) {
        self.classId = classId
        self.obis = obis
        self.method = method
    }

    /// Association LN (class 15) `0-0:40.0.0.255`, method 1 `reply_to_HLS_authentication`.
    public static let replyToHLSAuthentication = MethodDescriptor(classId: 15, obis: ObisCode(0, 0, 40, 0, 0, 255), method: 1)

    /// `class 15 0-0:40.0.0.255 method 1`.
    public var description: String { "class \(classId) \(obis.fullDescription) method \(method)" }
}

/// The action-result of an ACTION-Response (Green Book names).
public struct ActionResult: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let success = ActionResult(rawValue: 0)

    /// The Green Book name; the codes action-result shares with data-access-result have the same names.
    public var description: String {
        switch rawValue {
        case 0, 1, 2, 3, 4, 9, 11, 12, 13, 250: return DataAccessResult(rawValue: rawValue).name
        default: return "action-result \(rawValue)"
        }
    }
}

/// An ACTION-Request (`C3`); only the normal form.
public struct ActionRequest: Equatable, Sendable, CustomStringConvertible {
    public var invoke: InvokeIdAndPriority
    public var method: MethodDescriptor
    /// The method invocation parameters; nil when absent.
    public var parameters: DataValue?

    public init(invoke: InvokeIdAndPriority, method: MethodDescriptor, parameters: DataValue?) {
        self.invoke = invoke
        self.method = method
        self.parameters = parameters
    }

    public func encode() -> [UInt8] {
        var out: [UInt8] = [0xC3, 0x01, invoke.rawValue]
        out.appendU16(method.classId)
        out.append(contentsOf: method.obis.bytes)
        out.append(UInt8(bitPattern: method.method))
        if let parameters { out.append(0x01); parameters.encode(into: &out) } else { out.append(0x00) }
        return out
    }

    public static func decode(_ bytes: [UInt8], limits: DecodingLimits = .default) throws(COSEMError) -> ActionRequest {
        var r = ByteReader(bytes)
        let request = try decode(from: &r, limits: limits)
        try r.expectEnd()
        return request
    }

    /// Decodes an ACTION-Request-Normal; the reader must be at the `C3` tag.
    public static func decode(from r: inout ByteReader, limits: DecodingLimits = .default) throws(COSEMError) -> ActionRequest {
        let at = r.offset
        let tag = try r.u8("the ACTION-Request tag")
        guard tag == 0xC3 else { throw COSEMError.unexpectedTag(at: at, expected: 0xC3, found: tag, what: "ACTION-Request") }
        let choiceAt = r.offset
        let choice = try r.u8("the ACTION-Request type")
        guard choice == 1 else {
            throw COSEMError.invalidValue(at: choiceAt, what: "ACTION-Request type \(choice) (only 1, normal, is supported)")
        }
        let invoke = InvokeIdAndPriority(rawValue: try r.u8("the invoke id"))
        let classId = try r.u16("the class id")
        let obis = ObisCode(try r.u8(), try r.u8(), try r.u8(), try r.u8(), try r.u8(), try r.u8("the logical name"))
        let method = Int8(bitPattern: try r.u8("the method id"))
        let flagAt = r.offset
        let flag = try r.u8("the parameters flag")
        var parameters: DataValue? = nil
        switch flag {
        case 0: break
        case 1: parameters = try DataValue.decode(from: &r, limits: limits)
        default: throw COSEMError.invalidValue(at: flagAt, what: "parameters flag \(flag) (must be 0 or 1)")
        }
        return ActionRequest(invoke: invoke, method: MethodDescriptor(classId: classId, obis: obis, method: method),
                             parameters: parameters)
    }

    /// `ACTION-Request-Normal invoke 1: class 15 0-0:40.0.0.255 method 1, parameters octet-string(17)`.
    public var description: String {
        "ACTION-Request-Normal " + APDU.describe(invoke) + ": " + method.description
            + (parameters.map { ", parameters " + $0.description } ?? ", no parameters")
    }
}

/// An ACTION-Response (`C7`); only the normal form.
public struct ActionResponse: Equatable, Sendable, CustomStringConvertible {
    public var invoke: InvokeIdAndPriority
    public var result: ActionResult
    /// The return parameters (data or a data-access-result); nil when absent.
    public var returnParameters: GetDataResult?

    public init(invoke: InvokeIdAndPriority, result: ActionResult, returnParameters: GetDataResult?) {
        self.invoke = invoke
        self.result = result
        self.returnParameters = returnParameters
    }

    public func encode() -> [UInt8] {
        var out: [UInt8] = [0xC7, 0x01, invoke.rawValue, result.rawValue]
        if let returnParameters { out.append(0x01); returnParameters.encode(into: &out) } else { out.append(0x00) }
        return out
    }

    public static func decode(_ bytes: [UInt8], limits: DecodingLimits = .default) throws(COSEMError) -> ActionResponse {
        var r = ByteReader(bytes)
        let response = try decode(from: &r, limits: limits)
        try r.expectEnd()
        return response
    }

    /// Decodes an ACTION-Response-Normal; the reader must be at the `C7` tag.
    public static func decode(from r: inout ByteReader, limits: DecodingLimits = .default) throws(COSEMError) -> ActionResponse {
        let at = r.offset
        let tag = try r.u8("the ACTION-Response tag")
        guard tag == 0xC7 else { throw COSEMError.unexpectedTag(at: at, expected: 0xC7, found: tag, what: "ACTION-Response") }
        let choiceAt = r.offset
        let choice = try r.u8("the ACTION-Response type")
        guard choice == 1 else {
            throw COSEMError.invalidValue(at: choiceAt, what: "ACTION-Response type \(choice) (only 1, normal, is supported)")
        }
        let invoke = InvokeIdAndPriority(rawValue: try r.u8("the invoke id"))
        let result = ActionResult(rawValue: try r.u8("the action-result"))
        let flagAt = r.offset
        let flag = try r.u8("the return-parameters flag")
        var parameters: GetDataResult? = nil
        switch flag {
        case 0: break
        case 1: parameters = try GetDataResult.decode(from: &r, limits: limits)
        default: throw COSEMError.invalidValue(at: flagAt, what: "return-parameters flag \(flag) (must be 0 or 1)")
        }
        return ActionResponse(invoke: invoke, result: result, returnParameters: parameters)
    }

    /// `ACTION-Response-Normal invoke 1: success, returns octet-string(17)`.
    public var description: String {
        var text = "ACTION-Response-Normal " + APDU.describe(invoke) + ": " + result.description
        switch returnParameters {
        case nil: text += ", no return parameters"
        case let .data(v)?: text += ", returns " + v.description
        case let .error(e)?: text += ", returns error \(e.name) (\(e.rawValue))"
        }
        return text
    }
}
