/// Everything that can be wrong with an HDLC frame, its encoding or the link carrying it.
///
/// Positions are byte offsets from the start of the bytes handed in (0 = the opening flag when the input
/// starts with one); ``description`` prints them counting from 1 ("byte 8"), as a field engineer counts
/// in a hex dump; checksums are printed in wire order (low byte first), as they appear in that dump.
/// Each description says what is wrong and what to do about it, because it ends up in
/// the `dlms-bridge decode` output and in the agent's log.
public enum FrameError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Fewer bytes than the smallest frame (or than the field being read) needs.
    case truncated(needed: Int, available: Int)
    /// The first byte is not the `7E` flag.
    case missingOpeningFlag(found: UInt8)
    /// The byte after the declared length is not the closing `7E` flag.
    case missingClosingFlag(at: Int, found: UInt8)
    /// The format field does not announce frame format type 3 (`Ax`).
    case unsupportedFormat(at: Int, found: UInt8)
    /// The 11-bit length field disagrees with the bytes present, or is too small for a frame.
    case lengthMismatch(at: Int, declared: Int, available: Int)
    /// An address field is not 1, 2 or 4 bytes long, or runs past the header.
    case invalidAddress(at: Int, byteCount: Int)
    /// The control byte is not one of I, RR, RNR, SNRM, UA, DISC, DM, FRMR, UI.
    case unknownControl(at: Int, value: UInt8)
    /// The header check sequence does not match the header.
    case hcsMismatch(at: Int, expected: UInt16, actual: UInt16)
    /// The frame check sequence does not match the frame.
    case fcsMismatch(at: Int, expected: UInt16, actual: UInt16)
    /// A caller-provided output buffer is too small for the frame.
    case bufferTooSmall(needed: Int, available: Int)
    /// The information field does not fit the 11-bit length field (at most 2030 bytes with 4-byte addresses).
    case infoTooLong(count: Int, maximum: Int)
    /// A logical or physical address does not fit the chosen address width.
    case addressOutOfRange(logical: UInt16, physical: UInt16, width: AddressWidth)
    /// The SNRM/UA parameter field is malformed.
    case invalidParameters(at: Int)

    /// What is wrong, where, and what to do.
    public var description: String {
        switch self {
        case let .truncated(needed, available):
            return "frame truncated: needs \(needed) bytes, only \(available) present; the frame was cut "
                + "(inter-octet timeout too short, or the line dropped): check the link and retry"
        case let .missingOpeningFlag(found):
            return "no opening flag at byte 1: expected 7E, got \(hex(found)); "
                + "the bytes are not an HDLC frame or start mid-frame: paste the whole frame from 7E to 7E"
        case let .missingClosingFlag(at, found):
            return "no closing flag at byte \(at + 1): expected 7E, got \(hex(found)); "
                + "the length field disagrees with the frame or the frame was cut"
        case let .unsupportedFormat(at, found):
            return "format field at byte \(at + 1) is \(hex(found)), not type 3 (A0..AF); "
                + "this is not an IEC 62056-46 frame (wrong port, or a 62056-47 wrapper on 4059?)"
        case let .lengthMismatch(at, declared, available):
            return "length field at byte \(at + 1) declares \(declared) bytes but \(available) are present; "
                + "the frame was cut or two frames ran together"
        case let .invalidAddress(at, count):
            return "address at byte \(at + 1) is \(count) bytes long (only 1, 2 or 4 are valid); "
                + "the header is corrupt, or the meter uses a width this build does not know"
        case let .unknownControl(at, value):
            return "control byte at byte \(at + 1) is \(hex(value)), not a known HDLC command or response; "
                + "the header is corrupt"
        case let .hcsMismatch(at, expected, actual):
            return "HCS mismatch at byte \(at + 1): expected \(wireHex(expected)), got \(wireHex(actual)); "
                + "the line is noisy or the frame was cut"
        case let .fcsMismatch(at, expected, actual):
            return "FCS mismatch at byte \(at + 1): expected \(wireHex(expected)), got \(wireHex(actual)); "
                + "the line is noisy or the frame was cut"
        case let .bufferTooSmall(needed, available):
            return "output buffer too small: the frame needs \(needed) bytes, the buffer holds \(available)"
        case let .infoTooLong(count, maximum):
            return "information field of \(count) bytes exceeds the \(maximum) an HDLC frame can carry; "
                + "segment it (HDLCLink does) or lower the max info size"
        case let .addressOutOfRange(logical, physical, width):
            return "server address logical \(logical) / physical \(physical) does not fit \(width.description); "
                + "choose a wider address width (2 or 4 bytes) or check the meter's physical address"
        case let .invalidParameters(at):
            return "HDLC parameter field malformed at byte \(at + 1) (expected 81 80 LL then id/len/value); "
                + "the meter's SNRM/UA is not understood: try an empty SNRM (default parameters)"
        }
    }
}

// MARK: - Hex without Foundation

@usableFromInline let hexDigits: StaticString = "0123456789ABCDEF"

/// A checksum as its two bytes appear on the wire, low byte first (`AF9F` for the value 0x9FAF), so that
/// it can be compared with a hex dump.
@inlinable func wireHex(_ value: UInt16) -> String {
    var s = ""
    appendHex(UInt8(truncatingIfNeeded: value), to: &s)
    appendHex(UInt8(truncatingIfNeeded: value &>> 8), to: &s)
    return s
}

/// `UInt8` as two upper-case hex digits.
@inlinable func hex(_ byte: UInt8) -> String {
    var s = ""
    appendHex(byte, to: &s)
    return s
}

/// `UInt16` as four upper-case hex digits.
@inlinable func hex(_ value: UInt16) -> String {
    var s = ""
    appendHex(UInt8(truncatingIfNeeded: value &>> 8), to: &s)
    appendHex(UInt8(truncatingIfNeeded: value), to: &s)
    return s
}

@inlinable func appendHex(_ byte: UInt8, to s: inout String) {
    let digits = hexDigits.utf8Start
    s.unicodeScalars.append(Unicode.Scalar(digits[Int(byte &>> 4)]))
    s.unicodeScalars.append(Unicode.Scalar(digits[Int(byte & 0x0F)]))
}

/// Bytes as space-separated upper-case hex (`7E A0 07`), the spelling used in logs and the decode command.
func hexString(_ bytes: UnsafeRawBufferPointer) -> String {
    var s = ""
    s.reserveCapacity(bytes.count * 3)
    for (i, b) in bytes.enumerated() {
        if i > 0 { s.unicodeScalars.append(" ") }
        appendHex(b, to: &s)
    }
    return s
}

/// Bytes as space-separated upper-case hex (`7E A0 07`), the spelling used in logs and the decode command.
func hexString(_ bytes: [UInt8]) -> String {
    bytes.withUnsafeBytes { hexString($0) }
}
