// The xDLMS GET service, LN referencing (IEC 62056-5-3 §9.4.6 / Green Book), A-XDR encoded:
//   GET-Request-Normal     C0 01 <iid> <class u16> <OBIS 6> <attr i8> <00 | 01 <selector u8> <Data>>
//   GET-Request-Next       C0 02 <iid> <block u32>
//   GET-Request-With-List  C0 03 <iid> <n> {<class> <OBIS> <attr> <access-selection>}×n
//   GET-Response-Normal    C4 01 <iid> <00 <Data> | 01 <data-access-result>>
//   GET-Response-Block     C4 02 <iid> <last bool> <block u32> <00 <len> <raw> | 01 <data-access-result>>
//   GET-Response-With-List C4 03 <iid> <n> {00 <Data> | 01 <data-access-result>}×n

/// The invoke-id-and-priority byte: invoke id in the low 4 bits, bit 6 = confirmed, bit 7 = high priority.
/// `C1` = high priority, confirmed, invoke id 1.
public struct InvokeIdAndPriority: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public init(invokeId: UInt8, highPriority: Bool = true, confirmed: Bool = true) {
        rawValue = (invokeId & 0x0F) | (confirmed ? 0x40 : 0) | (highPriority ? 0x80 : 0)
    }

    public var invokeId: UInt8 { rawValue & 0x0F }
    public var isHighPriority: Bool { rawValue & 0x80 != 0 }
    public var isConfirmed: Bool { rawValue & 0x40 != 0 }
}

/// Data-access-result: why a meter refused to read or write an attribute.
public struct DataAccessResult: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let success = DataAccessResult(rawValue: 0)
    public static let hardwareFault = DataAccessResult(rawValue: 1)
    public static let temporaryFailure = DataAccessResult(rawValue: 2)
    public static let readWriteDenied = DataAccessResult(rawValue: 3)
    public static let objectUndefined = DataAccessResult(rawValue: 4)
    public static let objectClassInconsistent = DataAccessResult(rawValue: 9)
    public static let objectUnavailable = DataAccessResult(rawValue: 11)
    public static let typeUnmatched = DataAccessResult(rawValue: 12)
    public static let scopeOfAccessViolated = DataAccessResult(rawValue: 13)
    public static let dataBlockUnavailable = DataAccessResult(rawValue: 14)
    public static let longGetAborted = DataAccessResult(rawValue: 15)
    public static let noLongGetInProgress = DataAccessResult(rawValue: 16)
    public static let longSetAborted = DataAccessResult(rawValue: 17)
    public static let noLongSetInProgress = DataAccessResult(rawValue: 18)
    public static let dataBlockNumberInvalid = DataAccessResult(rawValue: 19)
    public static let otherReason = DataAccessResult(rawValue: 250)

    /// The Green Book name (`object-undefined`).
    public var name: String {
        switch rawValue {
        case 0: return "success"
        case 1: return "hardware-fault"
        case 2: return "temporary-failure"
        case 3: return "read-write-denied"
        case 4: return "object-undefined"
        case 9: return "object-class-inconsistent"
        case 11: return "object-unavailable"
        case 12: return "type-unmatched"
        case 13: return "scope-of-access-violated"
        case 14: return "data-block-unavailable"
        case 15: return "long-get-aborted"
        case 16: return "no-long-get-in-progress"
        case 17: return "long-set-aborted"
        case 18: return "no-long-set-in-progress"
        case 19: return "data-block-number-invalid"
        case 250: return "other-reason"
        default: return "data-access-result \(rawValue)"
        }
    }

    /// What the operator should do about it.
    public var advice: String {
        switch rawValue {
        case 0: return "no action needed"
        case 1: return "the meter reports a hardware fault; have the meter checked"
        case 2: return "the meter is busy; the read is retried at the next cycle"
        case 3: return "this client SAP may not read it; use a client with more rights (e.g. the management client with its password)"
        case 4: return "the meter has no such object; check the OBIS code in the configuration"
        case 9: return "the object exists with another class id; check the class id in the configuration"
        case 11: return "the object exists but is not available now; check the meter's configuration"
        case 12: return "the value has another type than the meter expects"
        case 13: return "the access is outside this association's rights; use a client with more rights"
        case 14, 15, 16, 19: return "the long transfer broke; it is retried from the start"
        default: return "check the OBIS code, class id and the client's rights"
        }
    }

    public var description: String { name }
}

