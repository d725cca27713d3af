import CLibc
import COSEM
import MeterLink
import Platform
import Synchronization

/// The simulated meter on real I/O: a TCP listener with one thread per connection, and/or a pseudo-terminal
/// (optionally opened with IEC 62056-21 mode E), each connection driving its own ``SimulatedMeter``.
///
/// ```swift
/// let server = SimulatorServer(configuration: .init())
/// let port = try server.listen(host: "127.0.0.1", port: 0).port
/// server.faults = SimulatorFaults(replyDelayMilliseconds: 20)   // at any time
/// server.stop()
/// ```
public final class SimulatorServer: @unchecked Sendable {
    public let configuration: SimulatorConfiguration
    /// The HDLC physical addresses served on each connection or pty, one simulated meter each (as meters on
    /// one RS-485 line); frames to any other address get no answer at all.
    public let physicalAddresses: [UInt16]
    /// Receives log lines (already timestamped), when set: `--verbose` frames and connection events.
    let log: (@Sendable (String) -> Void)?
    let verbose: Bool

    private let state: Locked<State>
    private let threads = Locked<[PlatformThread]>([])
    private let stopping = Atomic<Bool>(false)
    private var listener: TCPListener?
    private var pty: PseudoTerminal?

    struct State {
        var faults: SimulatorFaults
        var counters = SimulatorCounters()
        /// The one meter clock's offset from true time, shared by all connections (a SET moves it).
        var clockOffsetMilliseconds: Int64
    }

    /// - Parameters:
    ///   - log: where connection events (and, with `verbose`, every frame in hex) go.
    public init(configuration: SimulatorConfiguration, faults: SimulatorFaults = .none, verbose: Bool = false,
                physicalAddresses: [UInt16] = [], log: (@Sendable (String) -> Void)? = nil) {
        self.configuration = configuration
        self.physicalAddresses = physicalAddresses.isEmpty ? [configuration.serverPhysical] : physicalAddresses
        self.verbose = verbose
        self.log = log
        self.state = Locked(State(faults: faults, clockOffsetMilliseconds: configuration.clockOffsetSeconds * 1000))
    }

    deinit { stop() }

    /// The faults every connection applies from its next frame on.
    public var faults: SimulatorFaults {
        get { state.withLock { $0.faults } }
        set { state.withLock { $0.faults = newValue } }
    }

    /// The meter clock's offset from true time in milliseconds (the clock-offset switch, then SETs).
    public var clockOffsetMilliseconds: Int64 {
        get { state.withLock { $0.clockOffsetMilliseconds } }
        set { state.withLock { $0.clockOffsetMilliseconds = newValue } }
    }

    /// What all connections did so far.
    public var counters: SimulatorCounters { state.withLock { $0.counters } }

    /// Starts listening on `host`:`port` (0 = ephemeral) and returns the listener (its `port` and
    /// `localDescription` say where). Each client gets a thread and its own meter state; several may be
    /// connected at once.
    public func listen(host: String = "127.0.0.1", port: UInt16 = 0) throws(LinkError) -> TCPListener {
        let listener = try TCPListener(host: host, port: port)
        self.listener = listener
        try spawn("simulator accept \(listener.localDescription)") { [self] in acceptLoop(listener) }
        return listener
    }

    /// Creates a pseudo-terminal and serves the meter on its master; returns the slave path a client opens.
    /// With `modeE`, every session starts with the IEC 62056-21 mode E opening (sign-on at 300 baud,
    /// identification, acknowledgement), then HDLC until the link is closed (DISC) or dropped.
    public func serveSerial(modeE: Bool, responder: ModeEResponder = ModeEResponder()) throws(LinkError) -> String {
        let pty = try PseudoTerminal(keepSlaveOpen: true)
        self.pty = pty
        try spawn("simulator serial \(pty.slavePath)") { [self] in serialLoop(pty, modeE: modeE, responder: responder) }
        return pty.slavePath
    }

