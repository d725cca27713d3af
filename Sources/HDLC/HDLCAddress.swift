/// How many bytes a server address takes on the wire. Meters differ, so it is a setting.
public enum AddressWidth: Sendable, Hashable, CustomStringConvertible {
    /// The smallest width that holds the address: one byte for logical 0 with a physical address below
    /// 128, two bytes when both parts are below 128, otherwise four.
    case auto
    /// One byte: the physical address only (logical 0), as gurux and several meters send `03`.
    case one
    /// Two bytes: logical (upper) then physical (lower), 7 bits each.
    case two
    /// Four bytes: logical then physical, 14 bits each.
    case four

    /// 1, 2 or 4; `nil` for ``auto``.
    public var byteCount: Int? {
        switch self {
        case .auto: return nil
        case .one: return 1
        case .two: return 2
        case .four: return 4
        }
    }

    public var description: String {
        switch self {
        case .auto: return "the automatic width"
        case .one: return "a 1-byte address"
        case .two: return "a 2-byte address"
        case .four: return "a 4-byte address"
        }
    }
}

/// An HDLC address (IEC 62056-46): 7 bits per byte shifted left one, the lowest bit set on the last byte.
///
/// A client address is one byte holding the client SAP (SAP 1 = `03`, 16 = `21`, 32 = `41`). A server
/// address is 1, 2 or 4 bytes (never 3): upper = logical device, lower = physical device. The byte forms
/// match gurux-dlms: logical 0 / physical 1 is `03`, `00 03` or `00 00 00 03`; logical 1 / physical 17 is
/// `02 23` or `00 02 00 23`. The one-byte form carries only the physical address (logical 0).
///
/// Equality includes the width (`03` and `00 03` are different bytes); use ``isSameStation(as:)`` to
/// compare what the addresses name.
public struct HDLCAddress: Hashable, Sendable, CustomStringConvertible {
    /// The upper HDLC address: the logical device of a server (1 for the management logical device).
    /// Always 0 in the one-byte form.
    public let logical: UInt16
    /// The lower HDLC address: the physical device of a server (Microstar: last 4 digits of the serial),
    /// or the SAP of a client.
    public let physical: UInt16
    /// 1, 2 or 4. Stored in a byte so that a parsed frame stays small to copy.
    @usableFromInline let storedByteCount: UInt8

    /// 1, 2 or 4.
    @inlinable public var byteCount: Int { Int(storedByteCount) }

    /// A client address: one byte holding `sap` (0...127; 1, 16 and 32 are the usual ones).
    public static func client(sap: UInt8) throws(FrameError) -> HDLCAddress {
        try HDLCAddress(logical: 0, physical: UInt16(sap), width: .one)
    }

    /// A server address of the given width; `.auto` picks the smallest that fits.
    /// Throws ``FrameError/addressOutOfRange(logical:physical:width:)`` when the parts do not fit.
    public init(logical: UInt16, physical: UInt16, width: AddressWidth = .auto) throws(FrameError) {
        let fitsOne = logical == 0 && physical < 0x80
        let fitsTwo = logical < 0x80 && physical < 0x80
        let fitsFour = logical < 0x4000 && physical < 0x4000
        let count: Int
        switch width {
        case .auto: count = fitsOne ? 1 : fitsTwo ? 2 : fitsFour ? 4 : 0
        case .one: count = fitsOne ? 1 : 0
        case .two: count = fitsTwo ? 2 : 0
        case .four: count = fitsFour ? 4 : 0
        }
        guard count != 0 else { throw .addressOutOfRange(logical: logical, physical: physical, width: width) }
        self.logical = logical
        self.physical = physical
        self.storedByteCount = UInt8(count)
    }

    @inlinable init(unchecked logical: UInt16, _ physical: UInt16, _ count: Int) {
        self.logical = logical
        self.physical = physical
        self.storedByteCount = UInt8(truncatingIfNeeded: count)
    }

    /// The client SAP of a one-byte address (its physical part).
    public var sap: UInt8 { UInt8(truncatingIfNeeded: physical) }

    /// True when both addresses name the same logical and physical device, whatever their widths.
    public func isSameStation(as other: HDLCAddress) -> Bool {
        logical == other.logical && physical == other.physical
    }