/// A COSEM attribute reference: class id, logical name, attribute index.
public struct AttributeDescriptor: Hashable, Sendable, CustomStringConvertible {
    public var classId: UInt16
    public var obis: ObisCode
    public var attribute: Int8

    public init(classId: UInt16, obis: ObisCode, attribute: Int8) {
        self.classId = classId
        self.obis = obis
        self.attribute = attribute
    }

    public func encode(into out: inout [UInt8]) {
        out.appendScratch { raw in write(into: raw, at: 0) }
    }

    /// Writes the 9 bytes at `offset` of a scratch buffer; returns the offset after them.
    @inline(__always)
    func write(into raw: UnsafeMutableRawBufferPointer, at offset: Int) -> Int {
        raw[offset] = UInt8(truncatingIfNeeded: classId >> 8)
        raw[offset + 1] = UInt8(truncatingIfNeeded: classId)
        raw[offset + 2] = obis.a
        raw[offset + 3] = obis.b
        raw[offset + 4] = obis.c
        raw[offset + 5] = obis.d
        raw[offset + 6] = obis.e
        raw[offset + 7] = obis.f
        raw[offset + 8] = UInt8(bitPattern: attribute)
        return offset + 9
    }

    public static func decode(from r: inout ByteReader) throws(COSEMError) -> AttributeDescriptor {
        try r.need(9, "an attribute descriptor")
        let classId = try r.u16()
        let obis = ObisCode(try r.u8(), try r.u8(), try r.u8(), try r.u8(), try r.u8(), try r.u8())
        return AttributeDescriptor(classId: classId, obis: obis, attribute: Int8(bitPattern: try r.u8()))
    }

    /// `class 3 1-1:32.7.0.255 attr 2`.
    public var description: String { "class \(classId) \(obis.fullDescription) attr \(attribute)" }
}

/// A capture object definition: `structure { long-unsigned class, octet-string(6) OBIS, integer attr,
/// long-unsigned data-index }`.
public struct CaptureObjectDefinition: Hashable, Sendable {
    public var classId: UInt16
    public var obis: ObisCode
    public var attribute: Int8
    public var dataIndex: UInt16

    public init(classId: UInt16, obis: ObisCode, attribute: Int8, dataIndex: UInt16 = 0) {
        self.classId = classId
        self.obis = obis
        self.attribute = attribute
        self.dataIndex = dataIndex
    }

    public var dataValue: DataValue {
        .structure([.longUnsigned(classId), .octetString(obis.bytes), .integer(attribute), .longUnsigned(dataIndex)])
    }

    /// From the structure form; throws when the shape is wrong.
    public init(_ value: DataValue) throws(COSEMError) {
        guard case let .structure(e) = value, e.count == 4,
            case let .longUnsigned(classId) = e[0], let obis = e[1].obisValue,
            case let .integer(attribute) = e[2], case let .longUnsigned(index) = e[3]
        else {
            throw COSEMError.unexpectedValueShape(
                expected: "a capture object definition structure {class, OBIS, attribute, data index}",
                found: value.typeName)
        }
        self.init(classId: classId, obis: obis, attribute: attribute, dataIndex: index)
    }
}

/// Selective access to a profile generic buffer (attribute 2).
public enum SelectiveAccess: Equatable, Sendable {
    /// Selector 1: rows whose restricting object (normally the clock) lies in `from...to`.
    case byRange(restrictingObject: CaptureObjectDefinition, from: DataValue, to: DataValue,
                 selectedValues: [CaptureObjectDefinition])
    /// Selector 2: rows `fromEntry...toEntry` (1-based, 0 = to the last), columns `fromValue...toValue`
    /// (1-based, 0 = to the last).
    case byEntry(fromEntry: UInt32, toEntry: UInt32, fromValue: UInt16, toValue: UInt16)
    /// Any other selector, kept as given.
    case other(selector: UInt8, parameters: DataValue)

    /// By range over the clock column (0-0:1.0.0.255 attribute 2), all columns.
    public static func byClockRange(from: CosemDateTime, to: CosemDateTime) -> SelectiveAccess {
        .byRange(restrictingObject: CaptureObjectDefinition(classId: 8, obis: .clock, attribute: 2, dataIndex: 0),
                 from: .octetString(from.bytes), to: .octetString(to.bytes), selectedValues: [])
    }

    public var selector: UInt8 {
        switch self {
        case .byRange: return 1
        case .byEntry: return 2
        case let .other(selector, _): return selector
        }
    }

