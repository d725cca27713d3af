import CLibc

/// How a serial line is framed and clocked: rate, data bits, parity, stop bits, and the modem lines an optical
/// probe may need for power.
public struct SerialSettings: Sendable, Equatable, CustomStringConvertible {
    /// Parity bit.
    public enum Parity: Sendable, Equatable {
        case none, even, odd
    }

    /// Rates this transport can set, in bits per second.
    public static let supportedBaudRates: [Int] = [300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200]

    /// Bits per second (one of `supportedBaudRates`).
    public var baudRate: Int
    /// 7 or 8.
    public var dataBits: Int
    public var parity: Parity
    /// 1 or 2.
    public var stopBits: Int
    /// After the first byte of a read, keep reading until the line has been quiet this long (0 = return what
    /// is there at once). Lets a whole reply at 300..9600 baud come back from one read.
    public var interOctetGapMilliseconds: Int32
    /// Raise (true) or drop (false) DTR on open; nil leaves it. Many optical probes take power from DTR/RTS.
    public var dtr: Bool?
    /// Raise (true) or drop (false) RTS on open; nil leaves it.
    public var rts: Bool?

    public init(
        baudRate: Int = 9600, dataBits: Int = 8, parity: Parity = .none, stopBits: Int = 1,
        interOctetGapMilliseconds: Int32 = 0, dtr: Bool? = true, rts: Bool? = true
    ) {
        self.baudRate = baudRate
        self.dataBits = dataBits
        self.parity = parity
        self.stopBits = stopBits
        self.interOctetGapMilliseconds = interOctetGapMilliseconds
        self.dtr = dtr
        self.rts = rts
    }

    /// 8N1 at `baudRate` (default 9600): direct HDLC, and HDLC after a mode E opening.
    public static func hdlc(baudRate: Int = 9600) -> SerialSettings { SerialSettings(baudRate: baudRate) }

    /// 300 baud 7E1: the IEC 62056-21 opening (sign-on, identification, acknowledgement).
    public static let iec62056Opening = SerialSettings(baudRate: 300, dataBits: 7, parity: .even, stopBits: 1)

    /// `9600 8N1`, `300 7E1`.
    public var description: String {
        let p: String
        switch parity {
        case .none: p = "N"
        case .even: p = "E"
        case .odd: p = "O"
        }
        return "\(baudRate) \(dataBits)\(p)\(stopBits)"
    }

    /// The same line framing (rate, bits, parity, stops) as `other`, ignoring modem lines and the gap.
    func sameFraming(as other: SerialSettings) -> Bool {
        baudRate == other.baudRate && dataBits == other.dataBits && parity == other.parity && stopBits == other.stopBits
    }

    /// The termios speed constant for a rate, nil when unsupported.
    static func speed(for baudRate: Int) -> speed_t? {
        switch baudRate {
        case 300: return speed_t(B300)
        case 600: return speed_t(B600)
        case 1200: return speed_t(B1200)
        case 2400: return speed_t(B2400)
        case 4800: return speed_t(B4800)
        case 9600: return speed_t(B9600)
        case 19200: return speed_t(B19200)
        case 38400: return speed_t(B38400)
        case 57600: return speed_t(B57600)
        case 115200: return speed_t(B115200)
        default: return nil
        }
    }

    /// The rate for a termios speed constant, nil for one this type does not use.
    static func baudRate(for speed: speed_t) -> Int? {
        supportedBaudRates.first { Self.speed(for: $0) == speed }
    }

    /// Why these settings cannot be applied, or nil when they can.
    var problem: String? {
        if Self.speed(for: baudRate) == nil {
            return "unsupported baud rate \(baudRate): use one of "
                + Self.supportedBaudRates.map(String.init).joined(separator: ", ")
        }
        if dataBits != 7 && dataBits != 8 { return "unsupported data bits \(dataBits): use 7 or 8" }
        if stopBits != 1 && stopBits != 2 { return "unsupported stop bits \(stopBits): use 1 or 2" }
        if interOctetGapMilliseconds < 0 { return "negative inter-octet gap \(interOctetGapMilliseconds) ms" }
        return nil
    }

    /// `raw` made raw and set to these settings. Non-canonical, no echo, no translation, no flow control;
    /// CLOCAL so that a probe without carrier detect does not block or hang up the line.
    func applied(to raw: termios) -> termios {
        var t = raw
        cfmakeraw(&t)
        t.c_cflag &= ~tcflag_t(CSIZE | PARENB | PARODD | CSTOPB) & ~tcflag_t(CRTSCTS)
        t.c_cflag |= tcflag_t(CLOCAL | CREAD) | tcflag_t(dataBits == 7 ? CS7 : CS8)
        switch parity {
        case .none: break
        case .even: t.c_cflag |= tcflag_t(PARENB)
        case .odd: t.c_cflag |= tcflag_t(PARENB | PARODD)
        }
        if stopBits == 2 { t.c_cflag |= tcflag_t(CSTOPB) }
        // Check parity on input when there is one; without PARMRK a bad byte reads as NUL, which the mode E
        // parser reports as a garbled identification rather than misreading it.
        if parity != .none { t.c_iflag |= tcflag_t(INPCK) }
        // VMIN 1 / VTIME 0: a non-blocking read with nothing pending is EAGAIN, never a 0 that would look
        // like a hang-up (VMIN 0 makes n_tty return 0).
        withUnsafeMutableBytes(of: &t.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        let s = Self.speed(for: baudRate) ?? speed_t(B9600)
        cfsetispeed(&t, s)
        cfsetospeed(&t, s)
        return t
    }

    /// The framing a termios describes (modem lines and the gap are not part of termios and come from
    /// `base`).
    static func decoded(from t: termios, base: SerialSettings) -> SerialSettings {
        var s = base
        // cfgetospeed gets a pointer to a local copy: a pointer escaped from withUnsafePointer(to:) dangles,
        // and release builds read 0 through it (every port then looked like it refused the rate).
        var copy = t
        s.baudRate = baudRate(for: cfgetospeed(&copy)) ?? 0
        s.dataBits = t.c_cflag & tcflag_t(CSIZE) == tcflag_t(CS7) ? 7 : (t.c_cflag & tcflag_t(CSIZE) == tcflag_t(CS8) ? 8 : 0)
        if t.c_cflag & tcflag_t(PARENB) == 0 {
            s.parity = .none
        } else {
            s.parity = t.c_cflag & tcflag_t(PARODD) != 0 ? .odd : .even
        }
        s.stopBits = t.c_cflag & tcflag_t(CSTOPB) != 0 ? 2 : 1
        return s
    }
}
