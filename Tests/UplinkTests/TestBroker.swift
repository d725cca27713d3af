import Foundation
import Platform
@testable import Uplink

#if canImport(Glibc)
import Glibc
#endif

/// The repository root, from this file's place in it (Tests/UplinkTests/TestBroker.swift).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

enum TestFailure: Error, CustomStringConvertible {
    case timeout(String)
    case failed(String)
    var description: String {
        switch self {
        case let .timeout(what): return "timed out waiting for \(what)"
        case let .failed(what): return what
        }
    }
}

/// Polls `predicate` until true or `seconds` pass.
func waitUntil(_ what: String, seconds: Double = 15, _ predicate: () throws -> Bool) throws {
    let deadline = Deadline.after(milliseconds: Int64(seconds * 1000))
    while true {
        if try predicate() { return }
        if deadline.hasPassed { throw TestFailure.timeout(what) }
        usleep(20_000)
    }
}

/// The session's test PKI, made once by Tests/system/pki.sh (the script the Python fixture uses too).
final class TestPKI: Sendable {
    static let shared: Result<TestPKI, TestFailure> = Result { () throws(TestFailure) in try TestPKI() }
    static let username = "gateway"
    static let password = "pw-for-tests-only"

    let dir: URL

    private init() throws(TestFailure) {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("dlms-bridge-uplink-pki-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
        let script = repositoryRoot.appendingPathComponent("Tests/system/pki.sh").path
        let (status, output) = run(["/bin/bash", script, dir.path, Self.username, Self.password])
        if status != 0 { throw .failed("pki.sh failed (\(status)): \(output)") }
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
    var ca: String { path("ca.crt") }
    var evilCA: String { path("evil-ca.crt") }
    var clientCert: String { path("client.crt") }
    var clientKey: String { path("client.key") }
}

/// Runs a command to completion; returns its status and combined output.
@discardableResult
func run(_ argv: [String]) -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: argv[0].hasPrefix("/") ? argv[0] : "/usr/bin/env")
    process.arguments = argv[0].hasPrefix("/") ? Array(argv.dropFirst()) : argv
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    do { try process.run() } catch { return (-1, "\(error)") }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// A free TCP port on 127.0.0.1.
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p in
            _ = bind(fd, p, len)
            _ = getsockname(fd, p, &len)
        }
    }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// True when something accepts TCP connections on 127.0.0.1:port.
func portAccepts(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = UInt16(port).bigEndian
    return withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
}

/// A real mosquitto on 127.0.0.1 with a config of its own; its log is kept for assertions. Mirrors
/// Tests/system/fixtures/broker.py (same certificates, same users).
final class TestBroker {
    let pki: TestPKI
    let port: Int
    let tls: Bool
    let dir: URL
    let logURL: URL
    private var pid: pid_t?

    init(tls: Bool = true, requireCertificate: Bool = true, password: Bool = true, serverCert: String = "server",
         persistence: Bool = false, extraConfig: [String] = []) throws {
        pki = try TestPKI.shared.get()
        port = freePort()
        self.tls = tls
        dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("dlms-bridge-broker-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        logURL = dir.appendingPathComponent("mosquitto.log")
        var lines = ["per_listener_settings false", "listener \(port) 127.0.0.1", "log_dest stderr", "log_type all"]
        if persistence {
            lines += ["persistence true", "persistence_location \(dir.path)/", "autosave_interval 0"]
        } else {
            lines.append("persistence false")
        }
        if tls {
            for name in ["ca.crt", "\(serverCert).crt", "\(serverCert).key"] {
                try FileManager.default.copyItem(atPath: pki.path(name), toPath: dir.appendingPathComponent(name).path)
            }
            lines += ["cafile \(dir.path)/ca.crt", "certfile \(dir.path)/\(serverCert).crt",
                      "keyfile \(dir.path)/\(serverCert).key", "require_certificate \(requireCertificate)"]
        }
        if password {
            try FileManager.default.copyItem(atPath: pki.path("passwd"), toPath: dir.appendingPathComponent("passwd").path)
            lines += ["password_file \(dir.path)/passwd", "allow_anonymous false"]
        } else {
            lines.append("allow_anonymous true")
        }
        lines += extraConfig.map { $0.replacingOccurrences(of: "$DIR", with: dir.path) }
        try (lines.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("mosquitto.conf"), atomically: true, encoding: .utf8)
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        // Run as root, mosquitto drops to the `mosquitto` user: give it its directory rather than run as root.
        if geteuid() == 0, let (uid, gid) = Self.mosquittoUser {
            for name in [""] + ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []) {
                let path = name.isEmpty ? dir.path : dir.appendingPathComponent(name).path
                chown(path, uid, gid)
                chmod(path, name.isEmpty ? 0o700 : 0o600)
            }
        }
    }

    /// The `mosquitto` user's ids, looked up once: getpwnam returns a static buffer, and tests make brokers
    /// on several threads at once (a torn read chowned a broker's files to the wrong user).
    static let mosquittoUser: (uid_t, gid_t)? = {
        guard let pw = getpwnam("mosquitto") else { return nil }
        return (pw.pointee.pw_uid, pw.pointee.pw_gid)
    }()

    deinit {
        stop()
        try? FileManager.default.removeItem(at: dir)
    }

    var host: String { tls ? "localhost" : "127.0.0.1" }