    public var parameters: DataValue {
        switch self {
        case let .byRange(restricting, from, to, selected):
            return .structure([restricting.dataValue, from, to, .array(selected.map { $0.dataValue })])
        case let .byEntry(fromEntry, toEntry, fromValue, toValue):
            return .structure([.doubleLongUnsigned(fromEntry), .doubleLongUnsigned(toEntry),
                               .longUnsigned(fromValue), .longUnsigned(toValue)])
        case let .other(_, parameters): return parameters
        }
    }

    /// Interprets a selector and its parameters (selectors 1 and 2 must have their standard shape).
    public init(selector: UInt8, parameters: DataValue) throws(COSEMError) {
        switch selector {
        case 1:
            guard case let .structure(e) = parameters, e.count == 4, case let .array(selected) = e[3] else {
                throw COSEMError.unexpectedValueShape(
                    expected: "range_descriptor structure {restricting object, from, to, selected values}",
                    found: parameters.typeName)
            }
            var columns: [CaptureObjectDefinition] = []
            for v in selected { columns.append(try CaptureObjectDefinition(v)) }
            self = .byRange(restrictingObject: try CaptureObjectDefinition(e[0]), from: e[1], to: e[2],
                            selectedValues: columns)
        case 2:
            guard case let .structure(e) = parameters, e.count == 4,
                case let .doubleLongUnsigned(fromEntry) = e[0], case let .doubleLongUnsigned(toEntry) = e[1],
                case let .longUnsigned(fromValue) = e[2], case let .longUnsigned(toValue) = e[3]
            else {
                throw COSEMError.unexpectedValueShape(
                    expected: "entry_descriptor structure {from entry, to entry, from value, to value}",
                    found: parameters.typeName)
            }
            self = .byEntry(fromEntry: fromEntry, toEntry: toEntry, fromValue: fromValue, toValue: toValue)
        default:
            self = .other(selector: selector, parameters: parameters)
        }
    }

    static func encode(_ access: SelectiveAccess?, into out: inout [UInt8]) {
        guard let access else { out.append(0x00); return }
        out.append(0x01)
        out.append(access.selector)
        access.parameters.encode(into: &out)
    }

    static func decodeOptional(from r: inout ByteReader, limits: DecodingLimits) throws(COSEMError) -> SelectiveAccess? {
        let at = r.offset
        let flag = try r.u8("the access-selection flag")
        switch flag {
        case 0: return nil
        case 1:
            let selector = try r.u8("the access selector")
            let parameters = try DataValue.decode(from: &r, limits: limits)
            return try SelectiveAccess(selector: selector, parameters: parameters)
        default:
            throw COSEMError.invalidValue(at: at, what: "access-selection flag \(flag) (must be 0 or 1)")
        }
    }
}

/// One attribute of a GET-Request-With-List.
public struct AttributeRequest: Equatable, Sendable {
    public var attribute: AttributeDescriptor
    public var access: SelectiveAccess?

    public init(_ attribute: AttributeDescriptor, access: SelectiveAccess? = nil) {
        self.attribute = attribute
        self.access = access
    }
}

/// A GET-Request (`C0`).
public enum GetRequest: Equatable, Sendable {
    case normal(invoke: InvokeIdAndPriority, attribute: AttributeDescriptor, access: SelectiveAccess?)
    /// Acknowledges block `block` of a long GET and asks for the next one.
    case next(invoke: InvokeIdAndPriority, block: UInt32)
    case withList(invoke: InvokeIdAndPriority, attributes: [AttributeRequest])

    public var invoke: InvokeIdAndPriority {
        switch self {
        case let .normal(invoke, _, _), let .next(invoke, _), let .withList(invoke, _): return invoke
        }
    }

    public func encode(into out: inout [UInt8]) {
        if case .normal = self {} else { out.append(0xC0) }
        switch self {
        case let .normal(invoke, attribute, access):
            // The whole request without selective access in one copy: C0 01 iid class OBIS attr 00.
            let plain: Bool
            if case .none = access { plain = true } else { plain = false }
            out.appendScratch { raw in
                raw[0] = 0xC0; raw[1] = 0x01; raw[2] = invoke.rawValue
                let end = attribute.write(into: raw, at: 3)
                raw[end] = 0x00
                return plain ? end + 1 : end
            }
            if !plain { SelectiveAccess.encode(access, into: &out) }
        case let .next(invoke, block):
            out.append(0x02); out.append(invoke.rawValue)
            out.appendU32(block)
        case let .withList(invoke, attributes):
            out.append(0x03); out.append(invoke.rawValue)
            out.appendAXDRLength(attributes.count)
            for a in attributes {
                a.attribute.encode(into: &out)
                SelectiveAccess.encode(a.access, into: &out)
            }
        }
    }

