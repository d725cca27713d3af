// The xDLMS SET service, LN referencing (IEC 62056-5-3 / Green Book), normal form only (what writing the
// clock needs; values that do not fit one APDU would need SET with datablocks, which no caller sends):
//   SET-Request-Normal   C1 01 <iid> <class u16> <OBIS 6> <attr i8> <00 | 01 <selector u8> <Data>> <Data>
//   SET-Response-Normal  C5 01 <iid> <data-access-result>

/// A SET-Request (`C1`); only the normal form.
public struct SetRequest: Equatable, Sendable, CustomStringConvertible {
    public var invoke: InvokeIdAndPriority
    public var attribute: AttributeDescriptor
    public var access: SelectiveAccess?
    /// The value to write.
    public var value: DataValue

    public init(invoke: InvokeIdAndPriority, attribute: AttributeDescriptor, access: SelectiveAccess? = nil,
                value: DataValue) {
        self.invoke = invoke
        self.attribute = attribute
        self.access = access
        self.value = value
    }

    public func encode(into out: inout [UInt8]) {
        out.append(0xC1); out.append(0x01); out.append(invoke.rawValue)
        attribute.encode(into: &out)
        SelectiveAccess.encode(access, into: &out)
        value.encode(into: &out)
    }

    public func encode() -> [UInt8] {
        var out: [UInt8] = []
        encode(into: &out)
        return out
    }

    /// Decodes a SET-Request-Normal (the meter's side); the reader must be at the `C1` tag. The block forms
    /// (2 first block, 3 block, 4 with-list, 5 first block with list) are refused by name.
    public static func decode(from r: inout ByteReader, limits: DecodingLimits = .default) throws(COSEMError) -> SetRequest {
        let at = r.offset
        let tag = try r.u8("the SET-Request tag")
        guard tag == 0xC1 else { throw COSEMError.unexpectedTag(at: at, expected: 0xC1, found: tag, what: "SET-Request") }
        let choiceAt = r.offset
        let choice = try r.u8("the SET-Request type")
        guard choice == 1 else {
            throw COSEMError.invalidValue(at: choiceAt,
                what: "SET-Request type \(choice) (only 1, normal, is supported; 2-5 are block and list forms)")
        }
        let invoke = InvokeIdAndPriority(rawValue: try r.u8("the invoke id"))
        let attribute = try AttributeDescriptor.decode(from: &r)
        let access = try SelectiveAccess.decodeOptional(from: &r, limits: limits)
        let value = try DataValue.decode(from: &r, limits: limits)
        return SetRequest(invoke: invoke, attribute: attribute, access: access, value: value)
    }

    public static func decode(_ bytes: [UInt8], limits: DecodingLimits = .default) throws(COSEMError) -> SetRequest {
        var r = ByteReader(bytes)
        let request = try decode(from: &r, limits: limits)
        try r.expectEnd()
        return request
    }

    /// `SET-Request-Normal invoke 1 (high priority): class 8 0-0:1.0.0.255 attr 2 = octet-string(12) ...`.
    public var description: String {
        "SET-Request-Normal " + APDU.describe(invoke) + ": " + attribute.description + APDU.describe(access)
            + " = " + (value.dateTimeValue?.description ?? value.description)
    }
}

/// A SET-Response (`C5`); only the normal form.
public struct SetResponse: Equatable, Sendable, CustomStringConvertible {
    public var invoke: InvokeIdAndPriority
    public var result: DataAccessResult

    public init(invoke: InvokeIdAndPriority, result: DataAccessResult) {
        self.invoke = invoke
        self.result = result
    }

    public func encode(into out: inout [UInt8]) {
        out.append(0xC5); out.append(0x01); out.append(invoke.rawValue); out.append(result.rawValue)
    }

    public func encode() -> [UInt8] {
        var out: [UInt8] = []
        encode(into: &out)
        return out
    }

    /// Decodes a SET-Response-Normal; the reader must be at the `C5` tag.
    public static func decode(from r: inout ByteReader) throws(COSEMError) -> SetResponse {
        let at = r.offset
        let tag = try r.u8("the SET-Response tag")
        guard tag == 0xC5 else { throw COSEMError.unexpectedTag(at: at, expected: 0xC5, found: tag, what: "SET-Response") }
        let choiceAt = r.offset
        let choice = try r.u8("the SET-Response type")
        guard choice == 1 else {
            throw COSEMError.invalidValue(at: choiceAt,
                what: "SET-Response type \(choice) (only 1, normal, is supported; the request was a normal SET)")
        }
        let invoke = InvokeIdAndPriority(rawValue: try r.u8("the invoke id"))
        return SetResponse(invoke: invoke, result: DataAccessResult(rawValue: try r.u8("the data-access-result")))
    }

    public static func decode(_ bytes: [UInt8]) throws(COSEMError) -> SetResponse {
        var r = ByteReader(bytes)
        let response = try decode(from: &r)
        try r.expectEnd()
        return response
    }

    /// `SET-Response-Normal invoke 1: read-write-denied (3)`.
    public var description: String {
        "SET-Response-Normal " + APDU.describe(invoke) + ": \(result.name) (\(result.rawValue))"
    }
}
