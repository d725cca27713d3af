import Foundation
import Log
import Platform
import Testing
@testable import Uplink

#if canImport(Glibc)
import Glibc
#endif

/// The uplink against a real mosquitto on loopback with certificates made per run (Tests/system/pki.sh).
@Suite(.serialized) struct UplinkBrokerTests {

    @Test(arguments: [MQTTProtocolVersion.v311, .v5])
    func mutualTLSPublishIsDeliveredAfterPUBACK(version: MQTTProtocolVersion) throws {
        let broker = try TestBroker().start()
        let subscriber = try Subscriber(broker: broker, topic: "meters/m1/telemetry", count: 1)
        let client = try MQTTClient(settings: broker.settings(clientID: "gw-tls-\(version)", version: version))
        try client.start()
        try client.waitForEvent("connected") { $0 == .connected }
        #expect(client.isConnected)

        let receipt = try client.publish(topic: "meters/m1/telemetry", text: #"{"seq":1}"#, qos: .atLeastOnce)
        #expect(!receipt.queued)
        try client.waitForEvent("delivered") { $0 == .delivered(receipt.id) }
        // The broker had sent PUBACK for exactly this packet identifier before the event reached us.
        #expect(broker.log().contains("Sending PUBACK to gw-tls-\(version) (m\(receipt.id.rawValue)"))
        #expect(subscriber.lines() == [#"meters/m1/telemetry {"seq":1}"#])
        #expect(broker.log().contains(version == .v5 ? "(p5, c1, k10, u'gateway')" : "(p2, c1, k10, u'gateway')"))

        #expect(client.stop(timeoutMilliseconds: 5000))
        let counters = client.counters
        #expect(counters.connects == 1 && counters.published == 1 && counters.delivered == 1 && counters.failures == 0)
    }

    /// A gateway with a thousand meters holds more than 1,024 descriptors, so the broker's socket gets a number
    /// select() cannot watch (FD_SETSIZE): with libmosquitto's own loop it never connected, and said nothing.
    /// The client's poll(2) loop serves a socket above 1,023 over TLS like any other.
    @Test func brokerSocketAbove1023IsServed() throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur < 2048 {
            limit.rlim_cur = min(limit.rlim_max, 4096)
            try #require(setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, "raising RLIMIT_NOFILE to 4096")
        }
        let broker = try TestBroker().start()
        // Fill every low descriptor number, so the client's socket is the next one free above 1,100.
        var fillers: [Int32] = []
        defer { for fd in fillers { close(fd) } }
        while true {
            let fd = open("/dev/null", O_RDONLY)
            try #require(fd >= 0)
            fillers.append(fd)
            if fd >= 1100 { break }
        }
        let client = try MQTTClient(settings: broker.settings(clientID: "gw-high-fd"))
        try client.start()
        try client.waitForEvent("connected") { $0 == .connected }
        let receipt = try client.publish(topic: "fd/high", text: "x", qos: .atLeastOnce)
        try client.waitForEvent("delivered") { $0 == .delivered(receipt.id) }
        #expect(client.stop(timeoutMilliseconds: 5000))
    }

    @Test func qos2IsDeliveredAfterPUBCOMPAndQoS0AfterWrite() throws {
        let broker = try TestBroker(tls: false, password: false).start()
        let client = try MQTTClient(settings: broker.settings(clientID: "gw-qos"))
        try client.start()
        try client.waitForEvent("connected") { $0 == .connected }
        let two = try client.publish(topic: "q/2", text: "two", qos: .exactlyOnce)
        try client.waitForEvent("QoS 2 delivered") { $0 == .delivered(two.id) }
        #expect(broker.log().contains("Sending PUBCOMP to gw-qos (m\(two.id.rawValue))"))
        let zero = try client.publish(topic: "q/0", text: "zero", qos: .atMostOnce)
        try client.waitForEvent("QoS 0 written") { $0 == .delivered(zero.id) }
        client.stop()
    }

