import COSEM

/// A minimal JSON writer (RFC 8259) that needs no Foundation: `JSONEncoder` alone costs ~7 MB of static binary
/// on a gateway whose whole budget is 12 MB.
///
/// Write values in document order; the writer places commas, colons and (in `.pretty` style) indentation.
/// Strings are escaped per RFC 8259 section 7; non-finite doubles are written as `null` because JSON has no
/// NaN or infinity. Doubles print in Swift's shortest round-trip form (`135.4`, `1.302`, `1e-05`), which is
/// also what Python's `json.dumps` prints for the same double.
///
/// ```swift
/// var json = JSONWriter()
/// json.beginObject()
/// json.key("seq"); json.integer(42)
/// json.endObject()
/// json.output  // {"seq":42}
/// ```
public struct JSONWriter: Sendable {
    /// How the document is laid out.
    public enum Style: Sendable, Equatable {
        /// No whitespace at all: what goes on the wire and on flash.
        case compact
        /// Two-space indentation and `"key": value`, the layout of the prototype's README example.
        case pretty
    }

    public let style: Style
    /// The UTF-8 bytes written so far.
    public private(set) var bytes: [UInt8] = []
    // One entry per open container: whether it already holds a member (so the next needs a comma).
    private var hasMember: [Bool] = []
    private var afterKey = false

    public init(style: Style = .compact, reservingCapacity capacity: Int = 256) {
        self.style = style
        bytes.reserveCapacity(capacity)
    }

    /// The document as a string.
    public var output: String { String(decoding: bytes, as: UTF8.self) }

    // MARK: containers

    public mutating func beginObject() { open(0x7B) }
    public mutating func endObject() { close(0x7D) }
    public mutating func beginArray() { open(0x5B) }
    public mutating func endArray() { close(0x5D) }

    /// Writes an object member's name; the next value written is its value.
    public mutating func key(_ name: String) {
        separate()
        appendQuoted(name)
        bytes.append(0x3A)
        if style == .pretty { bytes.append(0x20) }
        afterKey = true
    }

    // MARK: scalars

    public mutating func string(_ value: String) {
        separate()
        appendQuoted(value)
    }

    public mutating func integer<T: BinaryInteger>(_ value: T) {
        separate()
        bytes.append(contentsOf: String(value).utf8)
    }

    /// A double in shortest round-trip form; NaN and infinities become `null`.
    public mutating func number(_ value: Double) {
        separate()
        if value.isFinite {
            bytes.append(contentsOf: value.description.utf8)
        } else {
            bytes.append(contentsOf: "null".utf8)
        }
    }

    /// An exact number: integers as integers, Doubles as ``number(_:)-(Double)`` writes them.
    public mutating func number(_ value: ExactNumber) {
        switch value {
        case let .integer(v): integer(v)
        case let .unsigned(v): integer(v)
        case let .double(v): number(v)
        }
    }

    public mutating func bool(_ value: Bool) {
        separate()
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    public mutating func null() {
        separate()
        bytes.append(contentsOf: "null".utf8)
    }

    // MARK: conveniences for members

    public mutating func member(_ name: String, _ value: String) { key(name); string(value) }
    public mutating func member<T: BinaryInteger>(_ name: String, _ value: T) { key(name); integer(value) }
    public mutating func member(_ name: String, _ value: Double) { key(name); number(value) }
    public mutating func member(_ name: String, _ value: Bool) { key(name); bool(value) }
    /// An optional string member: `null` when nil.
    public mutating func member(_ name: String, _ value: String?) {
        key(name)
        if let value { string(value) } else { null() }
    }

    // MARK: internals

    private mutating func open(_ bracket: UInt8) {
        separate()
        bytes.append(bracket)
        hasMember.append(false)
    }

    private mutating func close(_ bracket: UInt8) {
        let hadMembers = hasMember.popLast() ?? false
        if style == .pretty && hadMembers { newline() }
        bytes.append(bracket)
    }

    // Writes what must come before a value or key: a comma and/or line break, nothing after a key.
    private mutating func separate() {
        if afterKey {
            afterKey = false
            return
        }
        guard !hasMember.isEmpty else { return }
        if hasMember[hasMember.count - 1] { bytes.append(0x2C) } else { hasMember[hasMember.count - 1] = true }
        if style == .pretty { newline() }
    }

    private mutating func newline() {
        bytes.append(0x0A)
        for _ in 0..<(hasMember.count * 2) { bytes.append(0x20) }
    }

    private mutating func appendQuoted(_ text: String) {
        bytes.append(0x22)
        for byte in text.utf8 {
            switch byte {
            case 0x22: bytes.append(0x5C); bytes.append(0x22)
            case 0x5C: bytes.append(0x5C); bytes.append(0x5C)
            case 0x0A: bytes.append(0x5C); bytes.append(0x6E)
            case 0x0D: bytes.append(0x5C); bytes.append(0x72)
            case 0x09: bytes.append(0x5C); bytes.append(0x74)
            case 0x08: bytes.append(0x5C); bytes.append(0x62)
            case 0x0C: bytes.append(0x5C); bytes.append(0x66)
            case 0x00..<0x20:
                // Other control characters: \u00XX (RFC 8259 requires escaping U+0000..U+001F).
                bytes.append(contentsOf: [0x5C, 0x75, 0x30, 0x30])
                bytes.append(hexDigit(byte >> 4))
                bytes.append(hexDigit(byte & 0x0F))
            default:
                bytes.append(byte)
            }
        }
        bytes.append(0x22)
    }

    private func hexDigit(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 0x30 + nibble : 0x61 + nibble - 10 }
}
