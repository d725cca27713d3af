import Platform

/// One serial port shared by several meters: an RS-485 bus, each meter at its own HDLC physical address.
///
/// The port is opened once, with the line's settings (and the IEC 62056-21 mode E opening once, when the
/// line needs it), at the first meter's use; every meter's session gets a `SharedSerialLine.Use`, a transport
/// whose `close()` only ends that meter's use. The port closes when the last use ends, so a re-plugged probe
/// or a line where no meter answers is opened again at the next poll.
///
/// Meters take turns: `withTurn` holds the line for one whole conversation (a poll, a keep-alive, the release
/// at the stop), so frames of two meters never interleave, and throws away stale bytes (a late answer of a
/// meter that timed out) before the next meter's turn. Each request keeps its meter's own timeout, so a dead
/// meter holds the line only for its own timeouts. Frames that do reach a session but are addressed to another
/// station are ignored by its HDLC link.
public final class SharedSerialLine: @unchecked Sendable {
    /// The device path, e.g. `/dev/ttyUSB0`.
    public let path: String
    /// Serial rate (with mode E: the highest rate to accept).
    public let baudRate: Int
    /// Whether the port is opened with the mode E sign-on.
    public let modeE: Bool

    private let turn = Locked<Int>(0)  // held for a whole conversation; counts the turns taken
    private let state = Locked<PortState>(PortState())
    private let opener: @Sendable (String, Int, Bool, Deadline) throws(LinkError) -> any ByteTransport

    struct PortState {
        var port: (any ByteTransport)?
        var users = 0
        var openings = 0
    }

    /// - Parameter opener: opens the port (tests may substitute one); by default `SerialTransport` with the
    ///   optional mode E opening, as a single meter's session does.
    public init(path: String, baudRate: Int, modeE: Bool,
                opener: @escaping @Sendable (String, Int, Bool, Deadline) throws(LinkError) -> any ByteTransport = SharedSerialLine.openPort) {
        self.path = path
        self.baudRate = baudRate
        self.modeE = modeE
        self.opener = opener
    }

    /// The default opener: the same as a meter session on its own port.
    public static func openPort(_ path: String, _ baudRate: Int, _ modeE: Bool, _ deadline: Deadline) throws(LinkError) -> any ByteTransport {
        try MeterSession.openTransport(.serial(path: path, baudRate: baudRate, modeE: modeE), deadline)
    }

    /// Runs one meter's conversation alone on the line, after throwing away bytes nobody asked for.
    public func withTurn<R>(_ body: () -> R) -> R {
        turn.withLock { turns in
            turns += 1
            if let port = state.withLock({ $0.port }), port.isOpen { port.discardInput() }
            return body()
        }
    }

    /// Meters using the line now (sessions with the port open).
    public var users: Int { state.withLock { $0.users } }
    /// How many times the port was opened.
    public var openings: Int { state.withLock { $0.openings } }

    /// A meter's use of the line, for its session (`MeterSession`'s transport factory). Opens the port when
    /// no meter has it open.
    public func attach(deadline: Deadline) throws(LinkError) -> Use {
        try state.withLock { (s: inout PortState) throws(LinkError) -> Use in
            if let port = s.port, !port.isOpen {
                s.port = nil
            }
            if s.port == nil {
                s.port = try opener(path, baudRate, modeE, deadline)
                s.openings += 1
                s.users = 0  // uses of a port that broke end on their own, without counting here
            }
            s.users += 1
            return Use(line: self, port: s.port!)
        }
    }

    fileprivate func release(_ port: any ByteTransport) {
        state.withLock { s in
            guard s.port === port else { port.close(); return }
            s.users -= 1
            if s.users <= 0 {
                s.users = 0
                port.close()
                s.port = nil
            }
        }
    }

    fileprivate func failed(_ port: any ByteTransport, _ error: LinkError) {
        // A probe that went away, or a port that broke: every meter's use sees it closed and reopens.
        guard error.kind == .vanished || error.kind == .dropped else { return }
        state.withLock { s in
            port.close()
            if s.port === port { s.port = nil }
        }
    }

    /// One meter's use of a shared line: forwards to the port; `close()` ends this use only.
    public final class Use: ByteTransport, @unchecked Sendable {
        private let line: SharedSerialLine
        private let port: any ByteTransport
        private var released = false

        init(line: SharedSerialLine, port: any ByteTransport) {
            self.line = line
            self.port = port
        }

        deinit { close() }

        public var peerDescription: String { port.peerDescription }
        public var counters: TransportCounters { port.counters }
        public var isOpen: Bool { !released && port.isOpen }

        public func read(into buffer: UnsafeMutableRawBufferPointer, deadline: Deadline) throws(LinkError) -> Int {
            guard !released else { throw LinkError.closed(line.path) }
            do { return try port.read(into: buffer, deadline: deadline) } catch {
                line.failed(port, error)
                throw error
            }
        }

        public func write(_ bytes: UnsafeRawBufferPointer, deadline: Deadline) throws(LinkError) {
            guard !released else { throw LinkError.closed(line.path) }
            do { try port.write(bytes, deadline: deadline) } catch {
                line.failed(port, error)
                throw error
            }
        }

        @discardableResult
        public func discardInput() -> Int { released ? 0 : port.discardInput() }

        public func reopen(deadline: Deadline) throws(LinkError) {
            throw LinkError(.unsupported, peer: line.path,
                            message: "\(line.path) is shared by several meters: a meter's use of it is not reopened, it attaches again")
        }

        public func close() {
            if released { return }
            released = true
            line.release(port)
        }
    }
}

/// The shared serial lines of a gateway, one per device path: the meters whose `DLMS_SERIAL_DEVICE` names the
/// same port get the same `SharedSerialLine` (the configuration has checked that they agree on its settings).
public final class SerialLineRegistry: @unchecked Sendable {
    private let lines = Locked<[String: SharedSerialLine]>([:])

    public init() {}

    /// The line for `path`, created at the first request; later requests get the same line.
    public func line(path: String, baudRate: Int, modeE: Bool) -> SharedSerialLine {
        lines.withLock { all in
            if let line = all[path] { return line }
            let line = SharedSerialLine(path: path, baudRate: baudRate, modeE: modeE)
            all[path] = line
            return line
        }
    }
}
