import Agent
import COSEM
import HDLC
import MeterLink
import MeterSimulator
import Platform

import CLibc

/// `dlms-bridge simulate`: a simulated Microstar meter, the demo meter and the test meter.
struct SimulateCommand {
    static let spec = CommandSpec(
        name: "simulate",
        abstract: "Run a simulated Microstar meter on TCP (loopback) or a pseudo-terminal.",
        discussion: """
            Prints `listening on HOST:PORT` (TCP) or `serial on /dev/pts/N`
            (--serial pty) on stdout once ready. Runs until SIGINT/SIGTERM,
            `stop` on stdin, or --duration seconds; then prints `counters {json}`.

            Control on stdin, one command per line (answers on stdout):
              faults WORD...   replace the fault switches (`faults none` clears)
              counters         print `counters {json}`
              clock            print `clock offset_ms=N` (the meter clock minus true time)
              stop             stop the simulator
            Fault words: drop-after-frames=N reply-delay-ms=D corrupt-every=N
            stray-bytes=HEX reject-password silent unavailable=OBIS (repeatable);
            secured meter (--security): wrong-tag replay-reply stale-counter wrong-f-ctos.

            A secured meter (--security auth|enc|auth-enc) requires ciphering from the
            client SAPs of --secured-clients (default 1): --auth none|lls|hls-gmac,
            --ek/--ak (hex), --system-title (the meter's). Its frame counter (last
            counter accepted from a client) is attribute 2 of 0-0:43.1.0.255, readable
            by the public client 16. --iv-log FILE appends every IV a client used
            (`TITLE COUNTER` a line), so that a test can check none repeats.

            Examples:
              dlms-bridge simulate --port 3333
              dlms-bridge simulate --port 0 --address-size 4 --reply-delay-ms 20
              dlms-bridge simulate --serial pty --mode-e --verbose
            """,
        options: [
            .value("host", "address", "Address to listen on.", default: "127.0.0.1"),
            .value("port", "port", "TCP port (0 = any free port; the bound one is printed).", default: "3333"),
            .value("serial", "pty", "`pty`: serve on a new pseudo-terminal instead of TCP."),
            .value("transport", "framing", "hdlc, or wrapper (IEC 62056-47 on TCP; the meter's wPort is "
                   + "--server-logical).", default: "hdlc"),
            .flag("mode-e", "On the pty, open each session with IEC 62056-21 mode E."),
            .value("mode-e-baud", "rate", "Rate offered in the mode E identification.", default: "9600"),
            .flag("mode-e-echo", "Echo the opening bytes like an optical head does."),
            .value("duration", "seconds", "Stop after this many seconds (default: run until a signal)."),
            .flag("verbose", "Log every frame in hex with timestamps on stderr (password bytes masked)."),
            .value("password", "password", "LLS password for client SAPs 1 and 32 (Microstar: 8 or 10 characters).",
                   default: "22222222"),
            .value("serial-number", "digits", "Meter serial number (12 digits).", default: "000019001234"),
            .value("server-logical", "n", "Server logical address.", default: "0"),
            .value("server-physical", "n", "Server physical address.", default: "1"),
            .value("addresses", "list", "Physical addresses served on the one pty or TCP connection, e.g. 1,2: a "
                   + "meter each, as on one RS-485 line (frames to others get no answer). Default: --server-physical."),
            .value("address-size", "size", "Server address widths answered: 1, 2, 4 or any.", default: "any"),
            .value("unknown-client", "answer", "Answer to unknown client SAPs: dm or silent.", default: "dm"),
            .flag("no-get-with-list", "Do not grant GET-With-List (clients must fall back)."),
            .value("max-pdu", "bytes", "Largest APDU the meter sends and receives.", default: "1024"),
            .value("first-block", "n", "Number of the first GET block (1, or 0 like some meters).", default: "1"),
            .value("max-info", "bytes", "Largest HDLC info field the meter accepts.", default: "128"),
            .value("inactivity-timeout", "seconds", "Seconds without a frame before the meter drops the link.",
                   default: "180"),
            .value("profile-rows", "n", "Load profile rows back from now (96 = one day).", default: "192"),
            .value("capture-period", "seconds", "Load profile capture period, seconds.", default: "900"),
            .values("profile-gap", "start:length", "The meter was unpowered from START seconds after the simulator "
                    + "started, for LENGTH seconds: the load profile has no rows there (repeatable)."),
            .value("capture-objects-change-at", "seconds", "Reconfigure the load profile this many seconds after "
                   + "start: new capture objects (clock, +A, voltage, -A) and a cleared buffer."),
            .value("event-period", "seconds", "Seconds between event log entries.", default: "21600"),
            .value("clock-offset", "seconds", "The meter's clock runs this many seconds ahead of true time "
                   + "(negative: behind; write it --clock-offset=-30).", default: "0"),
            .value("drop-after-frames", "n", "Fault: drop the link on the Nth frame of a connection."),
            .value("reply-delay-ms", "ms", "Fault: delay every reply by this many milliseconds.", default: "0"),
            .value("corrupt-every", "n", "Fault: corrupt the FCS of every Nth reply."),
            .value("stray-bytes", "hex", "Fault: send these hex bytes before every reply (e.g. 7E7E)."),
            .flag("reject-password", "Fault: reject every password (diagnostic 13)."),
            .flag("silent", "Fault: a dead meter that answers nothing."),
            .values("unavailable", "obis", "Fault: answer object-unavailable for these OBIS codes."),
            .value("security", "level", "Secured meter: none, auth, enc or auth-enc.", default: "none"),
            .value("auth", "mechanism", "Secured meter: what clients authenticate with: none, lls or hls-gmac.",
                   default: "hls-gmac"),
            .value("ek", "hex", "Secured meter: encryption key.", default: "000102030405060708090A0B0C0D0E0F"),
            .value("ak", "hex", "Secured meter: authentication key.", default: "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"),
            .value("system-title", "hex", "Secured meter: the meter's system title.", default: "4D4D4D0000000001"),
            .value("secured-clients", "list", "Secured meter: client SAPs that must cipher.", default: "1"),
            .value("iv-log", "path", "Secured meter: append every IV a client used to this file."),
            .flag("no-general-protection", "Secured meter: do not grant general protection (glo- tags only, no DB/DC)."),
            .flag("wrong-tag", "Fault (secured): alter the tag of every protected reply."),
            .flag("replay-reply", "Fault (secured): send an earlier protected reply again."),
            .flag("stale-counter", "Fault (secured): protect replies with a counter that does not increase."),
            .flag("wrong-f-ctos", "Fault (secured): answer HLS pass 3 with a wrong f(CtoS)."),
        ])

