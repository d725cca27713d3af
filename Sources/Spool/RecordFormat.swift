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

    /// What a sealed segment holds, written as its last record when the spool rolls to the next segment, so
    /// that a start reads a segment's header and seal instead of every record in it (start-up stays bounded
    /// however deep the backlog). The seal is a record in the usual framing with seq 0 (no reading has seq
    /// 0), so its own CRC covers it and readers that skip seq 0 need nothing else.
    struct Seal: Equatable {
        var base: UInt64
        var firstSeq: UInt64
        var lastSeq: UInt64
        var records: UInt64
        var lastTimestamp: Int64
        /// Where the seal starts: the segment's size without it.
        var bodyEnd: UInt64
    }

    static let sealMagic: [UInt8] = Array("SEAL".utf8)
    static let sealPayloadSize = 4 + 6 * 8
    static let sealRecordSize = overhead + sealPayloadSize

    static func encodeSeal(_ seal: Seal) -> [UInt8] {
        var payload = sealMagic
        payload.appendLE(seal.base)
        payload.appendLE(seal.firstSeq)
        payload.appendLE(seal.lastSeq)
        payload.appendLE(seal.records)
        payload.appendLE(UInt64(bitPattern: seal.lastTimestamp))
        payload.appendLE(seal.bodyEnd)
        return encode(seq: 0, timestamp: 0, payload: payload)
    }

    /// The seal at `offset` of `bytes`, or nil when the bytes there are not a whole, valid seal.
    static func decodeSeal(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Seal? {
        guard let r = decode(bytes, at: offset, maxPayload: sealPayloadSize), r.seq == 0,
            r.payload.count == sealPayloadSize,
            bytes[r.payload.lowerBound..<r.payload.lowerBound + 4].elementsEqual(sealMagic)
        else { return nil }
        let p = r.payload.lowerBound + 4
        return Seal(
            base: bytes.loadLE(UInt64.self, at: p), firstSeq: bytes.loadLE(UInt64.self, at: p + 8),
            lastSeq: bytes.loadLE(UInt64.self, at: p + 16), records: bytes.loadLE(UInt64.self, at: p + 24),
            lastTimestamp: Int64(bitPattern: bytes.loadLE(UInt64.self, at: p + 32)),
            bodyEnd: bytes.loadLE(UInt64.self, at: p + 40))
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
