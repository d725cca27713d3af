/// A checksum as found in a frame and as it should be.
public struct ChecksumVerdict: Hashable, Sendable {
    /// Offset of the checksum's first byte in the described bytes.
    public var offset: Int
    /// The CRC-16/X.25 computed over the covered bytes.
    public var expected: UInt16
    /// The value in the frame (low byte first on the wire); `nil` when the frame ends before it.
    public var actual: UInt16?

    public init(offset: Int, expected: UInt16, actual: UInt16?) {
        self.offset = offset
        self.expected = expected
        self.actual = actual
    }

    /// True when present and right.
    public var isValid: Bool { actual == expected }
}

/// Every field of an HDLC frame, for people: what the `dlms-bridge decode` command shows a field engineer.
///
/// Unlike `HDLCFrame.parse`, describing never stops at the first problem: a bad checksum or a
/// cut frame still yields the addresses, control field and info bytes that could be read, with each
/// problem listed in ``problems`` (most important first) and the checksum verdicts holding expected and
/// actual values. Input may start with the opening flag or directly with the format field.
///
/// ```swift
/// let d = FrameDescription(bytes)
/// if !d.isValid { print(d.problems.map { $0.description }) }
/// print(d)     // a multi-line summary
/// ```
public struct FrameDescription: Hashable, Sendable, CustomStringConvertible {
    /// The bytes described.
    public var bytes: [UInt8]
    /// True when the bytes start with `7E`.
    public var hasOpeningFlag: Bool
    /// The two format bytes (`A0 07`), when present.
    public var format: UInt16?
    /// The frame format type (3 for IEC 62056-46), from the format field's top four bits.
    public var formatType: Int?
    /// The segmentation bit.
    public var segmented: Bool?
    /// The 11-bit length field: bytes from format through FCS.
    public var declaredLength: Int?
    public var destination: HDLCAddress?
    public var source: HDLCAddress?
    /// The control byte, and its meaning when it has one.
    public var controlByte: UInt8?
    public var control: Control?
    /// The header check sequence; `nil` when the frame has no information field.
    public var hcs: ChecksumVerdict?
    /// The frame check sequence.
    public var fcs: ChecksumVerdict?
    /// The information field's bytes within ``bytes`` (as far as present).
    public var infoRange: Range<Int>?
    /// The LLC header at the start of the information field, if any.
    public var llc: LLCHeader?
    /// The APDU: the information field after the LLC header (the whole field when there is none).
    public var apduRange: Range<Int>?
    /// True when the closing flag is where the length says; `nil` when the input ends before.
    public var hasClosingFlag: Bool?
    /// Bytes after the closing flag (another frame, or noise).
    public var trailingCount: Int
    /// What is wrong, in the order found; empty for a valid frame.
    public var problems: [FrameError]

    /// True when the frame is complete and every check passed.
    public var isValid: Bool { problems.isEmpty }

    /// The information field's bytes (empty when none).
    public var info: [UInt8] { infoRange.map { Array(bytes[$0]) } ?? [] }

    /// The APDU bytes (information field without the LLC header).
    public var apdu: [UInt8] { apduRange.map { Array(bytes[$0]) } ?? [] }