    var host = "127.0.0.1"
    var port: UInt16 = 3333
    var serial: String?
    var framing = MeterFraming.hdlc
    var modeE = false
    var modeEBaud: Int = 9600
    var modeEEcho = false
    var duration: Double?
    var verbose = false
    var password = "22222222"
    var serialNumber = "000019001234"
    var addresses: [UInt16] = []
    var serverLogical: UInt16 = 0
    var serverPhysical: UInt16 = 1
    var addressSize = "any"
    var unknownClient = "dm"
    var noGetWithList = false
    var maxPDU: UInt16 = 1024
    var firstBlock: UInt32 = 1
    var maxInfo: Int = 128
    var inactivityTimeout: Double = 180
    var profileRows: Int = 192
    var capturePeriod: Int = 900
    var profileGaps: [(start: Int64, length: Int64)] = []
    var captureObjectsChangeAt: Int64?
    var clockOffset: Int64 = 0
    var eventPeriod: Int64 = 21_600
    var dropAfterFrames: Int?
    var replyDelayMs: Int = 0
    var corruptEvery: Int?
    var strayBytes: String?
    var rejectPassword = false
    var silent = false
    var unavailable: [String] = []
    var security = "none"
    var auth = "hls-gmac"
    var ek = "000102030405060708090A0B0C0D0E0F"
    var ak = "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"
    var systemTitle = "4D4D4D0000000001"
    var securedClients: Set<UInt8> = [1]
    var ivLog: String?
    var noGeneralProtection = false
    var securityFaults: [String] = []

