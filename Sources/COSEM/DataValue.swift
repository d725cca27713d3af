// A-XDR encoding of the COSEM Data CHOICE (IEC 62056-5-3 / Green Book). Decoding treats its input as
// untrusted: every length is checked against the bytes that remain before anything is allocated, nesting
// depth and the total element count are bounded, and no input makes it trap.

/// A-XDR type tags of the Data CHOICE.
public enum DataTag {
    public static let null: UInt8 = 0x00
    public static let array: UInt8 = 0x01
    public static let structure: UInt8 = 0x02
    public static let boolean: UInt8 = 0x03
    public static let bitString: UInt8 = 0x04
    public static let doubleLong: UInt8 = 0x05
    public static let doubleLongUnsigned: UInt8 = 0x06
    public static let octetString: UInt8 = 0x09
    public static let visibleString: UInt8 = 0x0A
    public static let utf8String: UInt8 = 0x0C
    public static let bcd: UInt8 = 0x0D
    public static let integer: UInt8 = 0x0F
    public static let long: UInt8 = 0x10
    public static let unsigned: UInt8 = 0x11
    public static let longUnsigned: UInt8 = 0x12
    public static let compactArray: UInt8 = 0x13
    public static let long64: UInt8 = 0x14
    public static let long64Unsigned: UInt8 = 0x15
    public static let enumerated: UInt8 = 0x16
    public static let float32: UInt8 = 0x17
    public static let float64: UInt8 = 0x18
    public static let dateTime: UInt8 = 0x19
    public static let date: UInt8 = 0x1A
    public static let time: UInt8 = 0x1B
}

/// A bit-string: `bitCount` bits, most significant bit of the first byte first.
public struct BitString: Hashable, Sendable {
    public var bitCount: Int
    public var bytes: [UInt8]

    /// `bytes` must hold `(bitCount + 7) / 8` bytes; unused trailing bits are kept as given.
    public init(bitCount: Int, bytes: [UInt8]) {
        self.bitCount = Swift.max(0, bitCount)
        self.bytes = bytes
    }

    /// Bit `index` (0 = most significant bit of the first byte); false past the end.
    public subscript(index: Int) -> Bool {
        guard index >= 0, index < bitCount, index / 8 < bytes.count else { return false }
        return bytes[index / 8] & (0x80 >> UInt8(index % 8)) != 0
    }
}

/// A compact-array kept raw: its type description and its contents, each exactly as on the wire.
public struct CompactArray: Hashable, Sendable {
    /// The TypeDescription bytes (a tag, or an array/structure description).
    public var typeDescription: [UInt8]
    /// The array-contents bytes (without their length prefix).
    public var contents: [UInt8]

    public init(typeDescription: [UInt8], contents: [UInt8]) {
        self.typeDescription = typeDescription
        self.contents = contents
    }
}

/// Bounds applied when decoding untrusted A-XDR.
public struct DecodingLimits: Sendable, Hashable {
    /// Maximum nesting of arrays/structures (a value inside one structure is depth 1).
    public var maxDepth: Int
    /// Maximum number of elements in all arrays and structures of one value together.
    public var maxElements: Int
    /// Maximum size in bytes of one string/octet-string/bit-string/compact-array.
    public var maxValueBytes: Int

    @inlinable public init(maxDepth: Int = 16, maxElements: Int = 100_000, maxValueBytes: Int = 1 << 20) {
        self.maxDepth = maxDepth
        self.maxElements = maxElements
        self.maxValueBytes = maxValueBytes
    }

    /// 16 levels, 100,000 elements, 1 MiB per value. Computed, not a stored global: decoding a register
    /// then reads no global through an accessor.
    @inlinable public static var `default`: DecodingLimits { DecodingLimits() }

    /// The deepest nesting any decode accepts, whatever `maxDepth` says.
    public static let maxSupportedDepth = 64
}

