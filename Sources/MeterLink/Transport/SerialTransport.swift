import CLibc
import Platform

/// A byte transport whose line settings can change at run time: what the IEC 62056-21 mode E opening needs
/// (300 baud 7E1 for the sign-on, then 8N1 at the agreed rate).
public protocol SerialLine: ByteTransport {
    /// The settings last applied.
    var lineSettings: SerialSettings { get }
    /// Applies new settings. Output still queued is sent first at the old settings (tcdrain).
    func apply(_ settings: SerialSettings) throws(LinkError)
    /// Blocks until everything written has left the port (tcdrain).
    func drain() throws(LinkError)
}

/// A termios serial port: an optical probe on /dev/ttyUSB0, or either side of a pseudo-terminal.
///
/// Opening is exclusive (TIOCEXCL, plus an advisory flock that also binds root, which TIOCEXCL does not),
/// with O_NOCTTY so the port never becomes the agent's controlling terminal. The descriptor stays O_NONBLOCK
/// (poll(2) waits, so no call outlasts its deadline) and CLOCAL is set so a missing carrier is ignored.
/// A probe that is unplugged surfaces as `LinkError.Kind.vanished`; `reopen` opens it again once it is back.
public final class SerialTransport: SerialLine, @unchecked Sendable {
    /// The device path.
    public let path: String
    private var io: DescriptorIO
    private var settings: SerialSettings
    private let openedByPath: Bool  // false for an adopted pty master

    /// Opens `path` exclusively and applies `settings` (default 9600 8N1, DTR and RTS raised).
    public init(path: String, settings: SerialSettings = .hdlc()) throws(LinkError) {
        self.path = path
        self.settings = settings
        self.openedByPath = true
        let fd = try Self.open(path: path, settings: settings, exclusive: true)
        io = DescriptorIO(fd: fd, flavor: .terminal, peer: path)
        io.interOctetGapMilliseconds = settings.interOctetGapMilliseconds
    }

    /// Wraps a terminal descriptor this process already owns (a pty master), applying `settings`.
    init(adopting fd: Int32, path: String, settings: SerialSettings) throws(LinkError) {
        self.path = path
        self.settings = settings
        self.openedByPath = false
        io = DescriptorIO(fd: fd, flavor: .terminal, peer: path)
        io.interOctetGapMilliseconds = settings.interOctetGapMilliseconds
        try Self.configure(fd, path: path, settings: settings)
    }

    deinit { io.close() }

    public var peerDescription: String { path }
    public var counters: TransportCounters { io.counters }
    public var isOpen: Bool { io.isOpen }
    public var lineSettings: SerialSettings { settings }
    /// The descriptor (-1 once closed).
    public var fileDescriptor: Int32 { io.fd }

    public func read(into buffer: UnsafeMutableRawBufferPointer, deadline: Deadline) throws(LinkError) -> Int {
        try io.read(into: buffer, deadline: deadline)
    }

    public func write(_ bytes: UnsafeRawBufferPointer, deadline: Deadline) throws(LinkError) {
        try io.write(bytes, deadline: deadline)
    }

    @discardableResult
    public func discardInput() -> Int { io.discardInput() }

    public func apply(_ newSettings: SerialSettings) throws(LinkError) {
        guard io.fd >= 0 else { throw LinkError.closed(path) }
        if let problem = newSettings.problem { throw LinkError.invalid(path, problem) }
        if !newSettings.sameFraming(as: settings) { try drain() }
        // A pty master has no line to clock (the kernel refuses rate changes on it, EINVAL): the framing of
        // the pair is the slave's, set by whoever opened it. The master only records what the meter agreed.
        if openedByPath { try Self.configure(io.fd, path: path, settings: newSettings) }
        settings = newSettings
        io.interOctetGapMilliseconds = newSettings.interOctetGapMilliseconds
    }

    public func drain() throws(LinkError) {
        guard io.fd >= 0 else { throw LinkError.closed(path) }
        while tcdrain(io.fd) != 0 {
            let code = errno
            if code == EINTR { continue }
            throw io.failure(code, "tcdrain")
        }
    }

    /// The framing the kernel reports for this port now (tcgetattr), to check what was applied.
    public func currentLineSettings() throws(LinkError) -> SerialSettings {
        guard io.fd >= 0 else { throw LinkError.closed(path) }
        var t = termios()
        if tcgetattr(io.fd, &t) != 0 { throw io.failure(errno, "tcgetattr") }
        return SerialSettings.decoded(from: t, base: settings)
    }