    static func main(_ arguments: ArraySlice<String>) -> Never {
        runCommand(spec, arguments) { a throws(UsageError) in
            var c = SimulateCommand()
            c.host = a.string("host", default: "127.0.0.1")
            c.port = try a.integer("port", UInt16.self, default: 3333) ?? 3333
            c.serial = a.string("serial")
            guard let framing = MeterFraming(rawValue: a.string("transport", default: "hdlc")) else {
                throw UsageError(message: "--transport takes hdlc or wrapper")
            }
            c.framing = framing
            c.modeE = a.flag("mode-e")
            c.modeEBaud = try a.integer("mode-e-baud", Int.self, default: 9600) ?? 9600
            c.modeEEcho = a.flag("mode-e-echo")
            c.duration = try a.double("duration")
            c.verbose = a.flag("verbose")
            c.password = a.string("password", default: "22222222")
            c.serialNumber = a.string("serial-number", default: "000019001234")
            c.serverLogical = try a.integer("server-logical", UInt16.self, default: 0) ?? 0
            c.serverPhysical = try a.integer("server-physical", UInt16.self, default: 1) ?? 1
            if let list = a.string("addresses") {
                var addresses: [UInt16] = []
                for part in list.split(separator: ",") {
                    guard let n = UInt16(part), !addresses.contains(n) else {
                        throw UsageError(message: "--addresses takes distinct physical addresses separated by commas, e.g. 1,2,3")
                    }
                    addresses.append(n)
                }
                if addresses.isEmpty { throw UsageError(message: "--addresses takes at least one physical address, e.g. 1,2") }
                c.addresses = addresses
            }
            c.addressSize = a.string("address-size", default: "any")
            c.unknownClient = a.string("unknown-client", default: "dm")
            c.noGetWithList = a.flag("no-get-with-list")
            c.maxPDU = try a.integer("max-pdu", UInt16.self, default: 1024) ?? 1024
            c.firstBlock = try a.integer("first-block", UInt32.self, default: 1, in: 0...1) ?? 1
            c.maxInfo = try a.integer("max-info", Int.self, default: 128) ?? 128
            c.inactivityTimeout = try a.double("inactivity-timeout", default: 180) ?? 180
            c.profileRows = try a.integer("profile-rows", Int.self, default: 192) ?? 192
            c.capturePeriod = try a.integer("capture-period", Int.self, default: 900) ?? 900
            for gap in a.strings("profile-gap") {
                let parts = gap.split(separator: ":")
                guard parts.count == 2, let start = Int64(parts[0]), let length = Int64(parts[1]), start >= 0, length > 0 else {
                    throw UsageError(message: "--profile-gap takes START:LENGTH in seconds after start, e.g. 10:5")
                }
                c.profileGaps.append((start, length))
            }
            c.captureObjectsChangeAt = try a.integer("capture-objects-change-at", Int64.self, in: 0...Int64(Int32.max))
            c.eventPeriod = try a.integer("event-period", Int64.self, default: 21_600, in: 1...86_400 * 366) ?? 21_600
            c.clockOffset = try a.integer("clock-offset", Int64.self, default: 0, in: -86_400 * 3650...86_400 * 3650) ?? 0
            c.dropAfterFrames = try a.integer("drop-after-frames", Int.self, in: 1...Int.max)
            c.replyDelayMs = try a.integer("reply-delay-ms", Int.self, default: 0, in: 0...600_000) ?? 0
            c.corruptEvery = try a.integer("corrupt-every", Int.self, in: 1...Int.max)
            c.strayBytes = a.string("stray-bytes")
            c.rejectPassword = a.flag("reject-password")
            c.silent = a.flag("silent")
            c.unavailable = a.strings("unavailable")
            c.security = a.string("security", default: "none")
            c.auth = a.string("auth", default: "hls-gmac")
            c.ek = a.string("ek", default: c.ek)
            c.ak = a.string("ak", default: c.ak)
            c.systemTitle = a.string("system-title", default: c.systemTitle)
            if let list = a.string("secured-clients") {
                var saps: Set<UInt8> = []
                for part in list.split(separator: ",") {
                    guard let n = UInt8(part), n > 0, n < 128 else {
                        throw UsageError(message: "--secured-clients takes client SAPs separated by commas, e.g. 1,32")
                    }
                    saps.insert(n)
                }
                c.securedClients = saps
            }
            c.ivLog = a.string("iv-log")
            c.noGeneralProtection = a.flag("no-general-protection")
            for flag in ["wrong-tag", "replay-reply", "stale-counter", "wrong-f-ctos"] where a.flag(flag) {
                c.securityFaults.append(flag)
            }
            try c.validate()
            c.run()
        }
    }