/// One value of the COSEM Data CHOICE, as A-XDR encodes it.
///
/// Strings keep their exact bytes (`visibleString`, `utf8String`) so that decode-then-encode is the identity
/// even for bytes a meter should not have sent; `text` gives a readable form.
public enum DataValue: Sendable, Equatable, CustomStringConvertible {
    case null
    case array([DataValue])
    case structure([DataValue])
    case boolean(Bool)
    case bitString(BitString)
    case doubleLong(Int32)
    case doubleLongUnsigned(UInt32)
    case octetString([UInt8])
    case visibleString([UInt8])
    case utf8String([UInt8])
    /// One byte of two BCD digits.
    case bcd(UInt8)
    case integer(Int8)
    case long(Int16)
    case unsigned(UInt8)
    case longUnsigned(UInt16)
    case compactArray(CompactArray)
    case long64(Int64)
    case long64Unsigned(UInt64)
    case enumerated(UInt8)
    case float32(Float)
    case float64(Double)
    case dateTime(CosemDateTime)
    case date(CosemDate)
    case time(CosemTime)

    /// The A-XDR tag of this value.
    public var tag: UInt8 {
        switch self {
        case .null: return DataTag.null
        case .array: return DataTag.array
        case .structure: return DataTag.structure
        case .boolean: return DataTag.boolean
        case .bitString: return DataTag.bitString
        case .doubleLong: return DataTag.doubleLong
        case .doubleLongUnsigned: return DataTag.doubleLongUnsigned
        case .octetString: return DataTag.octetString
        case .visibleString: return DataTag.visibleString
        case .utf8String: return DataTag.utf8String
        case .bcd: return DataTag.bcd
        case .integer: return DataTag.integer
        case .long: return DataTag.long
        case .unsigned: return DataTag.unsigned
        case .longUnsigned: return DataTag.longUnsigned
        case .compactArray: return DataTag.compactArray
        case .long64: return DataTag.long64
        case .long64Unsigned: return DataTag.long64Unsigned
        case .enumerated: return DataTag.enumerated
        case .float32: return DataTag.float32
        case .float64: return DataTag.float64
        case .dateTime: return DataTag.dateTime
        case .date: return DataTag.date
        case .time: return DataTag.time
        }
    }

    /// The Green Book name of the type (`double-long-unsigned`), for messages and the decode command.
    public var typeName: String { Self.typeName(tag: tag) }

    public static func typeName(tag: UInt8) -> String {
        switch tag {
        case DataTag.null: return "null-data"
        case DataTag.array: return "array"
        case DataTag.structure: return "structure"
        case DataTag.boolean: return "boolean"
        case DataTag.bitString: return "bit-string"
        case DataTag.doubleLong: return "double-long"
        case DataTag.doubleLongUnsigned: return "double-long-unsigned"
        case DataTag.octetString: return "octet-string"
        case DataTag.visibleString: return "visible-string"
        case DataTag.utf8String: return "utf8-string"
        case DataTag.bcd: return "bcd"
        case DataTag.integer: return "integer"
        case DataTag.long: return "long"
        case DataTag.unsigned: return "unsigned"
        case DataTag.longUnsigned: return "long-unsigned"
        case DataTag.compactArray: return "compact-array"
        case DataTag.long64: return "long64"
        case DataTag.long64Unsigned: return "long64-unsigned"
        case DataTag.enumerated: return "enum"
        case DataTag.float32: return "float32"
        case DataTag.float64: return "float64"
        case DataTag.dateTime: return "date-time"
        case DataTag.date: return "date"
        case DataTag.time: return "time"
        default: return "unknown type 0x" + hex(tag)
        }
    }