    /// Each misconfiguration is refused with an error that names the problem and what to check, and a
    /// reading published meanwhile is kept (queued), not failed.
    @Test(arguments: [
        ("wrong CA", "server", "evil-ca", true, "not signed by MQTT_TLS_CA"),
        ("server name mismatch", "wrongname", "ca", true, "does not name 'localhost'"),
        ("expired server certificate", "expired", "ca", true, "has expired"),
    ])
    func serverCertificateProblemsAreRefusedClearly(
        _ name: String, serverCert: String, ca: String, clientCert: Bool, expected: String
    ) throws {
        let broker = try TestBroker(serverCert: serverCert).start()
        let client = try MQTTClient(settings: broker.settings(clientID: "gw-bad-\(serverCert)", ca: broker.pki.path("\(ca).crt")))
        try client.start()
        let event = try client.waitForEvent("TLS error (\(name))") {
            if case .tlsError = $0 { return true }
            #expect($0 != .connected, "connected despite \(name)")
            return false
        }
        guard case let .tlsError(error) = event else { return }
        #expect(error.description.contains("TLS handshake with localhost:\(broker.port) failed"), "\(error)")
        #expect(error.description.contains(expected), "\(name): \(error)")
        let receipt = try client.publish(topic: "meters/x/telemetry", text: "kept", qos: .atLeastOnce)
        #expect(receipt.queued)
        #expect(!client.isConnected)
        #expect(client.counters.tlsErrors >= 1)
        client.stop()
    }

    @Test func missingClientCertificateIsRefusedClearly() throws {
        let broker = try TestBroker().start()
        let client = try MQTTClient(settings: broker.settings(clientID: "gw-nocert", clientCert: false))
        try client.start()
        let event = try client.waitForEvent("a refusal without client certificate") {
            switch $0 {
            case .tlsError, .disconnected(.some), .unreachable: return true
            default:
                #expect($0 != .connected)
                return false
            }
        }
        try broker.waitForLog("peer did not return a certificate")
        if case let .tlsError(error) = event {
            #expect(error.description.contains("client certificate"), "\(error)")
        }
        #expect(!client.isConnected)
        client.stop()
    }

    @Test(arguments: [MQTTProtocolVersion.v311, .v5])
    func wrongPasswordIsRefusedWithoutLeakingIt(version: MQTTProtocolVersion) throws {
        let broker = try TestBroker().start()
        let secret = "Wr0ng-Secret-\(version)"
        let logs = LogCapture()
        let client = try MQTTClient(
            settings: broker.settings(clientID: "gw-pw", version: version, password: secret),
            logger: Logger(label: "test") { _ in logs })
        try client.start()
        let event = try client.waitForEvent("refusal") {
            if case .connectionRefused = $0 { return true }
            #expect($0 != .connected)
            return false
        }
        guard case let .connectionRefused(error) = event else { return }
        #expect(error == .connectionRefused(broker: "localhost:\(broker.port)", reason: .notAuthorized))
        #expect(error.description.contains("check MQTT_USERNAME/MQTT_PASSWORD"))
        try broker.waitForLog("not authorised")
        // Refused again after the backoff: the client keeps trying (an operator may fix the broker side).
        try client.waitForEvent("second refusal") { if case .connectionRefused = $0 { true } else { false } }
        client.stop()
        #expect(!logs.text.contains(secret))
        #expect(!error.description.contains(secret))
        #expect(logs.text.contains("refused the connection"))
        #expect(client.counters.refusals >= 2)
    }