    /// Stops every thread (within about 200 ms) and closes listener and pty. Calling it twice is harmless.
    public func stop() {
        if stopping.exchange(true, ordering: .acquiringAndReleasing) { return }
        let all = threads.withLock { list -> [PlatformThread] in
            defer { list.removeAll() }
            return list
        }
        for thread in all { thread.join() }
        // Threads that were being spawned while the list was taken.
        for thread in threads.withLock({ $0 }) { thread.join() }
        listener?.close()
        pty?.close()
    }

    var isStopping: Bool { stopping.load(ordering: .acquiring) }

    private func spawn(_ name: String, _ body: @escaping @Sendable () -> Void) throws(LinkError) {
        do {
            let thread = try PlatformThread.spawn(name: name, body)
            threads.withLock { $0.append(thread) }
        } catch {
            throw LinkError(.system, peer: name, message: "cannot start the \(name) thread: \(error)", systemError: error)
        }
    }

    func emitLog(_ line: @autoclosure () -> String) {
        guard let log else { return }
        log(Self.timestamp(WallClock.milliseconds()) + " " + line())
    }

    // MARK: TCP

    private func acceptLoop(_ listener: TCPListener) {
        while !isStopping {
            let transport: TCPTransport
            do { transport = try listener.accept(deadline: .after(milliseconds: 200)) } catch {
                if error.kind == .timeout { continue }
                if isStopping { return }
                emitLog("accept failed: \(error.description)")
                continue
            }
            state.withLock { $0.counters.connections += 1 }
            emitLog("client \(transport.peerDescription) connected")
            do {
                try spawn("simulator connection \(transport.peerDescription)") { [self] in
                    var meters = makeMeters()
                    let end = serve(transport, &meters, isSerial: false, untilLinkCloses: false)
                    transport.close()
                    emitLog("client \(transport.peerDescription): \(end)")
                }
            } catch {
                emitLog(error.description)
                transport.close()
            }
        }
    }

    // MARK: Serial

    private func serialLoop(_ pty: PseudoTerminal, modeE: Bool, responder: ModeEResponder) {
        let line = pty.master
        while !isStopping {
            var leftover: [UInt8] = []
            if modeE {
                // Wait for the first byte with a short deadline (to notice stop), then give the opening time.
                let readiness = (try? Poll.readable(line.fileDescriptor, deadline: .after(milliseconds: 200))) ?? .timedOut
                if readiness != .ready { continue }
                do {
                    let agreed = try responder.respond(on: line, deadline: .after(milliseconds: 10_000))
                    let rate = agreed.baudRate
                    leftover = agreed.trailingBytes
                    state.withLock { $0.counters.modeEOpenings += 1 }
                    emitLog("mode E opening done on \(pty.slavePath): HDLC at \(rate) baud")
                } catch {
                    if isStopping { return }
                    emitLog("mode E opening failed: \(error.description)")
                    _ = line.discardInput()
                    continue
                }
            }
            state.withLock { $0.counters.connections += 1 }
            var meters = makeMeters()
            let end = serve(line, &meters, isSerial: true, untilLinkCloses: modeE, initial: leftover)
            emitLog("serial session on \(pty.slavePath): \(end)")
        }
    }

    // MARK: One connection

    /// Drives one meter over `transport` until the peer leaves, the link is dropped (TCP), the link closes
    /// (`untilLinkCloses`, for mode E sessions), or the server stops. Returns why, in words.
    func serve(_ transport: some ByteTransport, _ meter: inout SimulatedMeter, isSerial: Bool,
               untilLinkCloses: Bool, initial: [UInt8] = []) -> String {
        var meters = [meter]
        defer { meter = meters[0] }
        return serve(transport, &meters, isSerial: isSerial, untilLinkCloses: untilLinkCloses, initial: initial)
    }