    /// Starts mosquitto and waits for its "running" line and an accepting port.
    @discardableResult
    func start() throws -> TestBroker {
        let offset = log().utf8.count
        pid = try spawnWithCleanSignals(
            ["/usr/sbin/mosquitto", "-c", dir.appendingPathComponent("mosquitto.conf").path], output: logURL.path)
        try waitUntil("mosquitto on port \(port)") {
            if !isRunning { throw TestFailure.failed("mosquitto exited: \(log())") }
            return String(log().utf8.dropFirst(offset))?.contains(" running") == true && portAccepts(port)
        }
        return self
    }

    private var isRunning: Bool {
        guard let pid else { return false }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid {
            self.pid = nil
            return false
        }
        return true
    }

    /// Stops mosquitto with SIGTERM (it saves its persistence file) and waits until it has exited; SIGKILL
    /// after 10 s.
    func stop() {
        guard let pid else { return }
        kill(pid, SIGTERM)
        let deadline = Deadline.after(milliseconds: 10_000)
        var status: Int32 = 0
        while waitpid(pid, &status, WNOHANG) == 0 {
            if deadline.hasPassed {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                break
            }
            usleep(10_000)
        }
        self.pid = nil
    }

    func log() -> String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    func waitForLog(_ needle: String, seconds: Double = 15) throws {
        try waitUntil("broker log line containing '\(needle)'", seconds: seconds) { log().contains(needle) }
    }

    /// Client settings that reach this broker with the production setup (mutual TLS, password).
    func settings(clientID: String, version: MQTTProtocolVersion = .v311, ca: String? = nil, clientCert: Bool = true,
                  password: String = TestPKI.password, statusTopic: String? = nil) -> MQTTSettings {
        var tlsSettings: TLSSettings?
        if tls {
            tlsSettings = TLSSettings(caFile: ca ?? pki.ca, certificateFile: clientCert ? pki.clientCert : nil,
                                      keyFile: clientCert ? pki.clientKey : nil)
        }
        return MQTTSettings(host: host, port: port, clientID: clientID, username: TestPKI.username, password: password,
                            keepaliveSeconds: 10, protocolVersion: version, tls: tlsSettings, statusTopic: statusTopic,
                            reconnectDelaySeconds: 1, reconnectDelayMaxSeconds: 2)
    }

    /// mosquitto_sub/mosquitto_pub arguments for this broker.
    var clientArgs: [String] {
        var args = ["-h", host, "-p", String(port), "-u", TestPKI.username, "-P", TestPKI.password]
        if tls { args += ["--cafile", pki.ca, "--cert", pki.clientCert, "--key", pki.clientKey] }
        return args
    }
}

/// A mosquitto_sub process collecting `count` messages ("topic payload" lines).
final class Subscriber {
    let process = Process()
    let pipe = Pipe()

    init(broker: TestBroker, topic: String, count: Int, extra: [String] = [], waitForSubscribe: Bool = true) throws {
        let before = broker.log().components(separatedBy: "Received SUBSCRIBE").count
        process.executableURL = URL(fileURLWithPath: "/usr/bin/mosquitto_sub")
        process.arguments = broker.clientArgs + ["-t", topic, "-v", "-C", String(count), "-W", "30", "-q", "1"] + extra
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        if waitForSubscribe {
            try waitUntil("the subscriber's SUBSCRIBE") {
                broker.log().components(separatedBy: "Received SUBSCRIBE").count > before
            }
        }
    }

    /// Waits for mosquitto_sub to end (it has its count, or its -W timeout passed) and returns its lines.
    func lines() -> [String] {
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    deinit { if process.isRunning { process.terminate() } }
}

extension MQTTClient {
    /// The next event, failing the test after `seconds`.
    func nextEvent(seconds: Double = 15) throws -> UplinkEvent {
        guard let event = events.pop(deadline: .after(milliseconds: Int64(seconds * 1000))) else {
            throw TestFailure.timeout("an uplink event")
        }
        return event
    }

    /// Pops events until one matches; returns it and everything popped before it.
    @discardableResult
    func waitForEvent(_ what: String, seconds: Double = 15, _ match: (UplinkEvent) -> Bool) throws -> UplinkEvent {
        let deadline = Deadline.after(milliseconds: Int64(seconds * 1000))
        var seen: [UplinkEvent] = []
        while let event = events.pop(deadline: deadline) {
            if match(event) { return event }
            seen.append(event)
        }
        throw TestFailure.timeout("\(what); saw \(seen)")
    }
}

/// Starts `argv` with stdout and stderr appended to `output`, with an empty signal mask and default signal
/// actions. Foundation's Process passes on the test runner's blocked signals, and a mosquitto started that
/// way ignores SIGTERM.
func spawnWithCleanSignals(_ argv: [String], output: String) throws -> pid_t {
    var attr = posix_spawnattr_t()
    posix_spawnattr_init(&attr)
    defer { posix_spawnattr_destroy(&attr) }
    var empty = sigset_t()
    sigemptyset(&empty)
    posix_spawnattr_setsigmask(&attr, &empty)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for sig in [SIGTERM, SIGINT, SIGHUP, SIGPIPE] { sigaddset(&defaults, sig) }
    posix_spawnattr_setsigdefault(&attr, &defaults)
    posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_APPEND | O_CREAT, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    let cArgs = argv.map { strdup($0) } + [nil]
    defer { cArgs.forEach { free($0) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, argv[0], &actions, &attr, cArgs, environ)
    if rc != 0 { throw TestFailure.failed("posix_spawn(\(argv[0])) failed: \(String(cString: strerror(rc)))") }
    return pid
}