    func validate() throws(UsageError) {
        if let serial, serial != "pty" {
            throw UsageError(message: "--serial takes `pty` (the simulator creates a pseudo-terminal and prints its path)")
        }
        if modeE && serial == nil { throw UsageError(message: "--mode-e needs --serial pty") }
        if framing == .wrapper && serial != nil { throw UsageError(message: "--transport wrapper runs on TCP only") }
        if ModeE.baudCode(forRate: modeEBaud) == nil {
            throw UsageError(message: "--mode-e-baud must be one of \(ModeE.baudRates.map(String.init).joined(separator: ", "))")
        }
        guard let widths = AcceptedAddressWidths(parsing: addressSize) else {
            throw UsageError(message: "--address-size takes 1, 2, 4 or any")
        }
        if case let .only(width) = widths,
            (try? HDLCAddress(logical: serverLogical, physical: serverPhysical, width: width)) == nil {
            throw UsageError(message: "server logical \(serverLogical) / physical \(serverPhysical) cannot be written in "
                + "\(width): 1 byte needs logical 0 and physical < 128, 2 bytes both < 128")
        }
        if unknownClient != "dm" && unknownClient != "silent" { throw UsageError(message: "--unknown-client takes dm or silent") }
        for address in addresses where (try? HDLCAddress(logical: serverLogical, physical: address, width: .four)) == nil {
            throw UsageError(message: "--addresses: physical address \(address) must be below 16384")
        }
        if (try? HDLCAddress(logical: serverLogical, physical: serverPhysical, width: .four)) == nil {
            throw UsageError(message: "--server-logical and --server-physical must be below 16384")
        }
        if profileRows < 1 || capturePeriod < 1 { throw UsageError(message: "--profile-rows and --capture-period must be positive") }
        if maxPDU < 64 { throw UsageError(message: "--max-pdu must be at least 64") }
        if maxInfo < 32 || maxInfo > 2030 { throw UsageError(message: "--max-info must be 32...2030") }
        if password.utf8.count != 8 && password.utf8.count != 10 {
            stderrLine("dlms-bridge simulate: note: a Microstar password has 8 or 10 characters; this one has \(password.utf8.count)")
        }
        _ = try faultSwitches()
        _ = try simulatorSecurity()
    }

    /// The secured meter's settings, nil with `--security none`.
    func simulatorSecurity() throws(UsageError) -> SimulatorSecurity? {
        guard let level = SecurityLevel(rawValue: security) else {
            throw UsageError(message: "--security takes none, auth, enc or auth-enc")
        }
        guard let sc = level.securityControl else { return nil }
        guard let authentication = SecureAuthentication(rawValue: auth) else {
            throw UsageError(message: "--auth takes none, lls or hls-gmac")
        }
        guard let e = SecurityKey(hex: ek), let a = SecurityKey(hex: ak) else {
            throw UsageError(message: "--ek and --ak take 32 hex digits")
        }
        guard let title = SystemTitle(hex: systemTitle) else {
            throw UsageError(message: "--system-title takes 16 hex digits")
        }
        var secured = SimulatorSecurity(security: sc, authentication: authentication,
                                        keys: SecurityKeys(encryption: e, authentication: a), serverSystemTitle: title,
                                        securedClients: securedClients, ivLogPath: ivLog)
        secured.grantsGeneralProtection = !noGeneralProtection
        return secured
    }