    // Floats compare by bit pattern, so NaN payloads round-trip and a decoded value equals its source.
    public static func == (lhs: DataValue, rhs: DataValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.array(a), .array(b)), let (.structure(a), .structure(b)): return a == b
        case let (.boolean(a), .boolean(b)): return a == b
        case let (.bitString(a), .bitString(b)): return a == b
        case let (.doubleLong(a), .doubleLong(b)): return a == b
        case let (.doubleLongUnsigned(a), .doubleLongUnsigned(b)): return a == b
        case let (.octetString(a), .octetString(b)), let (.visibleString(a), .visibleString(b)),
            let (.utf8String(a), .utf8String(b)):
            return a == b
        case let (.bcd(a), .bcd(b)), let (.unsigned(a), .unsigned(b)), let (.enumerated(a), .enumerated(b)):
            return a == b
        case let (.integer(a), .integer(b)): return a == b
        case let (.long(a), .long(b)): return a == b
        case let (.longUnsigned(a), .longUnsigned(b)): return a == b
        case let (.compactArray(a), .compactArray(b)): return a == b
        case let (.long64(a), .long64(b)): return a == b
        case let (.long64Unsigned(a), .long64Unsigned(b)): return a == b
        case let (.float32(a), .float32(b)): return a.bitPattern == b.bitPattern
        case let (.float64(a), .float64(b)): return a.bitPattern == b.bitPattern
        case let (.dateTime(a), .dateTime(b)): return a == b
        case let (.date(a), .date(b)): return a == b
        case let (.time(a), .time(b)): return a == b
        default: return false
        }
    }
}

// MARK: - Accessors

extension DataValue {
    /// The value as an exact integer, for every integer type (and enum, bcd as its raw byte); nil otherwise.
    @inlinable public var integerValue: Int64? {
        switch self {
        case let .doubleLong(v): return Int64(v)
        case let .doubleLongUnsigned(v): return Int64(v)
        case let .integer(v): return Int64(v)
        case let .long(v): return Int64(v)
        case let .unsigned(v): return Int64(v)
        case let .longUnsigned(v): return Int64(v)
        case let .long64(v): return v
        case let .long64Unsigned(v): return v <= UInt64(Int64.max) ? Int64(v) : nil
        case let .enumerated(v): return Int64(v)
        case let .bcd(v): return Int64(v)
        case let .boolean(v): return v ? 1 : 0
        default: return nil
        }
    }

    /// The value as a UInt64 for unsigned integer types; nil for others and negative values.
    @inlinable public var unsignedValue: UInt64? {
        @inline(__always) get {
            // The unsigned types (what registers hold) first, without going through `integerValue`.
            switch self {
            case let .doubleLongUnsigned(v): return UInt64(v)
            case let .longUnsigned(v): return UInt64(v)
            case let .unsigned(v): return UInt64(v)
            case let .long64Unsigned(v): return v
            default:
                if let v = integerValue, v >= 0 { return UInt64(v) }
                return nil
            }
        }
    }

    /// The value as a Double for every numeric type (integers and floats); nil otherwise.
    public var doubleValue: Double? {
        switch self {
        case let .float32(v): return Double(v)
        case let .float64(v): return v
        case let .long64Unsigned(v): return Double(v)
        default: return integerValue.map { Double($0) }
        }
    }

    /// The bytes of an octet-string, visible-string or utf8-string.
    public var octets: [UInt8]? {
        switch self {
        case let .octetString(b), let .visibleString(b), let .utf8String(b): return b
        default: return nil
        }
    }

    /// A string's text (invalid UTF-8 replaced), for visible-string, utf8-string and octet-string.
    public var text: String? { octets.map { String(decoding: $0, as: UTF8.self) } }

    /// The elements of an array or structure.
    public var elements: [DataValue]? {
        switch self {
        case let .array(e), let .structure(e): return e
        default: return nil
        }
    }

    /// A date-time from tag 0x19 or from an octet-string of 12 bytes (how most meters send it).
    public var dateTimeValue: CosemDateTime? {
        switch self {
        case let .dateTime(v): return v
        case let .octetString(b) where b.count == 12: return try? CosemDateTime(bytes: b)
        default: return nil
        }
    }

    /// An OBIS code from an octet-string of 6 bytes.
    public var obisValue: ObisCode? {
        if case let .octetString(b) = self { return ObisCode(bytes: b) }
        return nil
    }

