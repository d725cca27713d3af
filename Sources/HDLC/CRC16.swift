/// CRC-16/X.25, the checksum of IEC 62056-46 HDLC frames (HCS and FCS).
///
/// Polynomial 0x1021 reflected (0x8408), initial value 0xFFFF, reflected input and output, final XOR 0xFFFF;
/// transmitted least significant byte first. Check value over ASCII `"123456789"`: `0x906E`.
///
/// Two table-driven implementations share one set of read-only tables: `update(_:)` reads eight
/// bytes per step (slicing-by-8, several times faster on anything longer than a few bytes) and
/// ``checksumBytewise(_:)`` reads one, kept as the reference the fast path is measured and tested against.
/// Neither allocates.
///
/// ```swift
/// var crc = CRC16()
/// crc.update(header)
/// crc.update(info)
/// let fcs = crc.value          // or CRC16.checksum(bytes) in one call
/// ```
public struct CRC16: Sendable, Equatable {
    /// The running register, before the final XOR.
    @usableFromInline var register: UInt16

    /// A CRC over no bytes yet.
    @inlinable public init() { register = 0xFFFF }

    /// The checksum of the bytes seen so far (final XOR applied). Bytes go on the wire `value & 0xFF` first.
    @inlinable public var value: UInt16 { register ^ 0xFFFF }

    /// Adds `bytes` to the checksum, eight at a time where possible.
    @inlinable public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        register = CRC16.sliced(register, bytes)
    }

    /// Adds `bytes` to the checksum.
    @inlinable public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Adds one byte.
    @inlinable public mutating func update(byte: UInt8) {
        register = CRC16.step(register, byte)
    }

    /// The CRC-16/X.25 of `bytes`, slicing-by-8.
    @inlinable public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        sliced(0xFFFF, bytes) ^ 0xFFFF
    }

    /// The CRC-16/X.25 of `bytes`, slicing-by-8.
    @inlinable public static func checksum(_ bytes: [UInt8]) -> UInt16 {
        bytes.withUnsafeBytes { checksum($0) }
    }

    /// The CRC-16/X.25 of `bytes` one byte per table lookup: the reference implementation.
    @inlinable public static func checksumBytewise(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        var crc: UInt16 = 0xFFFF
        for byte in bytes { crc = step(crc, byte) }
        return crc ^ 0xFFFF
    }

    /// The CRC-16/X.25 of `bytes` one byte per table lookup: the reference implementation.
    @inlinable public static func checksumBytewise(_ bytes: [UInt8]) -> UInt16 {
        bytes.withUnsafeBytes { checksumBytewise($0) }
    }

    /// Entry `index` (0...255) of slicing table `table` (0...7); table 0 is the byte-wise table.
    @inlinable public static func tableEntry(table: Int, index: Int) -> UInt16 {
        tables[(table & 7) &* 256 &+ (index & 0xFF)]
    }

    @inlinable @inline(__always)
    static func step(_ crc: UInt16, _ byte: UInt8) -> UInt16 {
        // The mask keeps the index provably in range, so the read needs no trap path.
        (crc &>> 8) ^ tables[Int((crc ^ UInt16(byte)) & 0xFF)]
    }

    /// One byte at a time over `count` bytes at `bytes`: cheaper than slicing for a frame header.
    @inlinable @inline(__always)
    static func bytewise(_ start: UInt16, _ bytes: UnsafeRawPointer, _ count: Int) -> UInt16 {
        var crc = start
        var i = 0
        while i < count {
            crc = step(crc, bytes.load(fromByteOffset: i, as: UInt8.self))
            i &+= 1
        }
        return crc
    }

    /// The register after a correct FCS has been run through the CRC too (before the final XOR): checking
    /// a frame this way needs no separate read and compare of its FCS.
    public static let goodResidue: UInt16 = 0xF0B8

    @inlinable
    static func sliced(_ start: UInt16, _ bytes: UnsafeRawBufferPointer) -> UInt16 {
        guard let base = bytes.baseAddress else { return start }
        return sliced(start, base, bytes.count)
    }

    /// Slicing-by-8 over `count` bytes at `base`, then one byte at a time. Inlined: frames are short, and
    /// a call costs as much as it saves there.
    @inlinable @inline(__always)
    static func sliced(_ start: UInt16, _ base: UnsafeRawPointer, _ count: Int) -> UInt16 {
        var crc = start
        var offset = 0
        // Subscripts on the global table, not `tables.span`: borrowing the span of this global copied all
        // 4 KiB to the stack on every call (callgrind: ~400 instructions of memcpy per frame). The masks keep
        // every index provably in range, so the subscripts need no bounds-check path.
        while count &- offset >= 8 {
            // One load per byte: each is already the table index, so a block needs no shifts or masks
            // (callgrind: 23 instructions per 8 bytes at -O and at -Osize). The register folds into the
            // block's first two bytes.
            let p = base + offset
            let b0 = p.load(as: UInt8.self) ^ UInt8(truncatingIfNeeded: crc)
            let b1 = p.load(fromByteOffset: 1, as: UInt8.self) ^ UInt8(truncatingIfNeeded: crc &>> 8)
            crc = tables[0x700 | Int(b0)]
                ^ tables[0x600 | Int(b1)]
                ^ tables[0x500 | Int(p.load(fromByteOffset: 2, as: UInt8.self))]
                ^ tables[0x400 | Int(p.load(fromByteOffset: 3, as: UInt8.self))]
                ^ tables[0x300 | Int(p.load(fromByteOffset: 4, as: UInt8.self))]
                ^ tables[0x200 | Int(p.load(fromByteOffset: 5, as: UInt8.self))]
                ^ tables[0x100 | Int(p.load(fromByteOffset: 6, as: UInt8.self))]
                ^ tables[Int(p.load(fromByteOffset: 7, as: UInt8.self))]
            offset &+= 8
        }
        while offset < count {
            crc = step(crc, base.load(fromByteOffset: offset, as: UInt8.self))
            offset &+= 1
        }
        return crc
    }
}
