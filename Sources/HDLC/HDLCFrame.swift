/// The LLC header that starts the information field of the first (or only) I-frame of an APDU.
public enum LLCHeader: Sendable, Hashable {
    /// `E6 E6 00`: client to server.
    case request
    /// `E6 E7 00`: server to client.
    case response

    /// The three bytes.
    public var bytes: [UInt8] { [0xE6, second, 0x00] }

    @inlinable var second: UInt8 {
        switch self {
        case .request: return 0xE6
        case .response: return 0xE7
        }
    }

    /// Always three.
    public static let count = 3

    /// The header at the start of `info`, if there is one.
    @inlinable public static func detect(_ info: UnsafeRawBufferPointer) -> LLCHeader? {
        guard info.count >= 3, info[0] == 0xE6, info[2] == 0x00 else { return nil }
        switch info[1] {
        case 0xE6: return .request
        case 0xE7: return .response
        default: return nil
        }
    }
}

/// One parsed HDLC frame (IEC 62056-46, frame format type 3): the header fields and where the
/// information field lies in the bytes that were parsed. Parsing copies nothing and allocates nothing.
///
/// Wire layout: `7E | format(2) | destination | source | control | [HCS(2) | info] | FCS(2) | 7E`.
/// The format field is `A0` plus the 11-bit length (format through FCS, flags excluded); bit `08` of its
/// first byte is the segmentation bit. The HCS is present only when there is an information field.
/// There is no byte stuffing: `7E` may occur inside the info field and the FCS.
///
/// ```swift
/// let snrm = try HDLCFrame.encode(destination: server, source: client,
///                                 control: .setNormalResponseMode(poll: true))
/// let frame = try HDLCFrame.parse(snrm)      // frame.control == .setNormalResponseMode(poll: true)
/// let info = bytes[frame.infoRange]          // empty for an SNRM without parameters
/// ```
public struct HDLCFrame: Hashable, Sendable {
    /// The segmentation bit: more segments of the same information field follow.
    public var segmented: Bool
    /// The address the frame is sent to.
    public var destination: HDLCAddress
    /// The address of the sender.
    public var source: HDLCAddress
    /// The control field.
    public var control: Control {
        // Only valid control bytes are ever stored (from a `Control`, or checked by the parser), so the
        // fallback is never taken; it keeps the getter free of a trap.
        @inlinable get { Control(byte: storedControl) ?? .frameReject(final: false) }
        @inlinable set { storedControl = newValue.byte }
    }
    /// The control field as on the wire.
    @inlinable public var controlByte: UInt8 { storedControl }
    /// Stored raw: a parser only has to check it, and a frame stays small to copy.
    @usableFromInline var storedControl: UInt8
    /// Where the information field lies in the parsed bytes (empty when there is none).
    public var infoRange: Range<Int>
    /// Offset of the opening flag in the parsed bytes.
    public var start: Int
    /// The whole frame on the wire, both flags included.
    public var count: Int

    @inlinable public init(
        segmented: Bool, destination: HDLCAddress, source: HDLCAddress, control: Control,
        infoRange: Range<Int>, start: Int, count: Int
    ) {
        self.segmented = segmented
        self.destination = destination
        self.source = source
        self.storedControl = control.byte
        self.infoRange = infoRange
        self.start = start
        self.count = count
    }

    /// A frame whose `controlByte` was checked with ``Control/isValid(_:)``.
    @inlinable init(
        segmented: Bool, destination: HDLCAddress, source: HDLCAddress, controlByte: UInt8,
        infoRange: Range<Int>, start: Int, count: Int
    ) {
        self.segmented = segmented
        self.destination = destination
        self.source = source
        self.storedControl = controlByte
        self.infoRange = infoRange
        self.start = start
        self.count = count
    }

    /// True when the frame carries an information field (and so an HCS).
    @inlinable public var hasInfo: Bool { !infoRange.isEmpty }

    /// The largest value of the 11-bit length field.
    public static let maximumLength = 2047