    /// A one-line rendering for logs and the decode command: `long-unsigned 2301`,
    /// `structure { integer -1, enum 35 }`, `octet-string 01 01 20 07 00 FF`.
    public var description: String {
        var out = ""
        render(into: &out, depth: 0)
        return out
    }

    private func render(into out: inout String, depth: Int) {
        out += typeName
        switch self {
        case .null: break
        case let .array(e), let .structure(e):
            if depth > 32 { out += " {...}"; return }
            out += "[\(e.count)] {"
            for (i, v) in e.enumerated() {
                out += i == 0 ? " " : ", "
                v.render(into: &out, depth: depth + 1)
            }
            out += " }"
        case let .boolean(v): out += v ? " true" : " false"
        case let .bitString(b): out += "(\(b.bitCount)) " + hexString(b.bytes)
        case .float32, .float64:
            // Floating-point printing is not available in Embedded Swift; show the exact bits instead.
            if case let .float32(v) = self { out += " bits " + hexString(bytesOf(UInt64(v.bitPattern), 4)) }
            if case let .float64(v) = self { out += " bits " + hexString(bytesOf(v.bitPattern, 8)) }
        case let .octetString(b):
            out += "(\(b.count)) " + hexString(b)
            if let obis = ObisCode(bytes: b) { out += " (" + obis.fullDescription + ")" }
            if b.count == 12, let dt = try? CosemDateTime(bytes: b) { out += " (" + dt.description + ")" }
        case let .visibleString(b), let .utf8String(b):
            out += " \"" + String(decoding: b, as: UTF8.self) + "\""
        case let .compactArray(c):
            out += " type " + hexString(c.typeDescription) + " contents(\(c.contents.count)) " + hexString(c.contents)
        case let .dateTime(v): out += " " + v.description
        case let .date(v): out += " " + hexString(v.bytes)
        case let .time(v): out += " " + hexString(v.bytes)
        case let .long64Unsigned(v): out += " \(v)"
        default:
            if let v = integerValue { out += " \(v)" }
        }
    }
}

func bytesOf(_ v: UInt64, _ count: Int) -> [UInt8] {
    var out: [UInt8] = []
    var i = count - 1
    while i >= 0 { out.append(UInt8(truncatingIfNeeded: v >> UInt64(i * 8))); i -= 1 }
    return out
}

/// Bytes as upper-case hex separated by spaces.
public func hexString(_ bytes: [UInt8]) -> String {
    var out = ""
    out.reserveCapacity(bytes.count * 3)
    for (i, b) in bytes.enumerated() {
        if i > 0 { out += " " }
        out += hex(b)
    }
    return out
}

// MARK: - Encoding

extension DataValue {
    /// Appends the A-XDR encoding (tag, length where the type has one, contents) to `out`.
    public func encode(into out: inout [UInt8]) {
        out.append(tag)
        switch self {
        case .null: break
        case let .array(e), let .structure(e):
            out.appendAXDRLength(e.count)
            for v in e { v.encode(into: &out) }
        case let .boolean(v): out.append(v ? 1 : 0)
        case let .bitString(b):
            out.appendAXDRLength(b.bitCount)
            let n = Swift.max(0, b.bitCount) / 8 + (b.bitCount > 0 && b.bitCount % 8 != 0 ? 1 : 0)
            for i in 0..<n { out.append(i < b.bytes.count ? b.bytes[i] : 0) }
        case let .doubleLong(v): out.appendU32(UInt32(bitPattern: v))
        case let .doubleLongUnsigned(v): out.appendU32(v)
        case let .octetString(b), let .visibleString(b), let .utf8String(b):
            out.appendAXDRLength(b.count)
            out.append(contentsOf: b)
        case let .bcd(v), let .unsigned(v), let .enumerated(v): out.append(v)
        case let .integer(v): out.append(UInt8(bitPattern: v))
        case let .long(v): out.appendU16(UInt16(bitPattern: v))
        case let .longUnsigned(v): out.appendU16(v)
        case let .compactArray(c):
            out.append(contentsOf: c.typeDescription)
            out.appendAXDRLength(c.contents.count)
            out.append(contentsOf: c.contents)
        case let .long64(v): out.appendU64(UInt64(bitPattern: v))
        case let .long64Unsigned(v): out.appendU64(v)
        case let .float32(v): out.appendU32(v.bitPattern)
        case let .float64(v): out.appendU64(v.bitPattern)
        case let .dateTime(v): out.append(contentsOf: v.bytes)
        case let .date(v): out.append(contentsOf: v.bytes)
        case let .time(v): out.append(contentsOf: v.bytes)
        }
    }

