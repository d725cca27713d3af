// Bounds-checked reading and appending of big-endian fields. Every read checks the remaining length first
// and throws a COSEMError naming the byte offset, so no input from the wire can trap.

/// A cursor over a byte array. Offsets in errors are relative to `origin` (the first byte of the APDU), so an
/// operator can find the byte in a logged frame.
public struct ByteReader: Sendable {
    @usableFromInline let storage: [UInt8]
    /// The index of the next byte to read.
    @inlinable public var position: Int { cursor }
    @usableFromInline var cursor: Int
    /// One past the last readable index.
    public let end: Int
    @usableFromInline let origin: Int

    /// Reads all of `bytes`; offsets in errors count from its first byte.
    @inlinable public init(_ bytes: [UInt8]) {
        self.storage = bytes
        self.cursor = bytes.startIndex
        self.end = bytes.endIndex
        self.origin = bytes.startIndex
    }

    /// Reads `bytes[range]` (clamped to the array); offsets in errors count from `range.lowerBound`.
    @inlinable public init(_ bytes: [UInt8], range: Range<Int>) {
        self.storage = bytes
        let lower = Swift.max(bytes.startIndex, Swift.min(range.lowerBound, bytes.endIndex))
        let upper = Swift.max(lower, Swift.min(range.upperBound, bytes.endIndex))
        self.cursor = lower
        self.end = upper
        self.origin = lower
    }

    /// Bytes left to read.
    public var remaining: Int { end - position }
    /// The offset of the next byte, counted from the start of the input.
    public var offset: Int { position - origin }
    /// True when everything was read.
    public var isAtEnd: Bool { position >= end }

    @inline(__always)
    func need(_ count: Int, _ what: String) throws(COSEMError) {
        if count > end - position { throw truncated(count, what) }
    }

    // Kept out of line so the bounds checks above stay small enough to inline into every decoder.
    @inline(never)
    func truncated(_ count: Int, _ what: String) -> COSEMError {
        COSEMError.truncated(at: position - origin, needed: count, remaining: end - position, what: what)
    }

    /// The next byte, without consuming it.
    @inline(__always)
    public func peek(_ what: String = "a field") throws(COSEMError) -> UInt8 {
        try need(1, what)
        return storage[position]
    }

    @inline(__always)
    public mutating func u8(_ what: String = "a field") throws(COSEMError) -> UInt8 {
        try need(1, what)
        defer { cursor += 1 }
        return storage[position]
    }

    @inline(__always)
    public mutating func u16(_ what: String = "a field") throws(COSEMError) -> UInt16 {
        try need(2, what)
        defer { cursor += 2 }
        return UInt16(storage[position]) << 8 | UInt16(storage[position + 1])
    }

    @inline(__always)
    public mutating func u32(_ what: String = "a field") throws(COSEMError) -> UInt32 {
        try need(4, what)
        var v: UInt32 = 0
        for i in 0..<4 { v = v << 8 | UInt32(storage[position + i]) }
        cursor += 4
        return v
    }

    @inline(__always)
    public mutating func u64(_ what: String = "a field") throws(COSEMError) -> UInt64 {
        try need(8, what)
        var v: UInt64 = 0
        for i in 0..<8 { v = v << 8 | UInt64(storage[position + i]) }
        cursor += 8
        return v
    }

    /// `count` bytes as a new array.
    public mutating func bytes(_ count: Int, _ what: String = "a field") throws(COSEMError) -> [UInt8] {
        try need(count, what)
        defer { cursor += count }
        return Array(storage[position..<position + count])
    }

    /// Skips `count` bytes.
    public mutating func skip(_ count: Int, _ what: String = "a field") throws(COSEMError) {
        try need(count, what)
        cursor += count
    }

    /// An A-XDR length: one byte below 0x80, else 0x8N followed by N big-endian bytes (N = 1...4).
    public mutating func axdrLength() throws(COSEMError) -> Int {
        let at = offset
        let first = try u8("a length")
        if first < 0x80 { return Int(first) }
        let n = Int(first & 0x7F)
        guard n >= 1, n <= 4 else { throw COSEMError.invalidLengthForm(at: at, byte: first) }
        try need(n, "a length")
        var v: UInt64 = 0
        for i in 0..<n { v = v << 8 | UInt64(storage[position + i]) }
        cursor += n
        // Clamped so that 32-bit targets cannot overflow; no real input is that long, so the caller's
        // comparison with the remaining bytes rejects it.
        return Int(truncatingIfNeeded: Swift.min(v, UInt64(Int32.max)))
    }

    /// A sub-reader over the next `count` bytes (offsets keep counting from this reader's origin).
    mutating func sub(_ count: Int, _ what: String) throws(COSEMError) -> ByteReader {
        try need(count, what)
        let r = ByteReader(storage, position: position, end: position + count, origin: origin)
        cursor += count
        return r
    }

    init(_ bytes: [UInt8], position: Int, end: Int, origin: Int) {
        self.storage = bytes
        self.cursor = position
        self.end = end
        self.origin = origin
    }

    /// Throws unless every byte was consumed.
    public func expectEnd() throws(COSEMError) {
        if position < end { throw COSEMError.trailingBytes(at: offset, count: end - position) }
    }
}

extension Array where Element == UInt8 {
    mutating func appendU16(_ v: UInt16) {
        append(UInt8(truncatingIfNeeded: v >> 8))
        append(UInt8(truncatingIfNeeded: v))
    }

    mutating func appendU32(_ v: UInt32) {
        append(UInt8(truncatingIfNeeded: v >> 24))
        append(UInt8(truncatingIfNeeded: v >> 16))
        append(UInt8(truncatingIfNeeded: v >> 8))
        append(UInt8(truncatingIfNeeded: v))
    }

    mutating func appendU64(_ v: UInt64) {
        var shift: UInt64 = 56
        while true {
            append(UInt8(truncatingIfNeeded: v >> shift))
            if shift == 0 { break }
            shift -= 8
        }
    }

    /// Appends up to 16 bytes that `body` writes into stack scratch space, with one capacity check and one
    /// copy instead of one per byte (request building is a hot path). `body` returns how many it wrote.
    @inline(__always)
    mutating func appendScratch(_ body: (UnsafeMutableRawBufferPointer) -> Int) {
        var scratch: (UInt64, UInt64) = (0, 0)
        Swift.withUnsafeMutableBytes(of: &scratch) { raw in
            let count = Swift.min(body(raw), 16)
            append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[0..<count]))
        }
    }

    /// Appends an A-XDR length in the shortest form (1 byte, 81 xx, 82 xx xx, or 84 xx xx xx xx).
    mutating func appendAXDRLength(_ length: Int) {
        if length <= 0 {
            append(0)
        } else if length < 0x80 {
            append(UInt8(length))
        } else if length <= 0xFF {
            append(0x81); append(UInt8(length))
        } else if length <= 0xFFFF {
            append(0x82); appendU16(UInt16(length))
        } else {
            append(0x84); appendU32(UInt32(truncatingIfNeeded: length))
        }
    }
}

/// Appends an A-XDR length in its shortest form to `out` (a helper for encoders outside this module).
public func appendAXDRLength(_ length: Int, to out: inout [UInt8]) {
    out.appendAXDRLength(length)
}