    /// Describes `bytes`; never fails, never traps.
    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        hasOpeningFlag = bytes.first == 0x7E
        trailingCount = 0
        problems = []
        let n = bytes.count
        let base = hasOpeningFlag ? 1 : 0
        if !hasOpeningFlag {
            // Some logs strip the flags: a paste that starts with a type-3 format field is fine without.
            guard n > 0, bytes[0] & 0xF0 == 0xA0 else {
                problems.append(n > 0 ? .missingOpeningFlag(found: bytes[0]) : .truncated(needed: 9, available: 0))
                return
            }
        }
        guard n >= base + 2 else {
            problems.append(.truncated(needed: base + 2, available: n))
            return
        }
        let f0 = bytes[base]
        format = UInt16(f0) << 8 | UInt16(bytes[base + 1])
        formatType = Int(f0 >> 4) == 0xA ? 3 : Int(f0 >> 4)
        segmented = f0 & 0x08 != 0
        let length = Int(f0 & 0x07) << 8 | Int(bytes[base + 1])
        declaredLength = length
        if f0 & 0xF0 != 0xA0 { problems.append(.unsupportedFormat(at: base, found: f0)) }
        let frameEnd = base + length  // one past the FCS
        let fcsAt = frameEnd - 2
        let present = min(n, frameEnd)
        if n < frameEnd {
            problems.append(.lengthMismatch(at: base, declared: length, available: n - base))
        }
        // Addresses: read within the frame as far as it is present.
        var p = base + 2
        bytes.withUnsafeBytes { raw in
            do throws(FrameError) {
                let d = try HDLCAddress.read(raw, at: p, limit: max(p, min(present, fcsAt)))
                destination = d
                p += d.byteCount
                let s = try HDLCAddress.read(raw, at: p, limit: max(p, min(present, fcsAt)))
                source = s
                p += s.byteCount
            } catch {
                problems.append(error)
            }
        }
        guard source != nil, p < min(present, fcsAt + 2) else {
            if source != nil { problems.append(.truncated(needed: p + 1, available: n)) }
            return
        }
        controlByte = bytes[p]
        control = Control(byte: bytes[p])
        if control == nil { problems.append(.unknownControl(at: p, value: bytes[p])) }
        if p >= fcsAt {
            // The length leaves no room for the FCS after the header.
            problems.append(.lengthMismatch(at: base, declared: length, available: n - base))
            return
        }
        let headerEnd = p + 1
        var infoStart = headerEnd
        if fcsAt > headerEnd {
            // An information field, so an HCS.
            let expected = CRC16.checksum(Array(bytes[base..<headerEnd]))
            var actual: UInt16? = nil
            if headerEnd + 2 <= n { actual = UInt16(bytes[headerEnd]) | UInt16(bytes[headerEnd + 1]) << 8 }
            hcs = ChecksumVerdict(offset: headerEnd, expected: expected, actual: actual)
            if let actual, actual != expected {
                problems.insert(.hcsMismatch(at: headerEnd, expected: expected, actual: actual), at: 0)
            }
            infoStart = headerEnd + 2
            if fcsAt - headerEnd < 2 {
                problems.append(.lengthMismatch(at: base, declared: length, available: n - base))
            }
            let infoEnd = min(n, fcsAt)
            if infoStart < infoEnd {
                infoRange = infoStart..<infoEnd
                let info = Array(bytes[infoStart..<infoEnd])
                llc = info.withUnsafeBytes { LLCHeader.detect($0) }
                apduRange = (infoStart + (llc == nil ? 0 : LLCHeader.count))..<infoEnd
            }
        }
        if fcsAt >= headerEnd && fcsAt <= n {
            let expected = CRC16.checksum(Array(bytes[base..<fcsAt]))
            var actual: UInt16? = nil
            if fcsAt + 2 <= n { actual = UInt16(bytes[fcsAt]) | UInt16(bytes[fcsAt + 1]) << 8 }
            fcs = ChecksumVerdict(offset: fcsAt, expected: expected, actual: actual)
            if let actual, actual != expected {
                problems.insert(.fcsMismatch(at: fcsAt, expected: expected, actual: actual),
                                at: hcs?.isValid == false ? 1 : 0)
            }
        }
        if frameEnd < n {
            let closed = bytes[frameEnd] == 0x7E
            hasClosingFlag = closed
            trailingCount = n - frameEnd - (closed ? 1 : 0)
            if !closed { problems.append(.missingClosingFlag(at: frameEnd, found: bytes[frameEnd])) }
            if closed && trailingCount > 0 {
                problems.append(.lengthMismatch(at: base, declared: length, available: n - base - 1))
            }
        } else if frameEnd == n && hasOpeningFlag {
            hasClosingFlag = false
            problems.append(.truncated(needed: n + 1, available: n))
        }
    }

    /// A multi-line summary: one field per line, then the verdict.
    public var description: String {
        var lines: [String] = []
        if let format {
            lines.append("format      \(hex(format)) (type \(formatType ?? 0), length \(declaredLength ?? 0)"
                + ((segmented ?? false) ? ", segmented: more segments follow)" : ")"))
        }
        if let destination { lines.append("destination \(destination.description)") }
        if let source { lines.append("source      \(source.description)") }
        if let controlByte {
            lines.append("control     \(hex(controlByte)) " + (control?.description ?? "(unknown)"))
        }
        if let hcs { lines.append("HCS         " + verdict(hcs)) }
        if let infoRange {
            lines.append("info        \(infoRange.count) bytes" + (llc.map { $0 == .request ? ", LLC E6 E6 00 (request)" : ", LLC E6 E7 00 (response)" } ?? ""))
            lines.append("APDU        " + hexString(apdu))
        }
        if let fcs { lines.append("FCS         " + verdict(fcs)) }
        lines.append(problems.isEmpty ? "valid frame" : "INVALID: " + problems.map { $0.description }.joined(separator: "; "))
        return lines.joined(separator: "\n")
    }

    private func verdict(_ v: ChecksumVerdict) -> String {
        guard let actual = v.actual else { return "missing (frame ends before byte \(v.offset + 1)), expected \(wireHex(v.expected))" }
        return wireHex(actual) + (v.isValid ? " ok" : " WRONG, expected \(wireHex(v.expected))")
    }
}