    public func encode() -> [UInt8] {
        var out: [UInt8] = []
        encode(into: &out)
        return out
    }

    /// Writes the encoding at the start of `buffer` and returns its length, or `nil` (nothing written)
    /// when `buffer` is too short. Normal requests without selective access (13 bytes) and Next (7) are
    /// written directly, with no allocation: a client can put its APDU straight into an HDLC frame (see
    /// `HDLCFrame.infoOffset`). The others go through ``encode()`` (one array) and are copied.
    @inlinable
    public func write(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        switch self {
        case let .normal(invoke, attribute, .none):
            guard buffer.count >= 13 else { return nil }
            buffer[0] = 0xC0
            buffer[1] = 0x01
            buffer[2] = invoke.rawValue
            buffer[3] = UInt8(truncatingIfNeeded: attribute.classId &>> 8)
            buffer[4] = UInt8(truncatingIfNeeded: attribute.classId)
            buffer[5] = attribute.obis.a
            buffer[6] = attribute.obis.b
            buffer[7] = attribute.obis.c
            buffer[8] = attribute.obis.d
            buffer[9] = attribute.obis.e
            buffer[10] = attribute.obis.f
            buffer[11] = UInt8(bitPattern: attribute.attribute)
            buffer[12] = 0x00
            return 13
        case let .next(invoke, block):
            guard buffer.count >= 7 else { return nil }
            buffer[0] = 0xC0
            buffer[1] = 0x02
            buffer[2] = invoke.rawValue
            buffer[3] = UInt8(truncatingIfNeeded: block &>> 24)
            buffer[4] = UInt8(truncatingIfNeeded: block &>> 16)
            buffer[5] = UInt8(truncatingIfNeeded: block &>> 8)
            buffer[6] = UInt8(truncatingIfNeeded: block)
            return 7
        default:
            return Self.copy(encode(), into: buffer)
        }
    }

    @usableFromInline static func copy(_ bytes: [UInt8], into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        guard buffer.count >= bytes.count else { return nil }
        bytes.withUnsafeBytes { source in
            if let from = source.baseAddress, let to = buffer.baseAddress { to.copyMemory(from: from, byteCount: source.count) }
        }
        return bytes.count
    }

    /// Decodes a GET-Request (the meter's side); the reader must be at the `C0` tag.
    public static func decode(from r: inout ByteReader, limits: DecodingLimits = .default) throws(COSEMError) -> GetRequest {
        let at = r.offset
        let tag = try r.u8("the GET-Request tag")
        guard tag == 0xC0 else { throw COSEMError.unexpectedTag(at: at, expected: 0xC0, found: tag, what: "GET-Request") }
        let choiceAt = r.offset
        let choice = try r.u8("the GET-Request type")
        let invoke = InvokeIdAndPriority(rawValue: try r.u8("the invoke id"))
        switch choice {
        case 1:
            let attribute = try AttributeDescriptor.decode(from: &r)
            return .normal(invoke: invoke, attribute: attribute,
                           access: try SelectiveAccess.decodeOptional(from: &r, limits: limits))
        case 2:
            return .next(invoke: invoke, block: try r.u32("the block number"))
        case 3:
            let countAt = r.offset
            let count = try r.axdrLength()
            if count > r.remaining / 10 {
                throw COSEMError.lengthExceedsInput(at: countAt, declared: count, remaining: r.remaining)
            }
            var list: [AttributeRequest] = []
            for _ in 0..<count {
                let attribute = try AttributeDescriptor.decode(from: &r)
                list.append(AttributeRequest(attribute, access: try SelectiveAccess.decodeOptional(from: &r, limits: limits)))
            }
            return .withList(invoke: invoke, attributes: list)
        default:
            throw COSEMError.invalidValue(at: choiceAt, what: "GET-Request type \(choice) (1 normal, 2 next, 3 with-list)")
        }
    }

    public static func decode(_ bytes: [UInt8], limits: DecodingLimits = .default) throws(COSEMError) -> GetRequest {
        var r = ByteReader(bytes)
        let request = try decode(from: &r, limits: limits)
        try r.expectEnd()
        return request
    }
}