    /// The A-XDR encoding as a new array.
    public var encoded: [UInt8] {
        var out: [UInt8] = []
        encode(into: &out)
        return out
    }
}

// MARK: - Decoding

extension DataValue {
    /// Decodes exactly one value that fills `bytes` (trailing bytes are an error).
    public static func decode(_ bytes: [UInt8], limits: DecodingLimits = .default) throws(COSEMError) -> DataValue {
        var reader = ByteReader(bytes)
        let value = try decode(from: &reader, limits: limits)
        try reader.expectEnd()
        return value
    }

    /// Decodes one value at the reader's position and advances past it. A scalar allocates nothing.
    @inline(__always)
    public static func decode(from reader: inout ByteReader, limits: DecodingLimits = .default)
        throws(COSEMError) -> DataValue
    {
        var budget = limits.maxElements
        var bounded = limits
        // Recursion is bounded whatever the caller asks, so no input can exhaust the stack.
        bounded.maxDepth = Swift.min(limits.maxDepth, DecodingLimits.maxSupportedDepth)
        return try decode(from: &reader, limits: bounded, depth: 0, budget: &budget)
    }

    static func decode(from r: inout ByteReader, limits: DecodingLimits, depth: Int, budget: inout Int)
        throws(COSEMError) -> DataValue
    {
        let at = r.offset
        let tag = try r.u8("a data type tag")
        switch tag {
        case DataTag.null: return .null
        case DataTag.array, DataTag.structure:
            if depth >= limits.maxDepth { throw COSEMError.nestingTooDeep(at: at, limit: limits.maxDepth) }
            let countAt = r.offset
            let count = try r.axdrLength()
            // Each element takes at least one byte: a count above the remaining bytes is a lie, caught before
            // any allocation sized by it.
            if count > r.remaining {
                throw COSEMError.lengthExceedsInput(at: countAt, declared: count, remaining: r.remaining)
            }
            if count > budget {
                throw COSEMError.tooManyElements(at: countAt, count: count, limit: limits.maxElements)
            }
            budget -= count
            var elements: [DataValue] = []
            elements.reserveCapacity(count)
            for _ in 0..<count {
                elements.append(try decode(from: &r, limits: limits, depth: depth + 1, budget: &budget))
            }
            return tag == DataTag.array ? .array(elements) : .structure(elements)
        case DataTag.boolean:
            // A-XDR booleans are 0 or 1; some meters send 0xFF for true, accepted as non-zero.
            let v = try r.u8("a boolean")
            return .boolean(v != 0)
        case DataTag.bitString:
            let lenAt = r.offset
            let bits = try r.axdrLength()
            let n = bits / 8 + (bits % 8 == 0 ? 0 : 1)
            try checkSize(n, at: lenAt, reader: r, limits: limits)
            return .bitString(BitString(bitCount: bits, bytes: try r.bytes(n, "a bit-string")))
        case DataTag.doubleLong: return .doubleLong(Int32(bitPattern: try r.u32("a double-long")))
        case DataTag.doubleLongUnsigned: return .doubleLongUnsigned(try r.u32("a double-long-unsigned"))
        case DataTag.octetString, DataTag.visibleString, DataTag.utf8String:
            let lenAt = r.offset
            let n = try r.axdrLength()
            try checkSize(n, at: lenAt, reader: r, limits: limits)
            let b = try r.bytes(n, "a string")
            switch tag {
            case DataTag.octetString: return .octetString(b)
            case DataTag.visibleString: return .visibleString(b)
            default: return .utf8String(b)
            }
        case DataTag.bcd: return .bcd(try r.u8("a bcd"))
        case DataTag.integer: return .integer(Int8(bitPattern: try r.u8("an integer")))
        case DataTag.long: return .long(Int16(bitPattern: try r.u16("a long")))
        case DataTag.unsigned: return .unsigned(try r.u8("an unsigned"))
        case DataTag.longUnsigned: return .longUnsigned(try r.u16("a long-unsigned"))
        case DataTag.compactArray:
            let descStart = r.position
            try skipTypeDescription(&r, limits: limits, depth: depth)
            let description = Array(r.storage[descStart..<r.position])
            let lenAt = r.offset
            let n = try r.axdrLength()
            try checkSize(n, at: lenAt, reader: r, limits: limits)
            return .compactArray(CompactArray(typeDescription: description, contents: try r.bytes(n, "compact-array contents")))
        case DataTag.long64: return .long64(Int64(bitPattern: try r.u64("a long64")))
        case DataTag.long64Unsigned: return .long64Unsigned(try r.u64("a long64-unsigned"))
        case DataTag.enumerated: return .enumerated(try r.u8("an enum"))
        case DataTag.float32: return .float32(Float(bitPattern: try r.u32("a float32")))
        case DataTag.float64: return .float64(Double(bitPattern: try r.u64("a float64")))
        case DataTag.dateTime: return .dateTime(try CosemDateTime(reading: &r))
        case DataTag.date: return .date(try CosemDate(reading: &r))
        case DataTag.time: return .time(try CosemTime(reading: &r))
        default:
            throw COSEMError.unknownDataTag(at: at, tag: tag)
        }
    }