    /// Broker down: a QoS 1 publish is queued in memory (MOSQ_ERR_NO_CONN is reported as queued), the
    /// client reconnects when it is back, and the message arrives exactly once.
    @Test(arguments: [MQTTProtocolVersion.v311, .v5])
    func publishDuringOutageIsDeliveredOnceAfterReconnect(version: MQTTProtocolVersion) throws {
        let broker = try TestBroker(persistence: true).start()
        // A persistent subscriber session (clean session off, QoS 1): the broker keeps what arrives for it
        // across the restart, so nothing depends on when the subscriber is listening.
        let subArgs = ["-i", "outage-sub-\(version)", "-c"]
        let first = try Subscriber(broker: broker, topic: "outage/t", count: 1, extra: subArgs + ["-E"], waitForSubscribe: false)
        _ = first.lines()
        let client = try MQTTClient(settings: broker.settings(clientID: "gw-outage-\(version)", version: version))
        try client.start()
        try client.waitForEvent("connected") { $0 == .connected }

        broker.stop()
        let lost = try client.waitForEvent("disconnected") { if case .disconnected(.some) = $0 { true } else { false } }
        if case let .disconnected(error?) = lost { #expect(error.description.contains("lost")) }
        let receipt = try client.publish(topic: "outage/t", text: "during-outage", qos: .atLeastOnce)
        #expect(receipt.queued)

        try broker.start()
        try client.waitForEvent("reconnected") { $0 == .connected }
        try client.waitForEvent("delivered after reconnect") { $0 == .delivered(receipt.id) }
        let received = broker.log().components(separatedBy: "Received PUBLISH from gw-outage-\(version)").filter {
            $0.contains("'outage/t'")
        }
        #expect(received.count == 1, "the broker received the queued message \(received.count) times")
        let second = try Subscriber(broker: broker, topic: "outage/t", count: 1, extra: subArgs, waitForSubscribe: false)
        #expect(second.lines() == ["outage/t during-outage"])
        client.stop()
        #expect(client.counters.queued == 1 && client.counters.delivered == 1)
    }

    /// `online` is retained on connect; an unclean end (the socket dies without DISCONNECT) makes the broker
    /// publish the last will `offline`; a clean stop publishes `offline` itself and sends DISCONNECT.
    @Test func lastWillAndStatus() throws {
        let broker = try TestBroker().start()
        let status = "meters/gw/status"
        let watcher = try Subscriber(broker: broker, topic: status, count: 4)
        let client = try MQTTClient(settings: broker.settings(clientID: "gw-will", statusTopic: status))
        try client.start()
        try client.waitForEvent("connected") { $0 == .connected }
        // Once `online` is acknowledged: a drop before that makes libmosquitto resend it after the reconnect,
        // and the subscriber would see it twice (stop() copes with that: it waits for the resend to settle).
        try waitUntil("the acknowledgement of 'online'") { client.statusMessagesInFlight == 0 }
        client.dropConnectionForTesting()
        try client.waitForEvent("disconnected") { if case .disconnected(.some) = $0 { true } else { false } }
        try client.waitForEvent("reconnected") { $0 == .connected }
        #expect(client.stop(timeoutMilliseconds: 5000))
        #expect(watcher.lines() == ["\(status) online", "\(status) offline", "\(status) online", "\(status) offline"])
        // The broker logs the DISCONNECT a moment after the client is gone: wait for the line, do not race it.
        try waitUntil("the broker's log of the DISCONNECT") { broker.log().contains("Received DISCONNECT from gw-will") }
        let retained = try Subscriber(broker: broker, topic: status, count: 1, waitForSubscribe: false)
        let retainedLines = retained.lines()
        #expect(retainedLines == ["\(status) offline"])
        if retainedLines != ["\(status) offline"] { print(broker.log()) }
        // The internal status messages are not reported as the agent's deliveries.
        #expect(client.counters.delivered == 0)
    }

    /// Started while the broker is down (a gateway booting before the network): reported, retried, connected
    /// once the broker is up.
    @Test func brokerDownAtStartIsRetriedUntilItIsUp() throws {
        let broker = try TestBroker()
        let client = try MQTTClient(settings: broker.settings(clientID: "gw-late"))
        try client.start()
        let event = try client.waitForEvent("unreachable") { if case .unreachable = $0 { true } else { false } }
        if case let .unreachable(error) = event {
            #expect(error.description.lowercased().contains("refused"), "\(error)")
            #expect(error.description.contains("localhost:\(broker.port)"))
        }
        try broker.start()
        try client.waitForEvent("connected once the broker is up") { $0 == .connected }
        #expect(client.counters.connectFailures >= 1)
        client.stop()
    }

    @Test func stopIsBoundedWhileTheBrokerIsUnreachable() throws {
        // A TEST-NET-1 address (RFC 5737) that nothing answers: the TCP connect stays pending.
        let settings = MQTTSettings(host: "192.0.2.1", port: 1883, clientID: "gw-blackhole", keepaliveSeconds: 5)
        let client = try MQTTClient(settings: settings)
        try client.start()
        let begin = MonotonicInstant.now()
        _ = client.stop(timeoutMilliseconds: 1500)
        #expect(MonotonicInstant.now().milliseconds(since: begin) < 2500)
    }

    @Test func reloadCertificatesReconnects() throws {
        let broker = try TestBroker().start()
        let client = try MQTTClient(settings: broker.settings(clientID: "gw-reload"))
        try client.start()
        try client.waitForEvent("connected") { $0 == .connected }
        try client.reloadCertificates()
        try client.waitForEvent("clean disconnect for the reload") { $0 == .disconnected(nil) }
        try client.waitForEvent("reconnected") { $0 == .connected }
        #expect(client.counters.connects == 2)
        client.stop()
    }
}

/// Collects log lines for assertions.
final class LogCapture: LogHandler, @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        lock.lock()
        lines.append("\(event.level) \(event.message)")
        lock.unlock()
    }
    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return lines.joined(separator: "\n")
    }
}
