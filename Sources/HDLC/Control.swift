/// The HDLC control field (IEC 62056-46), sequence numbers modulo 8.
///
/// The poll/final bit (`0x10`) is kept in every case: clients send commands with P = 1, servers answer
/// with F = 1. Bytes with P/F set: SNRM `93`, UA `73`, DISC `53`, DM `1F`, FRMR `97`, UI `13`,
/// RR `N(R)<<5 | 11`, RNR `N(R)<<5 | 15`, I `N(R)<<5 | P<<4 | N(S)<<1`.
public enum Control: Hashable, Sendable, CustomStringConvertible {
    /// Information frame: send sequence N(S), receive sequence N(R) (the next N(S) expected from the peer).
    case information(send: UInt8, receive: UInt8, poll: Bool)
    /// Receive ready: acknowledges up to N(R) - 1, asks for the next segment or frame.
    case receiveReady(receive: UInt8, poll: Bool)
    /// Receive not ready: busy.
    case receiveNotReady(receive: UInt8, poll: Bool)
    /// Set normal response mode: opens the link.
    case setNormalResponseMode(poll: Bool)
    /// Unnumbered acknowledgement: answers SNRM and DISC.
    case unnumberedAcknowledge(final: Bool)
    /// Disconnect: closes the link.
    case disconnect(poll: Bool)
    /// Disconnected mode: the server is not connected (answers a command outside a link).
    case disconnectedMode(final: Bool)
    /// Frame reject: the server could not accept a frame.
    case frameReject(final: Bool)
    /// Unnumbered information.
    case unnumberedInformation(poll: Bool)

    /// Decodes a control byte; `nil` for a byte that is none of the above.
    @inlinable @inline(__always)
    public init?(byte: UInt8) {
        let pf = byte & 0x10 != 0
        if byte & 0x01 == 0 {
            self = .information(send: (byte &>> 1) & 7, receive: byte &>> 5, poll: pf)
            return
        }
        switch byte & 0xEF {
        case 0x83: self = .setNormalResponseMode(poll: pf)
        case 0x63: self = .unnumberedAcknowledge(final: pf)
        case 0x43: self = .disconnect(poll: pf)
        case 0x0F: self = .disconnectedMode(final: pf)
        case 0x87: self = .frameReject(final: pf)
        case 0x03: self = .unnumberedInformation(poll: pf)
        default:
            switch byte & 0x0F {
            case 0x01: self = .receiveReady(receive: byte &>> 5, poll: pf)
            case 0x05: self = .receiveNotReady(receive: byte &>> 5, poll: pf)
            default: return nil
            }
        }
    }

    /// True when `byte` is one of the control fields above (what ``init(byte:)`` accepts).
    @inlinable @inline(__always)
    public static func isValid(_ byte: UInt8) -> Bool {
        // I-frames (the common case) need one test.
        if byte & 0x01 == 0 { return true }
        switch byte & 0xEF {
        case 0x83, 0x63, 0x43, 0x0F, 0x87, 0x03: return true
        default: return byte & 0x0B == 0x01  // RR (x1) and RNR (x5)
        }
    }

    /// The control byte. Sequence numbers are taken modulo 8.
    @inlinable public var byte: UInt8 {
        @inline(__always) get {
            @inline(__always) func pf(_ b: Bool) -> UInt8 { b ? 0x10 : 0 }
            switch self {
            case let .information(s, r, p): return (r & 7) &<< 5 | pf(p) | (s & 7) &<< 1
            case let .receiveReady(r, p): return (r & 7) &<< 5 | pf(p) | 0x01
            case let .receiveNotReady(r, p): return (r & 7) &<< 5 | pf(p) | 0x05
            case let .setNormalResponseMode(p): return 0x83 | pf(p)
            case let .unnumberedAcknowledge(f): return 0x63 | pf(f)
            case let .disconnect(p): return 0x43 | pf(p)
            case let .disconnectedMode(f): return 0x0F | pf(f)
            case let .frameReject(f): return 0x87 | pf(f)
            case let .unnumberedInformation(p): return 0x03 | pf(p)
            }
        }
    }

    /// True for I-frames.
    @inlinable public var isInformation: Bool {
        if case .information = self { return true }
        return false
    }

    /// `I N(S)=0 N(R)=1 P`, `RR N(R)=2 P`, `SNRM P`, ...
    public var description: String {
        func pf(_ b: Bool, _ letter: String) -> String { b ? " " + letter : "" }
        switch self {
        case let .information(s, r, p): return "I N(S)=\(s) N(R)=\(r)" + pf(p, "P/F")
        case let .receiveReady(r, p): return "RR N(R)=\(r)" + pf(p, "P/F")
        case let .receiveNotReady(r, p): return "RNR N(R)=\(r)" + pf(p, "P/F")
        case let .setNormalResponseMode(p): return "SNRM" + pf(p, "P")
        case let .unnumberedAcknowledge(f): return "UA" + pf(f, "F")
        case let .disconnect(p): return "DISC" + pf(p, "P")
        case let .disconnectedMode(f): return "DM" + pf(f, "F")
        case let .frameReject(f): return "FRMR" + pf(f, "F")
        case let .unnumberedInformation(p): return "UI" + pf(p, "P/F")
        }
    }
}