/// The result for one attribute: the value, or why the meter refused it.
public enum GetDataResult: Equatable, Sendable {
    case data(DataValue)
    case error(DataAccessResult)

    /// The value, or the data-access-result as a thrown error.
    public func get() throws(COSEMError) -> DataValue {
        switch self {
        case let .data(v): return v
        case let .error(e): throw COSEMError.dataAccess(e)
        }
    }

    func encode(into out: inout [UInt8]) {
        switch self {
        case let .data(v): out.append(0x00); v.encode(into: &out)
        case let .error(e): out.append(0x01); out.append(e.rawValue)
        }
    }

    // Inlined into the GET-Response decoder: a register read then builds no intermediate result value.
    @inline(__always)
    static func decode(from r: inout ByteReader, limits: DecodingLimits) throws(COSEMError) -> GetDataResult {
        let at = r.offset
        let choice = try r.u8("the Get-Data-Result choice")
        switch choice {
        case 0: return .data(try DataValue.decode(from: &r, limits: limits))
        case 1: return .error(DataAccessResult(rawValue: try r.u8("the data-access-result")))
        default: throw COSEMError.invalidValue(at: at, what: "Get-Data-Result choice \(choice) (0 data, 1 error)")
        }
    }

    /// Decodes the body of a with-list result: `<n> {00 Data | 01 result}×n` (also the raw data of a
    /// with-list answer sent in blocks).
    public static func decodeList(from r: inout ByteReader, limits: DecodingLimits = .default)
        throws(COSEMError) -> [GetDataResult]
    {
        let countAt = r.offset
        let count = try r.axdrLength()
        if count > r.remaining / 2 {
            throw COSEMError.lengthExceedsInput(at: countAt, declared: count, remaining: r.remaining)
        }
        var results: [GetDataResult] = []
        results.reserveCapacity(count)
        for _ in 0..<count { results.append(try decode(from: &r, limits: limits)) }
        return results
    }
}

/// One block of a long GET answer.
public struct DataBlock: Equatable, Sendable {
    public var lastBlock: Bool
    public var blockNumber: UInt32
    /// The raw chunk (concatenate all chunks, then decode once), or the meter's refusal.
    public var result: RawDataResult

    public enum RawDataResult: Equatable, Sendable {
        case raw([UInt8])
        case error(DataAccessResult)
    }

    public init(lastBlock: Bool, blockNumber: UInt32, result: RawDataResult) {
        self.lastBlock = lastBlock
        self.blockNumber = blockNumber
        self.result = result
    }
}

/// A GET-Response (`C4`).
public enum GetResponse: Equatable, Sendable {
    case normal(invoke: InvokeIdAndPriority, result: GetDataResult)
    case withDatablock(invoke: InvokeIdAndPriority, block: DataBlock)
    case withList(invoke: InvokeIdAndPriority, results: [GetDataResult])

    public var invoke: InvokeIdAndPriority {
        switch self {
        case let .normal(invoke, _), let .withDatablock(invoke, _), let .withList(invoke, _): return invoke
        }
    }

    public func encode(into out: inout [UInt8]) {
        out.append(0xC4)
        switch self {
        case let .normal(invoke, result):
            out.append(0x01); out.append(invoke.rawValue)
            result.encode(into: &out)
        case let .withDatablock(invoke, block):
            out.append(0x02); out.append(invoke.rawValue)
            out.append(block.lastBlock ? 1 : 0)
            out.appendU32(block.blockNumber)
            switch block.result {
            case let .raw(bytes):
                out.append(0x00); out.appendAXDRLength(bytes.count); out.append(contentsOf: bytes)
            case let .error(e):
                out.append(0x01); out.append(e.rawValue)
            }
        case let .withList(invoke, results):
            out.append(0x03); out.append(invoke.rawValue)
            out.appendAXDRLength(results.count)
            for r in results { r.encode(into: &out) }
        }
    }

    public func encode() -> [UInt8] {
        var out: [UInt8] = []
        encode(into: &out)
        return out
    }