    static func checkSize(_ n: Int, at: Int, reader r: ByteReader, limits: DecodingLimits) throws(COSEMError) {
        if n > r.remaining { throw COSEMError.lengthExceedsInput(at: at, declared: n, remaining: r.remaining) }
        if n > limits.maxValueBytes { throw COSEMError.valueTooLarge(at: at, size: n, limit: limits.maxValueBytes) }
    }

    /// Skips one TypeDescription of a compact-array: a simple tag, `01 <count u16> <type>` or
    /// `02 <count> <type>×count`.
    static func skipTypeDescription(_ r: inout ByteReader, limits: DecodingLimits, depth: Int) throws(COSEMError) {
        let at = r.offset
        let tag = try r.u8("a type description")
        switch tag {
        case DataTag.array:
            if depth >= limits.maxDepth { throw COSEMError.nestingTooDeep(at: at, limit: limits.maxDepth) }
            _ = try r.u16("an array type description")
            try skipTypeDescription(&r, limits: limits, depth: depth + 1)
        case DataTag.structure:
            if depth >= limits.maxDepth { throw COSEMError.nestingTooDeep(at: at, limit: limits.maxDepth) }
            let countAt = r.offset
            let count = try r.axdrLength()
            if count > r.remaining { throw COSEMError.lengthExceedsInput(at: countAt, declared: count, remaining: r.remaining) }
            for _ in 0..<count { try skipTypeDescription(&r, limits: limits, depth: depth + 1) }
        case DataTag.null, DataTag.boolean, DataTag.bitString, DataTag.doubleLong, DataTag.doubleLongUnsigned,
            DataTag.octetString, DataTag.visibleString, DataTag.utf8String, DataTag.bcd, DataTag.integer,
            DataTag.long, DataTag.unsigned, DataTag.longUnsigned, DataTag.long64, DataTag.long64Unsigned,
            DataTag.enumerated, DataTag.float32, DataTag.float64, DataTag.dateTime, DataTag.date, DataTag.time:
            break
        default:
            throw COSEMError.unknownDataTag(at: at, tag: tag)
        }
    }
}
