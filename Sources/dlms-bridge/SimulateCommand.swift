import Agent
import ArgumentParser
import COSEM
import HDLC
import MeterLink
import MeterSimulator
import Platform

#if canImport(Glibc)
import Glibc
#endif

/// `dlms-bridge simulate`: a simulated Microstar meter, the demo meter and the test meter.
struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run a simulated Microstar meter on TCP (loopback) or a pseudo-terminal.",
        discussion: """
            Prints `listening on HOST:PORT` (TCP) or `serial on /dev/pts/N`
            (--serial pty) on stdout once ready. Runs until SIGINT/SIGTERM,
            `stop` on stdin, or --duration seconds; then prints `counters {json}`.

            Control on stdin, one command per line (answers on stdout):
              faults WORD...   replace the fault switches (`faults none` clears)
              counters         print `counters {json}`
              stop             stop the simulator
            Fault words: drop-after-frames=N reply-delay-ms=D corrupt-every=N
            stray-bytes=HEX reject-password silent unavailable=OBIS (repeatable).

            Examples:
              dlms-bridge simulate --port 3333
              dlms-bridge simulate --port 0 --address-size 4 --reply-delay-ms 20
              dlms-bridge simulate --serial pty --mode-e --verbose
            """)

    @Option(help: "Address to listen on.") var host: String = "127.0.0.1"
    @Option(help: "TCP port (0 = any free port; the bound one is printed).") var port: UInt16 = 3333
    @Option(help: "`pty`: serve on a new pseudo-terminal instead of TCP.") var serial: String?
    @Flag(name: .customLong("mode-e"), help: "On the pty, open each session with IEC 62056-21 mode E.") var modeE = false
    @Option(name: .customLong("mode-e-baud"), help: "Rate offered in the mode E identification.") var modeEBaud: Int = 9600
    @Flag(name: .customLong("mode-e-echo"), help: "Echo the opening bytes like an optical head does.") var modeEEcho = false
    @Option(help: "Stop after this many seconds (default: run until a signal).") var duration: Double?
    @Flag(help: "Log every frame in hex with timestamps on stderr (password bytes masked).") var verbose = false

    @Option(help: "LLS password for client SAPs 1 and 32 (Microstar: 8 or 10 characters).") var password = "22222222"
    @Option(name: .customLong("serial-number"), help: "Meter serial number (12 digits).") var serialNumber = "000019001234"
    @Option(name: .customLong("server-logical"), help: "Server logical address.") var serverLogical: UInt16 = 0
    @Option(name: .customLong("server-physical"), help: "Server physical address.") var serverPhysical: UInt16 = 1
    @Option(name: .customLong("address-size"), help: "Server address widths answered: 1, 2, 4 or any.")
    var addressSize = "any"
    @Option(name: .customLong("unknown-client"), help: "Answer to unknown client SAPs: dm or silent.")
    var unknownClient = "dm"
    @Flag(name: .customLong("no-get-with-list"), help: "Do not grant GET-With-List (clients must fall back).")
    var noGetWithList = false
    @Option(name: .customLong("max-pdu"), help: "Largest APDU the meter sends and receives.") var maxPDU: UInt16 = 1024
    @Option(name: .customLong("first-block"), help: "Number of the first GET block (1, or 0 like some meters).")
    var firstBlock: UInt32 = 1
    @Option(name: .customLong("max-info"), help: "Largest HDLC info field the meter accepts.") var maxInfo: Int = 128
    @Option(name: .customLong("inactivity-timeout"), help: "Seconds without a frame before the meter drops the link.")
    var inactivityTimeout: Double = 180
    @Option(name: .customLong("profile-rows"), help: "Load profile rows back from now (96 = one day).")
    var profileRows: Int = 192
    @Option(name: .customLong("capture-period"), help: "Load profile capture period, seconds.") var capturePeriod: Int = 900

    @Option(name: .customLong("drop-after-frames"), help: "Fault: drop the link on the Nth frame of a connection.")
    var dropAfterFrames: Int?
    @Option(name: .customLong("reply-delay-ms"), help: "Fault: delay every reply by this many milliseconds.")
    var replyDelayMs: Int = 0
    @Option(name: .customLong("corrupt-every"), help: "Fault: corrupt the FCS of every Nth reply.") var corruptEvery: Int?
    @Option(name: .customLong("stray-bytes"), help: "Fault: send these hex bytes before every reply (e.g. 7E7E).")
    var strayBytes: String?
    @Flag(name: .customLong("reject-password"), help: "Fault: reject every password (diagnostic 13).")
    var rejectPassword = false
    @Flag(help: "Fault: a dead meter that answers nothing.") var silent = false
    @Option(name: .customLong("unavailable"), help: "Fault: answer object-unavailable for this OBIS; repeatable.")
    var unavailable: [String] = []

    func validate() throws {
        if let serial, serial != "pty" {
            throw ValidationError("--serial takes `pty` (the simulator creates a pseudo-terminal and prints its path)")
        }
        if modeE && serial == nil { throw ValidationError("--mode-e needs --serial pty") }
        if ModeE.baudCode(forRate: modeEBaud) == nil {
            throw ValidationError("--mode-e-baud must be one of \(ModeE.baudRates.map(String.init).joined(separator: ", "))")
        }
        guard let widths = AcceptedAddressWidths(parsing: addressSize) else {
            throw ValidationError("--address-size takes 1, 2, 4 or any")
        }
        if case let .only(width) = widths,
            (try? HDLCAddress(logical: serverLogical, physical: serverPhysical, width: width)) == nil {
            throw ValidationError("server logical \(serverLogical) / physical \(serverPhysical) cannot be written in "
                + "\(width): 1 byte needs logical 0 and physical < 128, 2 bytes both < 128")
        }
        if unknownClient != "dm" && unknownClient != "silent" { throw ValidationError("--unknown-client takes dm or silent") }
        if (try? HDLCAddress(logical: serverLogical, physical: serverPhysical, width: .four)) == nil {
            throw ValidationError("--server-logical and --server-physical must be below 16384")
        }
        if profileRows < 1 || capturePeriod < 1 { throw ValidationError("--profile-rows and --capture-period must be positive") }
        if maxPDU < 64 { throw ValidationError("--max-pdu must be at least 64") }
        if maxInfo < 32 || maxInfo > 2030 { throw ValidationError("--max-info must be 32...2030") }
        if password.utf8.count != 8 && password.utf8.count != 10 {
            simulatorLine(stderr: "dlms-bridge simulate: note: a Microstar password has 8 or 10 characters; this one has \(password.utf8.count)")
        }
        _ = try faultSwitches()
    }

    func faultSwitches() throws -> SimulatorFaults {
        var words: [String] = []
        if let dropAfterFrames { words.append("drop-after-frames=\(dropAfterFrames)") }
        if replyDelayMs > 0 { words.append("reply-delay-ms=\(replyDelayMs)") }
        if let corruptEvery { words.append("corrupt-every=\(corruptEvery)") }
        if let strayBytes { words.append("stray-bytes=\(strayBytes)") }
        if rejectPassword { words.append("reject-password") }
        if silent { words.append("silent") }
        words += unavailable.map { "unavailable=\($0)" }
        do { return try SimulatorFaults(parsing: words) } catch { throw ValidationError(error.description) }
    }

    func run() throws {
        let configuration = SimulatorConfiguration(
            serverLogical: serverLogical, serverPhysical: serverPhysical,
            addressWidths: AcceptedAddressWidths(parsing: addressSize) ?? .any,
            password: Array(password.utf8),
            unknownClientResponse: unknownClient == "silent" ? .silence : .disconnectedMode,
            linkParameters: LinkParameters(maxInfoTransmit: maxInfo, maxInfoReceive: maxInfo),
            conformance: noGetWithList ? SimulatorConfiguration.withoutGetWithList : SimulatorConfiguration.fullConformance,
            maxPDUSize: maxPDU, firstBlockNumber: firstBlock,
            inactivityTimeoutMilliseconds: Int64(inactivityTimeout * 1000),
            serialNumber: serialNumber, profileRows: profileRows, capturePeriodSeconds: capturePeriod)

        // Signals go to one thread (sigtimedwait); block them before any other thread starts.
        SignalThread.blockSignals()
        let stop = StopFlag()
        let signals: SignalThread
        do {
            signals = try SignalThread.start { signal in
                if case .stop = signal { stop.set() }
            }
        } catch {
            simulatorFail("cannot watch signals: \(error)")
        }
        defer { signals.stop() }

        let server = SimulatorServer(
            configuration: configuration, faults: try faultSwitches(), verbose: verbose,
            log: { line in simulatorLine(stderr: line) })
        do {
            if serial != nil {
                let baudCode = ModeE.baudCode(forRate: modeEBaud) ?? 0x35
                let path = try server.serveSerial(
                    modeE: modeE, responder: ModeEResponder(baudCode: baudCode, echoesInput: modeEEcho))
                simulatorLine(stdout: "serial on \(path)")
            } else {
                let listener = try server.listen(host: host, port: port)
                simulatorLine(stdout: "listening on \(listener.localDescription)")
            }
        } catch {
            simulatorFail(error.description)
        }
        simulatorLine(stderr: "dlms-bridge simulate: server \(serverLogical)/\(serverPhysical) (address size \(addressSize)), "
            + "serial \(serialNumber), faults: \(server.faults.summary)")

        let until = duration.map { Deadline.after(milliseconds: Int64($0 * 1000)) }
        var control = ControlChannel()
        while !stop.isSet {
            if let until, until.hasPassed { break }
            guard let command = control.nextLine(waitMilliseconds: 200) else { continue }
            handle(command, server: server, stop: stop)
        }
        server.stop()
        simulatorLine(stdout: "counters \(server.counters.json)")
    }

    private func handle(_ line: String, server: SimulatorServer, stop: StopFlag) {
        let words = line.split(separator: " ").map(String.init)
        guard let verb = words.first else { return }
        switch verb {
        case "faults":
            do {
                server.faults = try SimulatorFaults(parsing: Array(words.dropFirst()))
                simulatorLine(stdout: "ok faults \(server.faults.summary)")
            } catch {
                simulatorLine(stdout: "error \(error.description)")
            }
        case "counters":
            simulatorLine(stdout: "counters \(server.counters.json)")
        case "stop":
            stop.set()
        default:
            simulatorLine(stdout: "error unknown command \"\(verb)\": use faults ..., counters or stop")
        }
    }
}