    /// Decodes a GET-Response; the reader must be at the `C4` tag. A scalar normal response allocates nothing.
    public static func decode(from r: inout ByteReader, limits: DecodingLimits = .default) throws(COSEMError) -> GetResponse {
        let at = r.offset
        let tag = try r.u8("the GET-Response tag")
        guard tag == 0xC4 else { throw COSEMError.unexpectedTag(at: at, expected: 0xC4, found: tag, what: "GET-Response") }
        let choiceAt = r.offset
        let choice = try r.u8("the GET-Response type")
        let invoke = InvokeIdAndPriority(rawValue: try r.u8("the invoke id"))
        switch choice {
        case 1:
            return .normal(invoke: invoke, result: try GetDataResult.decode(from: &r, limits: limits))
        case 2:
            let last = try r.u8("the last-block flag") != 0
            let number = try r.u32("the block number")
            let resultAt = r.offset
            let kind = try r.u8("the raw-data choice")
            switch kind {
            case 0:
                let lenAt = r.offset
                let n = try r.axdrLength()
                if n > r.remaining { throw COSEMError.lengthExceedsInput(at: lenAt, declared: n, remaining: r.remaining) }
                return .withDatablock(invoke: invoke, block: DataBlock(
                    lastBlock: last, blockNumber: number, result: .raw(try r.bytes(n, "a data block"))))
            case 1:
                return .withDatablock(invoke: invoke, block: DataBlock(
                    lastBlock: last, blockNumber: number,
                    result: .error(DataAccessResult(rawValue: try r.u8("the data-access-result")))))
            default:
                throw COSEMError.invalidValue(at: resultAt, what: "data block result choice \(kind) (0 raw data, 1 error)")
            }
        case 3:
            return .withList(invoke: invoke, results: try GetDataResult.decodeList(from: &r, limits: limits))
        default:
            throw COSEMError.invalidValue(at: choiceAt, what: "GET-Response type \(choice) (1 normal, 2 block, 3 with-list)")
        }
    }

    public static func decode(_ bytes: [UInt8], limits: DecodingLimits = .default) throws(COSEMError) -> GetResponse {
        var r = ByteReader(bytes)
        let response = try decode(from: &r, limits: limits)
        try r.expectEnd()
        return response
    }

    /// Bytes a GET-Response-With-Datablock adds around its chunk (with a 3-byte length form).
    public static let blockOverhead = 12

    /// The meter's side of a long GET: splits the encoded answer `data` (an A-XDR Data, or a with-list
    /// result list) into blocks whose APDUs fit `maxPDUSize`, numbered from `firstBlockNumber` (1 in the
    /// standard; some meters use 0).
    public static func datablocks(invoke: InvokeIdAndPriority, data: [UInt8], maxPDUSize: Int,
                                  firstBlockNumber: UInt32 = 1) -> [GetResponse] {
        let chunk = Swift.max(1, maxPDUSize - blockOverhead)
        var blocks: [GetResponse] = []
        var start = 0
        var number = firstBlockNumber
        repeat {
            let end = Swift.min(data.count, start + chunk)
            blocks.append(.withDatablock(invoke: invoke, block: DataBlock(
                lastBlock: end == data.count, blockNumber: number, result: .raw(Array(data[start..<end])))))
            start = end
            number &+= 1
        } while start < data.count
        return blocks
    }

    /// The meter's side of a GET: the answer as one GET-Response-Normal when it fits `maxPDUSize`, else as
    /// GET-Response-With-Datablock blocks (send the first; each GET-Request-Next n asks for the block after n).
    public static func answering(invoke: InvokeIdAndPriority, result: GetDataResult, maxPDUSize: Int,
                                 firstBlockNumber: UInt32 = 1) -> [GetResponse] {
        let single = GetResponse.normal(invoke: invoke, result: result)
        var encoded: [UInt8] = []
        single.encode(into: &encoded)
        guard encoded.count > maxPDUSize, case let .data(value) = result else { return [single] }
        return datablocks(invoke: invoke, data: value.encoded, maxPDUSize: maxPDUSize, firstBlockNumber: firstBlockNumber)
    }

    /// The meter's side of a GET-With-List: one GET-Response-With-List, or blocks of its result list when
    /// it does not fit `maxPDUSize`.
    public static func answering(invoke: InvokeIdAndPriority, results: [GetDataResult], maxPDUSize: Int,
                                 firstBlockNumber: UInt32 = 1) -> [GetResponse] {
        let single = GetResponse.withList(invoke: invoke, results: results)
        let encoded = single.encode()
        guard encoded.count > maxPDUSize else { return [single] }
        // The raw data of a with-list answer in blocks is the result list: count, then each result.
        return datablocks(invoke: invoke, data: Array(encoded.dropFirst(3)), maxPDUSize: maxPDUSize,
                          firstBlockNumber: firstBlockNumber)
    }
}