    /// The wire bytes, `byteCount` of them.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(byteCount)
        for i in 0..<byteCount { out.append(byte(i)) }
        return out
    }

    /// Wire byte `index` (0 ..< byteCount).
    @inlinable func byte(_ index: Int) -> UInt8 {
        let last: UInt8 = index == byteCount &- 1 ? 1 : 0
        switch (byteCount, index) {
        case (1, _): return UInt8(truncatingIfNeeded: physical &<< 1) | last
        case (2, 0): return UInt8(truncatingIfNeeded: logical &<< 1)
        case (2, _): return UInt8(truncatingIfNeeded: physical &<< 1) | last
        case (_, 0): return UInt8(truncatingIfNeeded: (logical &>> 7) &<< 1)
        case (_, 1): return UInt8(truncatingIfNeeded: logical &<< 1)
        case (_, 2): return UInt8(truncatingIfNeeded: (physical &>> 7) &<< 1)
        default: return UInt8(truncatingIfNeeded: physical &<< 1) | last
        }
    }

    /// Writes the address at `offset`; the caller has checked the room.
    /// One store per byte, no per-byte switch: this runs for every frame sent.
    @inlinable @inline(__always) func write(to buffer: UnsafeMutableRawBufferPointer, at offset: Int) {
        let p = UInt8(truncatingIfNeeded: physical &<< 1) | 1
        switch byteCount {
        case 1:
            buffer[offset] = p
        case 2:
            buffer[offset] = UInt8(truncatingIfNeeded: logical &<< 1)
            buffer[offset &+ 1] = p
        default:
            buffer[offset] = UInt8(truncatingIfNeeded: (logical &>> 7) &<< 1)
            buffer[offset &+ 1] = UInt8(truncatingIfNeeded: logical &<< 1)
            buffer[offset &+ 2] = UInt8(truncatingIfNeeded: (physical &>> 7) &<< 1)
            buffer[offset &+ 3] = p
        }
    }

    /// The address in `count` (1, 2 or 4, already checked) wire bytes at `offset`.
    @inlinable @inline(__always)
    init(wire b: UnsafeRawBufferPointer, at offset: Int, count: Int) {
        let b0 = UInt16(b[offset] &>> 1)
        switch count {
        case 1: self.init(unchecked: 0, b0, 1)
        case 2: self.init(unchecked: b0, UInt16(b[offset &+ 1] &>> 1), 2)
        default:
            self.init(unchecked: b0 &<< 7 | UInt16(b[offset &+ 1] &>> 1),
                      UInt16(b[offset &+ 2] &>> 1) &<< 7 | UInt16(b[offset &+ 3] &>> 1), 4)
        }
    }

    /// Reads an address starting at `offset`, ending at the first byte with its lowest bit set, no further
    /// than `limit`. Returns the address and its byte count.
    @inlinable static func read(
        _ buffer: UnsafeRawBufferPointer, at offset: Int, limit: Int
    ) throws(FrameError) -> HDLCAddress {
        var count = 0
        while true {
            let index = offset &+ count
            guard index < limit, count < 4 else {
                throw .invalidAddress(at: offset, byteCount: count &+ (index < limit ? 1 : 0))
            }
            count &+= 1
            if buffer[index] & 1 == 1 { break }
        }
        let b = { (i: Int) -> UInt16 in UInt16(buffer[offset &+ i] &>> 1) }
        switch count {
        case 1: return HDLCAddress(unchecked: 0, b(0), 1)
        case 2: return HDLCAddress(unchecked: b(0), b(1), 2)
        case 4: return HDLCAddress(unchecked: (b(0) &<< 7) | b(1), (b(2) &<< 7) | b(3), 4)
        default: throw .invalidAddress(at: offset, byteCount: count)
        }
    }

    /// `02 23 (logical 1, physical 17)`; one byte: `21 (16)`.
    public var description: String {
        var s = ""
        for i in 0..<byteCount {
            if i > 0 { s += " " }
            appendHex(byte(i), to: &s)
        }
        if byteCount == 1 { return s + " (\(physical))" }
        return s + " (logical \(logical), physical \(physical))"
    }
}