/// Set once by the signal thread or the control channel.
final class StopFlag: @unchecked Sendable {
    private let lock = ConditionLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

/// Lines from stdin, read without blocking past a short wait; at end of input (stdin is /dev/null under
/// `make demo`) it stops reading and just waits.
struct ControlChannel {
    private var pending: [UInt8] = []
    private var closed = false

    mutating func nextLine(waitMilliseconds: Int64) -> String? {
        if let line = takeLine() { return line }
        if closed {
            var pfd = pollfd(fd: -1, events: 0, revents: 0)
            _ = poll(&pfd, 0, Int32(waitMilliseconds))
            return nil
        }
        let readiness = (try? Poll.readable(0, deadline: .after(milliseconds: waitMilliseconds))) ?? .hangUp
        if readiness == .timedOut { return nil }
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
        if n <= 0 {
            if n == 0 || (errno != EINTR && errno != EAGAIN) { closed = true }
            return takeLine() ?? (closed && !pending.isEmpty ? flushPending() : nil)
        }
        pending += buffer[0..<n]
        return takeLine()
    }

    private mutating func takeLine() -> String? {
        guard let i = pending.firstIndex(of: 0x0A) else { return nil }
        let line = String(decoding: pending[..<i], as: UTF8.self)
        pending.removeSubrange(...i)
        var trimmed = Substring(line)
        while trimmed.last == "\r" || trimmed.last == " " { trimmed = trimmed.dropLast() }
        return String(trimmed)
    }

    private mutating func flushPending() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }
}

/// One line on stdout, flushed at once (tests and `make demo` wait for it).
func simulatorLine(stdout text: String) {
    print(text)
    fflush(nil)  // every stream: `stdout` itself is a C global Swift 6 will not touch
}

/// One line on stderr.
func simulatorLine(stderr text: String) {
    var bytes = Array((text + "\n").utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + offset, $0.count - offset) }
        if n <= 0 { if errno == EINTR { continue }; return }
        offset += n
    }
}

func simulatorFail(_ message: String) -> Never {
    simulatorLine(stderr: "dlms-bridge simulate: \(message)")
    exit(1)
}