    public func reopen(deadline: Deadline) throws(LinkError) {
        guard openedByPath else {
            throw LinkError(.unsupported, peer: path, message: "\(path) is a pseudo-terminal master: it cannot be reopened")
        }
        io.close()
        io.fd = try Self.open(path: path, settings: settings, exclusive: true)
        io.counters.reconnects &+= 1
    }

    public func close() { io.close() }

    // MARK: - Opening

    private static func open(path: String, settings: SerialSettings, exclusive: Bool) throws(LinkError) -> Int32 {
        if let problem = settings.problem { throw LinkError.invalid(path, problem) }
        // O_NONBLOCK so that open does not wait for carrier detect on a port without CLOCAL yet.
        var fd: Int32 = -1
        do {
            fd = try retryingInterrupts("open(\(path))") { clibc_open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0) }
        } catch {
            throw openError(path, error)
        }
        if exclusive {
            // flock first: it is the part that also stops a second agent running as root.
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let error = SystemError.current("flock(\(path))")
                _ = CLibc.close(fd)
                throw openError(path, error)
            }
            if clibc_ioctl(fd, UInt(TIOCEXCL), nil) != 0 {
                let error = SystemError.current("ioctl(\(path), TIOCEXCL)")
                _ = CLibc.close(fd)
                throw openError(path, error)
            }
        }
        do throws(LinkError) {
            try configure(fd, path: path, settings: settings)
        } catch {
            _ = CLibc.close(fd)
            throw error
        }
        return fd
    }

    private static func configure(_ fd: Int32, path: String, settings: SerialSettings) throws(LinkError) {
        if let problem = settings.problem { throw LinkError.invalid(path, problem) }
        var t = termios()
        if tcgetattr(fd, &t) != 0 { throw openError(path, .current("tcgetattr(\(path))")) }
        var wanted = settings.applied(to: t)
        if tcsetattr(fd, TCSANOW, &wanted) != 0 { throw openError(path, .current("tcsetattr(\(path))")) }
        // tcsetattr succeeds when any part applied: read back and insist on the framing.
        var got = termios()
        if tcgetattr(fd, &got) != 0 { throw openError(path, .current("tcgetattr(\(path))")) }
        let applied = SerialSettings.decoded(from: got, base: settings)
        // Linux ptys force CS8 without parity whatever is asked: there only the rate can be checked.
        let honoured = isPseudoTerminal(fd) ? applied.baudRate == settings.baudRate : applied.sameFraming(as: settings)
        if !honoured {
            throw LinkError.invalid(path, "the port does not accept \(settings) (it kept \(applied))")
        }
        // Modem lines: a pty has none (ENOTTY/EINVAL), which is fine; a real port that refuses is not.
        var raise: Int32 = 0
        var drop: Int32 = 0
        if let dtr = settings.dtr { if dtr { raise |= TIOCM_DTR } else { drop |= TIOCM_DTR } }
        if let rts = settings.rts { if rts { raise |= TIOCM_RTS } else { drop |= TIOCM_RTS } }
        for (request, bits) in [(UInt(TIOCMBIS), raise), (UInt(TIOCMBIC), drop)] where bits != 0 {
            var value = bits
            if clibc_ioctl(fd, request, &value) != 0 {
                let code = errno
                if code == ENOTTY || code == EINVAL { break }
                throw openError(path, SystemError("ioctl(\(path), DTR/RTS)", code: code))
            }
        }
    }

    /// True for either side of a Unix 98 pty (slaves are majors 136..143, /dev/ptmx is 5:2).
    static func isPseudoTerminal(_ fd: Int32) -> Bool {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return false }
        let rdev = UInt64(st.st_rdev)
        let major = ((rdev >> 8) & 0xFFF) | ((rdev >> 32) & ~UInt64(0xFFF))
        let minor = (rdev & 0xFF) | ((rdev >> 12) & ~UInt64(0xFF))
        return (136...143).contains(major) || (major == 5 && minor == 2)
    }

    @inline(never)
    private static func openError(_ path: String, _ error: SystemError) -> LinkError {
        switch error.code {
        case ENOENT:
            return LinkError(
                .notFound, peer: path,
                message: "serial device \(path) does not exist: check that the probe is plugged in and the "
                    + "device path (--serial)",
                systemError: error)
        case EACCES, EPERM:
            return LinkError(
                .permissionDenied, peer: path,
                message: "no permission to open \(path): run the agent as a user in the 'dialout' group",
                systemError: error)
        case EBUSY, EWOULDBLOCK:
            return LinkError(
                .busy, peer: path,
                message: "serial device \(path) is in use by another process: stop the other program "
                    + "(a second dlms-bridge, ModemManager, a terminal program) and retry",
                systemError: error)
        case ENOTTY:
            return LinkError(
                .invalidConfiguration, peer: path,
                message: "\(path) is not a serial port (\(error.message)): check the device path (--serial)",
                systemError: error)
        case EIO, ENXIO, ENODEV:
            return LinkError.vanished(path, error.message, systemError: error)
        default:
            return LinkError.system(path, error)
        }
    }
}

