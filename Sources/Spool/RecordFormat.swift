/// The on-disk format (little-endian). See docs/spool.md.
///
/// Segment file `<base seq as 16 hex digits>.seg`:
/// ```
/// header : "DLBSPL01" (8) | base seq u64 (8)
/// record : payload length u32 (4) | seq u64 (8) | timestamp ms i64 (8) | payload (n) | CRC-32C u32 (4)
/// ```
/// The CRC covers the record's first 20 + n bytes, so a length field is never trusted before the CRC
/// over it and the payload it announces has been checked.
enum RecordFormat {
    static let magic: [UInt8] = Array("DLBSPL01".utf8)
    static let segmentHeaderSize = 16
    static let headerSize = 20
    static let overhead = 24  // header + CRC

    static func segmentHeader(base: UInt64) -> [UInt8] {
        var out = magic
        out.appendLE(base)
        return out
    }

    static func encode(seq: UInt64, timestamp: Int64, payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(overhead + payload.count)
        out.appendLE(UInt32(truncatingIfNeeded: payload.count))
        out.appendLE(seq)
        out.appendLE(UInt64(bitPattern: timestamp))
        out.append(contentsOf: payload)
        out.appendLE(CRC32C.checksum(out))
        return out
    }

    /// A record decoded from `bytes` at `offset`, or nil when the bytes there are not a whole valid record
    /// (short, length out of bounds, or CRC mismatch).
    static func decode(_ bytes: UnsafeRawBufferPointer, at offset: Int, maxPayload: Int)
        -> (seq: UInt64, timestamp: Int64, payload: Range<Int>, size: Int)?
    {
        guard offset >= 0, bytes.count - offset >= overhead else { return nil }
        let length = Int(bytes.loadLE(UInt32.self, at: offset))
        guard length <= maxPayload, bytes.count - offset - overhead >= length else { return nil }
        let end = offset + headerSize + length
        let stored = bytes.loadLE(UInt32.self, at: end)
        let computed = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[offset..<end]))
        guard stored == computed else { return nil }
        return (
            bytes.loadLE(UInt64.self, at: offset + 4),
            Int64(bitPattern: bytes.loadLE(UInt64.self, at: offset + 12)),
            (offset + headerSize)..<end,
            overhead + length
        )
    }

    static func segmentName(base: UInt64) -> String {
        let hex = String(base, radix: 16)
        return String(repeating: "0", count: max(0, 16 - hex.utf8.count)) + hex + ".seg"
    }

    /// The base seq encoded in a segment file name, or nil for any other file.
    static func segmentBase(fromName name: String) -> UInt64? {
        guard name.utf8.count == 20, name.hasSuffix(".seg") else { return nil }
        return UInt64(name.prefix(16), radix: 16)
    }
}

extension Array where Element == UInt8 {
    mutating func appendLE<T: FixedWidthInteger>(_ value: T) {
        var v = value.littleEndian
        Swift.withUnsafeBytes(of: &v) { append(contentsOf: $0) }
    }
}

extension UnsafeRawBufferPointer {
    func loadLE<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}