    func faultSwitches() throws(UsageError) -> SimulatorFaults {
        var words: [String] = []
        if let dropAfterFrames { words.append("drop-after-frames=\(dropAfterFrames)") }
        if replyDelayMs > 0 { words.append("reply-delay-ms=\(replyDelayMs)") }
        if let corruptEvery { words.append("corrupt-every=\(corruptEvery)") }
        if let strayBytes { words.append("stray-bytes=\(strayBytes)") }
        if rejectPassword { words.append("reject-password") }
        if silent { words.append("silent") }
        words += unavailable.map { "unavailable=\($0)" }
        words += securityFaults
        do { return try SimulatorFaults(parsing: words) } catch { throw UsageError(message: error.description) }
    }

    func run() {
        // One connection per simulated meter a gateway polls: a thousand need more than the default 1,024.
        OpenFileLimit.raise()
        let startedAt = WallClock.milliseconds() / 1000
        var configuration = SimulatorConfiguration(
            serverLogical: serverLogical, serverPhysical: serverPhysical,
            addressWidths: AcceptedAddressWidths(parsing: addressSize) ?? .any,
            password: Array(password.utf8),
            unknownClientResponse: unknownClient == "silent" ? .silence : .disconnectedMode,
            linkParameters: LinkParameters(maxInfoTransmit: maxInfo, maxInfoReceive: maxInfo),
            conformance: noGetWithList ? SimulatorConfiguration.withoutGetWithList : SimulatorConfiguration.fullConformance,
            maxPDUSize: maxPDU, firstBlockNumber: firstBlock,
            inactivityTimeoutMilliseconds: Int64(inactivityTimeout * 1000),
            serialNumber: serialNumber, profileRows: profileRows, capturePeriodSeconds: capturePeriod,
            clockOffsetSeconds: clockOffset,
            // The switches count from the simulator's start, in meter time (true time plus the offset).
            profileGaps: profileGaps.map { gap in
                let start = startedAt + clockOffset + gap.start
                return start..<(start + gap.length)
            },
            captureObjectsChangeAt: captureObjectsChangeAt.map { startedAt + clockOffset + $0 },
            eventPeriodSeconds: eventPeriod)
        configuration.security = (try? simulatorSecurity()) ?? nil
        configuration.framing = framing

        // Signals go to one thread (sigtimedwait); block them before any other thread starts.
        SignalThread.blockSignals()
        let stop = StopSignal()
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
            configuration: configuration, faults: (try? faultSwitches()) ?? .none, verbose: verbose,
            physicalAddresses: addresses, log: { line in stderrLine(line) })
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
        let served = addresses.isEmpty ? "\(serverPhysical)" : addresses.map { "\($0)" }.joined(separator: ",")
        stderrLine("dlms-bridge simulate: server \(serverLogical)/\(served) (address size \(addressSize)), "
            + "serial \(serialNumber), faults: \(server.faults.summary)"
            + (configuration.security.map { ", secured: SC \($0.security), \($0.authentication.rawValue), title \($0.serverSystemTitle)" } ?? ""))

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

    private func handle(_ line: String, server: SimulatorServer, stop: StopSignal) {
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
        case "clock":
            simulatorLine(stdout: "clock offset_ms=\(server.clockOffsetMilliseconds)")
        case "stop":
            stop.set()
        default:
            simulatorLine(stdout: "error unknown command \"\(verb)\": use faults ..., counters or stop")
        }
    }
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

func simulatorFail(_ message: String) -> Never {
    stderrLine("dlms-bridge simulate: \(message)")
    exit(1)
}