    /// Serves several meters (one per physical address) on one connection, as meters on one bus: every meter
    /// sees every frame and answers only those addressed to it.
    func serve(_ transport: some ByteTransport, _ meters: inout [SimulatedMeter], isSerial: Bool,
               untilLinkCloses: Bool, initial: [UInt8] = []) -> String {
        var buffer = [UInt8](repeating: 0, count: 4096)
        var sawLink = false
        let started = WallClock.milliseconds()
        defer { for i in meters.indices { merge(&meters[i]) } }
        if !initial.isEmpty {
            // An SNRM that followed the mode E acknowledgement in the same read.
            for i in meters.indices { _ = flush(meters[i].receive(initial, now: started), transport, &meters[i]) }
            sawLink = meters.contains { $0.isLinkConnected }
        }
        while !isStopping {
            let current = faults
            let now = WallClock.milliseconds()
            var wait: Int64 = 200
            for i in meters.indices {
                meters[i].faults = current
                let idle = meters[i].tick(now: now)
                if flush(idle, transport, &meters[i]) {
                    if !isSerial || untilLinkCloses { return "link dropped after the inactivity timeout" }
                }
                if let deadline = meters[i].inactivityDeadline { wait = max(1, min(wait, deadline - now)) }
            }
            // A mode E session nobody continues with HDLC ends after the inactivity timeout, too.
            if untilLinkCloses && !sawLink && now - started > configuration.inactivityTimeoutMilliseconds {
                return "no HDLC link after the mode E opening within the inactivity timeout"
            }
            let n: Int
            do { n = try transport.read(into: &buffer, deadline: .after(milliseconds: wait)) } catch {
                if error.kind == .timeout { continue }
                return isStopping ? "stopped" : error.description
            }
            let received = Array(buffer[0..<n])
            let latest = faults  // a switch made while this read waited applies to this very frame
            for i in meters.indices {
                meters[i].faults = latest
                let offset = clockOffsetMilliseconds
                meters[i].clockOffsetMilliseconds = offset
                let out = meters[i].receive(received, now: WallClock.milliseconds())
                if meters[i].clockOffsetMilliseconds != offset { clockOffsetMilliseconds = meters[i].clockOffsetMilliseconds }
                if flush(out, transport, &meters[i]) {
                    if !isSerial { return "link dropped (fault)" }
                    if untilLinkCloses { return "link dropped (fault)" }
                }
            }
            if meters.contains(where: { $0.isLinkConnected }) {
                sawLink = true
            } else if sawLink && untilLinkCloses {
                return "link closed"
            }
        }
        return "stopped"
    }

    /// One simulated meter per served physical address.
    func makeMeters() -> [SimulatedMeter] {
        let current = faults
        return physicalAddresses.map { address in
            var c = configuration
            c.serverPhysical = address
            return SimulatedMeter(configuration: c, faults: current, tracing: verbose)
        }
    }

    private func flush(_ out: MeterOutput, _ transport: some ByteTransport, _ meter: inout SimulatedMeter) -> Bool {
        for line in out.trace { emitLog(line) }
        // Counted before the bytes leave, so that a client that got the answer sees it in the counters.
        merge(&meter)
        if out.delayMilliseconds > 0 && !out.writes.isEmpty {
            // The reply-delay fault: a real wait, like a slow meter (in slices, so that stop() is not held up).
            let until = MonotonicInstant.now().advanced(byMilliseconds: Int64(out.delayMilliseconds))
            while !isStopping {
                let left = until.microseconds(since: .now())  // microseconds: whole ms would end up to 1 ms early
                if left <= 0 { break }
                usleep(UInt32(min(left, 100_000)))
            }
        }
        for bytes in out.writes {
            do { try transport.write(bytes, deadline: .after(milliseconds: 2000)) } catch {
                emitLog("write failed: \(error.description)")
                break
            }
        }
        return out.closeLink
    }

    private func merge(_ meter: inout SimulatedMeter) {
        let delta = meter.takeCounters()
        state.withLock { $0.counters.add(delta) }
    }

    /// `2026-11-22T04:14:55.123Z`.
    static func timestamp(_ unixMilliseconds: Int64) -> String {
        let t = CosemDateTime(unixMilliseconds: unixMilliseconds)
        func two(_ v: UInt8) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let ms = unixMilliseconds % 1000
        let milli = ms < 10 ? "00\(ms)" : ms < 100 ? "0\(ms)" : "\(ms)"
        return "\(t.date.year)-\(two(t.date.month))-\(two(t.date.dayOfMonth))T\(two(t.time.hour)):"
            + "\(two(t.time.minute)):\(two(t.time.second)).\(milli)Z"
    }
}