/// A pseudo-terminal pair: the master as a transport for the simulated meter, the slave's path for a client
/// (the agent's `--serial`, gurux, a test) to open as if it were a probe.
///
/// Linux equivalents of posix_openpt/grantpt/unlockpt/ptsname are used (open /dev/ptmx, TIOCSPTLCK,
/// TIOCGPTN), because Swift's Glibc module does not export the XSI functions; glibc does the same inside.
/// The slave is set raw at once, so nothing written before a client opens it is echoed back.
public final class PseudoTerminal: @unchecked Sendable {
    /// Path of the slave side, e.g. `/dev/pts/3`.
    public let slavePath: String
    /// The master side: bytes written here arrive at the slave and vice versa.
    public let master: SerialTransport
    private var slaveKeeper: Int32

    /// Creates the pair. With `keepSlaveOpen` (the simulator's choice) the master holds a slave descriptor
    /// so clients may come and go without the master seeing a hang-up; without it, the master's reads fail
    /// with `.vanished` whenever no client has the slave open (what a test of "the client went away" needs).
    public init(keepSlaveOpen: Bool = true, settings: SerialSettings = .hdlc()) throws(LinkError) {
        let masterFD: Int32
        do {
            masterFD = try retryingInterrupts("open(/dev/ptmx)") { clibc_open("/dev/ptmx", O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0) }
        } catch {
            throw LinkError(
                .system, peer: "/dev/ptmx",
                message: "cannot create a pseudo-terminal: \(error): check that /dev/pts is mounted", systemError: error)
        }
        var unlock: Int32 = 0
        var number: UInt32 = 0
        if clibc_ioctl(masterFD, Self.setLock, &unlock) != 0 || clibc_ioctl(masterFD, Self.getNumber, &number) != 0 {
            let error = SystemError.current("ioctl(/dev/ptmx)")
            _ = CLibc.close(masterFD)
            throw LinkError.system("/dev/ptmx", error)
        }
        let path = "/dev/pts/\(number)"
        let slave = clibc_open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0)
        if slave < 0 {
            let error = SystemError.current("open(\(path))")
            _ = CLibc.close(masterFD)
            throw LinkError.system(path, error)
        }
        var t = termios()
        _ = tcgetattr(slave, &t)
        var raw = settings.applied(to: t)
        _ = tcsetattr(slave, TCSANOW, &raw)
        if !keepSlaveOpen { _ = CLibc.close(slave) }
        slaveKeeper = keepSlaveOpen ? slave : -1
        slavePath = path
        do {
            master = try SerialTransport(adopting: masterFD, path: "pty master of \(path)", settings: settings)
        } catch {
            if slaveKeeper >= 0 { _ = CLibc.close(slaveKeeper) }
            _ = CLibc.close(masterFD)
            throw error
        }
    }

    deinit { close() }

    /// Closes both sides: a client on the slave then sees its device vanish.
    public func close() {
        master.close()
        if slaveKeeper >= 0 { _ = CLibc.close(slaveKeeper) }
        slaveKeeper = -1
    }

    // asm-generic ioctl numbers (x86_64, aarch64, armv7): _IOW('T', 0x31, int) and _IOR('T', 0x30, unsigned int).
    // Swift cannot import the _IOR/_IOW macros.
    private static let setLock = UInt(0x4004_5431)
    private static let getNumber = UInt(0x8004_5430)
}