    /// Bytes on the wire (flags included) of a frame with these addresses and `infoCount` info bytes.
    @inlinable public static func encodedCount(
        destination: HDLCAddress, source: HDLCAddress, infoCount: Int
    ) -> Int {
        let header = 2 &+ destination.byteCount &+ source.byteCount &+ 1
        return 2 &+ header &+ (infoCount > 0 ? 2 &+ infoCount : 0) &+ 2
    }

    /// The largest info field a frame between these addresses can carry (2030 to 2036 bytes).
    @inlinable public static func maximumInfoCount(destination: HDLCAddress, source: HDLCAddress) -> Int {
        maximumLength &- (2 &+ destination.byteCount &+ source.byteCount &+ 1 &+ 2 &+ 2)
    }

    // MARK: Encoding

    /// Encodes a frame into `buffer` and returns the number of bytes written. Allocates nothing.
    ///
    /// - Parameters:
    ///   - llc: an LLC header written before `info` (first segment of an APDU only), or `nil`.
    ///   - info: the information field (after the LLC header); empty for none.
    /// - Throws: ``FrameError/infoTooLong(count:maximum:)``, ``FrameError/bufferTooSmall(needed:available:)``.
    @inlinable public static func encode(
        into buffer: UnsafeMutableRawBufferPointer,
        destination: HDLCAddress, source: HDLCAddress, control: Control, segmented: Bool = false,
        llc: LLCHeader? = nil, info: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)
    ) throws(FrameError) -> Int {
        let total = try checkRoom(buffer, destination: destination, source: source, llc: llc, count: info.count)
        if info.count > 0 {
            let at = infoOffset(destination: destination, source: source, llc: llc)
            (buffer.baseAddress.unsafelyUnwrapped + at).copyMemory(from: info.baseAddress.unsafelyUnwrapped,
                                                                    byteCount: info.count)
        }
        return frame(buffer, total: total, destination: destination, source: source, control: control,
                     segmented: segmented, llc: llc)
    }

    /// Where the info field (after the LLC header, if any) starts in a frame between these addresses: write
    /// an APDU there, then frame it in place with ``encode(into:destination:source:control:segmented:llc:infoInPlace:)``.
    @inlinable public static func infoOffset(destination: HDLCAddress, source: HDLCAddress, llc: LLCHeader?) -> Int {
        // flag, format 2, addresses, control, HCS 2, LLC
        6 &+ destination.byteCount &+ source.byteCount &+ (llc == nil ? 0 : LLCHeader.count)
    }

    /// Frames `infoCount` bytes the caller already wrote at ``infoOffset(destination:source:llc:)`` of
    /// `buffer`: writes the flags, format, addresses, control, HCS, LLC header and FCS around them and
    /// returns the frame's length. Nothing is copied and nothing allocated: an encoder can write its APDU
    /// straight into the frame.
    ///
    /// - Throws: ``FrameError/infoTooLong(count:maximum:)``, ``FrameError/bufferTooSmall(needed:available:)``.
    @inlinable @inline(__always) public static func encode(
        into buffer: UnsafeMutableRawBufferPointer,
        destination: HDLCAddress, source: HDLCAddress, control: Control, segmented: Bool = false,
        llc: LLCHeader? = nil, infoInPlace infoCount: Int
    ) throws(FrameError) -> Int {
        let total = try checkRoom(buffer, destination: destination, source: source, llc: llc, count: infoCount)
        return frame(buffer, total: total, destination: destination, source: source, control: control,
                     segmented: segmented, llc: llc)
    }

    /// The frame's length on the wire, once the info field is known to fit the format and `buffer`.
    @inlinable @inline(__always)
    static func checkRoom(
        _ buffer: UnsafeMutableRawBufferPointer, destination: HDLCAddress, source: HDLCAddress,
        llc: LLCHeader?, count: Int
    ) throws(FrameError) -> Int {
        let infoCount = Swift.max(0, count) &+ (llc == nil ? 0 : LLCHeader.count)
        let maximum = maximumInfoCount(destination: destination, source: source)
        guard infoCount <= maximum else { throw .infoTooLong(count: infoCount, maximum: maximum) }
        let total = encodedCount(destination: destination, source: source, infoCount: infoCount)
        guard buffer.count >= total else { throw .bufferTooSmall(needed: total, available: buffer.count) }
        return total
    }

    /// Writes everything but the info bytes of a `total`-byte frame (checked by ``checkRoom``).
    @inlinable @inline(__always)
    static func frame(
        _ buffer: UnsafeMutableRawBufferPointer, total: Int, destination: HDLCAddress, source: HDLCAddress,
        control: Control, segmented: Bool, llc: LLCHeader?
    ) -> Int {
        let length = total &- 2
        buffer[0] = 0x7E
        buffer[1] = 0xA0 | (segmented ? 0x08 : 0) | UInt8(truncatingIfNeeded: length &>> 8)
        buffer[2] = UInt8(truncatingIfNeeded: length)
        var p = 3
        destination.write(to: buffer, at: p)
        p &+= destination.byteCount
        source.write(to: buffer, at: p)
        p &+= source.byteCount
        buffer[p] = control.byte
        p &+= 1
        // One CRC pass: the HCS is the CRC of the header, the FCS continues it over HCS and info.
        // `buffer` holds at least `total` bytes (checked by the caller), so plain pointer arithmetic is safe.
        let base = UnsafeRawPointer(buffer.baseAddress.unsafelyUnwrapped)
        var crc = CRC16.sliced(0xFFFF, base + 1, p &- 1)
        let fcsAt = total &- 3
        if fcsAt != p {
            // There is an information field, so an HCS (and maybe the LLC header) before it.
            let hcs = crc ^ 0xFFFF
            buffer[p] = UInt8(truncatingIfNeeded: hcs)
            buffer[p &+ 1] = UInt8(truncatingIfNeeded: hcs &>> 8)
            if let llc {
                buffer[p &+ 2] = 0xE6
                buffer[p &+ 3] = llc.second
                buffer[p &+ 4] = 0x00
            }
            crc = CRC16.sliced(crc, base + p, fcsAt &- p)
        }
        let fcs = crc ^ 0xFFFF
        buffer[fcsAt] = UInt8(truncatingIfNeeded: fcs)
        buffer[fcsAt &+ 1] = UInt8(truncatingIfNeeded: fcs &>> 8)
        buffer[fcsAt &+ 2] = 0x7E
        return total
    }

    /// Encodes a frame into a new array (one allocation). See ``encode(into:destination:source:control:segmented:llc:info:)``.
    public static func encode(
        destination: HDLCAddress, source: HDLCAddress, control: Control, segmented: Bool = false,
        llc: LLCHeader? = nil, info: [UInt8] = []
    ) throws(FrameError) -> [UInt8] {
        let infoCount = info.count + (llc == nil ? 0 : LLCHeader.count)
        let maximum = maximumInfoCount(destination: destination, source: source)
        guard infoCount <= maximum else { throw .infoTooLong(count: infoCount, maximum: maximum) }
        let total = encodedCount(destination: destination, source: source, infoCount: infoCount)
        var result: Result<Int, FrameError> = .success(0)
        let out = [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            result = info.withUnsafeBytes { infoBytes in
                do throws(FrameError) {
                    return .success(try encode(
                        into: UnsafeMutableRawBufferPointer(buffer), destination: destination, source: source,
                        control: control, segmented: segmented, llc: llc, info: infoBytes))
                } catch {
                    return .failure(error)
                }
            }
            if case let .success(n) = result { initialized = n } else { initialized = 0 }
        }
        if case let .failure(error) = result { throw error }
        return out
    }

    // MARK: Parsing

    /// Parses and validates exactly one complete frame, flags included: format type 3, length, addresses,
    /// control, HCS (when there is info), FCS and the closing flag. Allocates nothing.
    ///
    /// - Throws: the first ``FrameError`` found, with its byte offset.
    @inlinable @inline(__always)
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(FrameError) -> HDLCFrame {
        switch scan(bytes, start: 0, end: bytes.count) {
        case let .frame(frame):
            guard frame.count == bytes.count else {
                throw .lengthMismatch(at: 1, declared: frame.count &- 2, available: bytes.count &- 2)
            }
            return frame
        case let .needMore(needed):
            if bytes.count >= 3 {
                // The length field is readable: say what it declares against what is there.
                let declared = Int(bytes[1] & 0x07) &<< 8 | Int(bytes[2])
                throw .lengthMismatch(at: 1, declared: declared, available: bytes.count &- 2)
            }
            throw .truncated(needed: needed, available: bytes.count)
        case let .invalid(error):
            throw error
        }
    }

    /// Parses and validates exactly one complete frame, flags included.
    public static func parse(_ bytes: [UInt8]) throws(FrameError) -> HDLCFrame {
        var result: Result<HDLCFrame, FrameError> = .failure(.truncated(needed: 9, available: 0))
        bytes.withUnsafeBytes { raw in
            do throws(FrameError) { result = .success(try parse(raw)) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    /// The outcome of looking for a frame at an opening flag.
    @usableFromInline enum ScanResult {
        /// A valid frame.
        case frame(HDLCFrame)
        /// The frame is incomplete: this many bytes from `start` are needed to go on.
        case needMore(Int)
        /// Not a valid frame.
        case invalid(FrameError)
    }

    /// Validates the frame whose opening flag is at `start`, using bytes up to `end`. Each check runs as
    /// soon as its bytes are present, so a false start (a `7E` in noise) is refused without waiting for
    /// the length it seems to declare.
    @inlinable @inline(__always)
    static func scan(_ b: UnsafeRawBufferPointer, start: Int, end: Int) -> ScanResult {
        let available = end &- start
        guard available >= 1 else { return .needMore(9) }
        guard b[start] == 0x7E else { return .invalid(.missingOpeningFlag(found: b[start])) }
        guard available >= 3 else { return .needMore(9) }
        let format = b[start &+ 1]
        guard format & 0xF0 == 0xA0 else {
            return .invalid(.unsupportedFormat(at: start &+ 1, found: format))
        }
        let length = Int(format & 0x07) &<< 8 | Int(b[start &+ 2])
        let total = length &+ 2
        // format 2 + two 1-byte addresses + control + FCS 2
        guard length >= 7 else {
            return .invalid(.lengthMismatch(at: start &+ 1, declared: length, available: available &- 2))
        }
        let fcsAt = start &+ length &- 1
        // Addresses: up to the byte with the lowest bit set, 1, 2 or 4 bytes, before the FCS.
        let destinationAt = start &+ 3
        var destinationCount = 0
        var sourceCount = 0
        if Swift.min(fcsAt, end) &- destinationAt >= 8 {
            // Both addresses lie in the next 8 bytes (4 + 4 at most): find where each ends (the byte with
            // its lowest bit set) in one load instead of two checked loops. Anything unusual takes the
            // byte-by-byte path below, which names the problem.
            let word = UInt64(littleEndian: b.baseAddress.unsafelyUnwrapped
                .loadUnaligned(fromByteOffset: destinationAt, as: UInt64.self))
            let ends = word & 0x0101_0101_0101_0101
            let d = ends.trailingZeroBitCount &>> 3 &+ 1
            if d <= 4, d != 3 {
                let s = (ends &>> UInt64(d &<< 3)).trailingZeroBitCount &>> 3 &+ 1
                if s <= 4, s != 3 {
                    destinationCount = d
                    sourceCount = s
                }
            }
        }
        if sourceCount == 0 {
            destinationCount = addressCount(b, at: destinationAt, limit: fcsAt, end: end)
            if destinationCount <= 0 {
                return addressProblem(destinationCount, at: destinationAt, start: start, total: total)
            }
            sourceCount = addressCount(b, at: destinationAt &+ destinationCount, limit: fcsAt, end: end)
            if sourceCount <= 0 {
                return addressProblem(sourceCount, at: destinationAt &+ destinationCount, start: start, total: total)
            }
        }
        let sourceAt = destinationAt &+ destinationCount
        let controlAt = sourceAt &+ sourceCount
        guard controlAt < fcsAt else {
            return .invalid(.lengthMismatch(at: start &+ 1, declared: length, available: available &- 2))
        }
        guard controlAt < end else { return .needMore(min(total, controlAt &- start &+ 1)) }
        let controlByte = b[controlAt]
        guard Control.isValid(controlByte) else {
            return .invalid(.unknownControl(at: controlAt, value: controlByte))
        }
        let headerEnd = controlAt &+ 1
        var infoStart = headerEnd
        // One CRC pass: the HCS is the CRC of the header, the FCS continues it over HCS and info.
        // Past the checks above `b` is not empty, so its base address exists; plain pointer arithmetic
        // keeps slice bounds checks out of the hot path (the ranges were checked against `end`).
        let base = b.baseAddress.unsafelyUnwrapped
        let headerCRC = CRC16.sliced(0xFFFF, base + (start &+ 1), headerEnd &- start &- 1)
        if fcsAt != headerEnd {
            // There is an information field, so an HCS after the header.
            guard fcsAt &- headerEnd >= 2 else {
                return .invalid(.lengthMismatch(at: start &+ 1, declared: length, available: available &- 2))
            }
            guard headerEnd &+ 2 <= end else { return .needMore(headerEnd &+ 2 &- start) }
            let expected = headerCRC ^ 0xFFFF
            let actual = UInt16(b[headerEnd]) | UInt16(b[headerEnd &+ 1]) &<< 8
            guard expected == actual else {
                return .invalid(.hcsMismatch(at: headerEnd, expected: expected, actual: actual))
            }
            infoStart = headerEnd &+ 2
        }
        guard available >= total else { return .needMore(total) }
        let closing = b[start &+ total &- 1]
        guard closing == 0x7E else {
            return .invalid(.missingClosingFlag(at: start &+ total &- 1, found: closing))
        }
        // The FCS check runs the CRC over the FCS bytes too: a correct FCS leaves the register at the
        // CRC-16/X.25 residue. One pass with no separate tail, and the FCS is read only on a mismatch.
        let residue = CRC16.sliced(headerCRC, base + headerEnd, fcsAt &+ 2 &- headerEnd)
        guard residue == CRC16.goodResidue else {
            let expected = CRC16.sliced(headerCRC, base + headerEnd, fcsAt &- headerEnd) ^ 0xFFFF
            let actual = UInt16(b[fcsAt]) | UInt16(b[fcsAt &+ 1]) &<< 8
            return .invalid(.fcsMismatch(at: fcsAt, expected: expected, actual: actual))
        }
        let destination = HDLCAddress(wire: b, at: destinationAt, count: destinationCount)
        let source = HDLCAddress(wire: b, at: sourceAt, count: sourceCount)
        return .frame(HDLCFrame(
            segmented: format & 0x08 != 0, destination: destination, source: source, controlByte: controlByte,
            infoRange: infoStart..<fcsAt, start: start, count: total))
    }

    /// The byte count (1, 2 or 4) of the address at `at`; 0 when bytes up to `end` do not finish it;
    /// `-n` when it is invalid (n bytes long, or running into the FCS at `limit` when n is 0...).
    @inlinable @inline(__always)
    static func addressCount(_ b: UnsafeRawBufferPointer, at: Int, limit: Int, end: Int) -> Int {
        var p = at
        while true {
            if p >= limit { return p == at ? Int.min : -(p &- at) }
            if p >= end { return 0 }
            let last = b[p] & 1 == 1
            p &+= 1
            let n = p &- at
            if last { return n == 3 ? -3 : n }
            if n == 4 { return -5 }
        }
    }

    @inlinable
    static func addressProblem(_ code: Int, at: Int, start: Int, total: Int) -> ScanResult {
        if code == 0 { return .needMore(min(total, at &- start &+ 5)) }
        return .invalid(.invalidAddress(at: at, byteCount: code == Int.min ? 0 : -code))
    }
}
