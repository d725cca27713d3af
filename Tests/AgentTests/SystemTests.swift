import Foundation
import Log
import Platform
import Testing

@testable import Agent

/// A datagram socket the test binds, standing in for systemd's notification socket.
private final class NotifySocket {
    let fd: Int32
    let name: String

    init(abstract: Bool) throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        try #require(fd >= 0)
        let unique = "dlms-bridge-notify-\(getpid())-\(UUID().uuidString.prefix(8))"
        name = abstract ? "@" + unique : NSTemporaryDirectory() + unique + ".sock"
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(name.utf8)
        if abstract { path[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in path.enumerated() { raw[i] = b } }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + path.count + (abstract ? 0 : 1))
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        try #require(rc == 0, "bind(\(name)) failed: errno \(Platform.errno)")
    }

    deinit {
        close(fd)
        if !name.hasPrefix("@") { unlink(name) }
    }

    /// The next datagram, waiting at most 5 s.
    func receive() throws -> String {
        #expect(try Poll.readable(fd, deadline: .after(milliseconds: 5000)) == .ready)
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        try #require(n >= 0)
        return String(decoding: buffer[0..<n], as: UTF8.self)
    }
}

@Suite struct SystemdNotifyTests {
    @Test(arguments: [false, true])
    func datagramsReachTheNotifySocket(abstract: Bool) throws {
        let server = try NotifySocket(abstract: abstract)
        let notifier = try #require(SystemdNotifier(environment: ["NOTIFY_SOCKET": server.name]))
        try notifier.ready(status: "polling 1 meter")
        #expect(try server.receive() == "READY=1\nSTATUS=polling 1 meter")
        try notifier.watchdog()
        #expect(try server.receive() == "WATCHDOG=1")
        try notifier.reloading()
        #expect(try server.receive() == "RELOADING=1")
        try notifier.stopping()
        #expect(try server.receive() == "STOPPING=1")
    }

    @Test func noSocketNoNotifier() {
        #expect(SystemdNotifier(environment: [:]) == nil)
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": "relative"]) == nil)
    }

    @Test func aMissingSocketIsAnErrorNotACrash() {
        let notifier = SystemdNotifier(socketPath: "/nonexistent/notify.sock")
        #expect(throws: SystemError.self) { try notifier.ready() }
    }

    @Test func watchdogInterval() {
        #expect(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "30000000"]) == 15_000)
        #expect(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "\(getpid())"]) == 15_000)
        #expect(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"]) == nil)
        #expect(SystemdNotifier.watchdogInterval(environment: [:]) == nil)
    }
}

@Suite struct SignalTests {
    @Test func signalsBecomeEventsInOrder() throws {
        let events = BlockingQueue<AgentSignal>()
        let signals = try SignalThread.start { events.push($0) }
        defer { signals.stop() }
        signals.raise(SIGHUP)
        #expect(events.pop(deadline: .after(milliseconds: 5000)) == .reload)
        signals.raise(SIGTERM)
        #expect(events.pop(deadline: .after(milliseconds: 5000)) == .stop(signal: SIGTERM))
        signals.raise(SIGINT)
        #expect(events.pop(deadline: .after(milliseconds: 5000)) == .stop(signal: SIGINT))
        #expect(events.count == 0)
    }

    @Test func stopEndsTheThreadPromptly() throws {
        let signals = try SignalThread.start { _ in }
        let start = MonotonicInstant.now()
        signals.stop()
        #expect(MonotonicInstant.now().milliseconds(since: start) < 2000)
    }
}

@Suite struct WatchdogTests {
    @Test func theRuntimeSendsWatchdogWhileRunning() throws {
        let server = try NotifySocket(abstract: true)
        let meter = MeterConfiguration(deviceID: "w", transport: .tcp(host: "h", port: 3333), pollPeriodMilliseconds: 1000)
        let r = AgentRuntime(
            configuration: AgentConfiguration(meters: [meter]),
            meters: [.init(configuration: meter, reader: FakeReader(), store: FakeStore())], publisher: FakePublisher(),
            logger: Logger(label: "t", factory: { _ in NoOpLogHandler() }),
            watchdog: (SystemdNotifier(socketPath: server.name), 20))
        try r.start()
        #expect(try server.receive() == "WATCHDOG=1")
        #expect(try server.receive() == "WATCHDOG=1")
        r.stop()
    }
}
