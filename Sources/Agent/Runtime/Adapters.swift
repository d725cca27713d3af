import COSEM
import HDLC
import Log
import MeterLink
import Platform
import Uplink

// The real modules behind the agent's seams: MeterLink's poller as a `MeterReader`, Uplink's MQTT client as
// a `Publisher` (and its events fed back into the runtime). `SpoolReadingStore` adapts the spool.

// MARK: Meter

extension MeterSettings {
    /// The meter link settings for one configured meter.
    public init(_ meter: MeterConfiguration) {
        self.init(endpoint: meter.transport, profile: meter.profile, password: Secret(meter.password?.reveal() ?? ""))
        clientSAP = meter.clientSAP
        serverLogical = meter.serverLogical
        serverPhysical = meter.serverPhysical
        addressSize = meter.addressSize
        responseTimeoutMilliseconds = Int64(meter.timeoutMilliseconds)
        connectTimeoutMilliseconds = max(Int64(meter.timeoutMilliseconds), 3000)
        connectPerPoll = meter.connectPerPoll
        // Reconnect back-off on the scale of the poll schedule. MeterLink's defaults (1 s doubling to 60 s, then
        // every 5 minutes once down) left a meter that came back unread for up to ~6 minutes, while the agent
        // promises to keep polling on schedule and report it up when it answers: here a failing meter is
        // retried at least every 10 periods and at least once a minute (unless the period itself is longer).
        let period = max(100, meter.pollPeriodMilliseconds)
        initialBackoffMilliseconds = period
        maxBackoffMilliseconds = max(period, min(60_000, 10 * period))
        downBackoffMilliseconds = maxBackoffMilliseconds
        security = meter.security?.meterSecurity
        framing = meter.framing
    }
}

/// One meter read through MeterLink: the poller keeps the association, re-associates, backs off, and keeps
/// an idle association alive between polls.
public final class MeterLinkReader: MeterReader, @unchecked Sendable {
    private let poller: MeterPoller
    private let measurements: [Measurement]
    private let collector: ProfileCollector?
    private let logger: Logger
    private var reported = MeterCounters()
    /// The serial line this meter shares with others (nil: the meter has its transport to itself).
    public let line: SharedSerialLine?
    // The poller is used by the meter's thread only; close() comes from the stopping thread after that
    // thread has been joined.

    /// - Parameters:
    ///   - health: the meter's health, which keeps its failures in a row: the poller backs off by them.
    ///   - trace: frames in hex (VERBOSE), password bytes masked.
    ///   - line: the serial line shared with other meters (`SerialLineRegistry`); the meter then talks only
    ///     in its turn on the line, through its own use of the port.
    ///   - counterLease: where a secured meter's invocation counter lease is kept (`SpoolCounterLease`).
    public init(meter: MeterConfiguration, catalog: MeasurementCatalog = .standard, logger: Logger,
                health: MeterHealthRecorder, trace: FrameTrace? = nil, line: SharedSerialLine? = nil,
                counterLease: (any InvocationCounterLeaseStore)? = nil) throws(MeterError) {
        var catalog = catalog
        for m in meter.customMeasurements { catalog.add(m) }
        self.measurements = try catalog.resolve(meter.measurements)
        let settings = MeterSettings(meter)
        if let line {
            self.poller = MeterPoller(session: MeterSession(settings: settings, trace: trace, counterLease: counterLease) {
                _, deadline throws(LinkError) -> any ByteTransport in try line.attach(deadline: deadline)
            }, failureStreak: health)
        } else {
            self.poller = MeterPoller(
                session: MeterSession(settings: settings, trace: trace, counterLease: counterLease), failureStreak: health)
        }
        self.line = line
        self.logger = logger
        let p = meter.profileSettings
        collector = p.profiles.isEmpty && p.clockSync == .off
            ? nil : ProfileCollector(settings: p, pollPeriodMilliseconds: meter.pollPeriodMilliseconds, catalog: catalog)
    }

    public func afterPoll(cursor: (String) -> Int64?, wallClock: Int64, stop: StopSignal) -> AfterPollWork {
        guard let collector, !stop.isSet else { return AfterPollWork() }
        return inTurn { collector.afterPoll(session: poller.session, cursor: cursor, now: wallClock) }
    }

    /// Runs `body` in this meter's turn on a shared line, or at once.
    private func inTurn<R>(_ body: () -> R) -> R {
        if let line { return line.withTurn(body) }
        return body()
    }

    public func poll(stop: StopSignal) -> PollResult {
        let outcome = inTurn { poller.poll(measurements) }
        let counters = poller.session.counters
        let link = LinkCounters(
            crcErrors: UInt64(max(0, counters.crcErrors - reported.crcErrors)),
            retransmissions: UInt64(max(0, counters.retransmissions - reported.retransmissions)),
            associationFailures: UInt64(max(0, counters.associationFailures - reported.associationFailures)),
            securityFaults: UInt64(max(0, counters.securityFaults - reported.securityFaults)))
        reported = counters
        let rtt: Int64? = counters.lastRTTMicroseconds > 0 ? counters.lastRTTMicroseconds : nil
        switch outcome {
        case let .readings(results):
            var readings: [MeasurementReading] = []
            var failures: [MeasurementFailure] = []
            for r in results {
                switch r {
                case let .reading(reading):
                    if let m = MeasurementReading(reading) { readings.append(m) } else {
                        failures.append(MeasurementFailure(name: reading.measurement.key, obis: reading.measurement.obis,
                            reason: "value of type \(reading.raw.typeName) cannot be published"))
                    }
                case let .failed(m, error):
                    failures.append(MeasurementFailure(name: m.key, obis: m.obis, reason: error.description))
                }
            }
            if readings.isEmpty {
                return PollResult(outcome: .failed(message: "no measurement could be read: "
                    + failures.map { "\($0.name): \($0.reason)" }.joined(separator: "; ")), link: link, rttMicroseconds: rtt)
            }
            return PollResult(outcome: .reading(measurements: readings, failures: failures), link: link, rttMicroseconds: rtt)
        case let .failed(error):
            return PollResult(outcome: .failed(message: error.description), link: link, rttMicroseconds: nil)
        case let .skipped(retryIn, lastError):
            let last = lastError.map { ": \($0.description)" } ?? ""
            return PollResult(outcome: .backingOff(message: "meter not retried yet (back-off, next attempt in \(retryIn / 1000) s)\(last)"),
                              link: link, rttMicroseconds: nil)
        }
    }

    /// Between polls: read the clock before the meter's inactivity timeout drops an idle association.
    public func idle(until instant: MonotonicInstant, stop: StopSignal) -> Bool? {
        while true {
            guard let due = poller.nextKeepAlive, due < instant else {
                return !stop.wait(until: instant)
            }
            if stop.wait(until: due) { return false }
            if let error = inTurn({ poller.keepAlive() }) {
                logger.info("keep-alive read failed, the next poll reconnects: \(error)")
            }
        }
    }

    public func close() { inTurn { poller.shutdown() } }
}

extension MeasurementReading {
    /// The payload's view of a meter link reading (a thin formatter over MeterLink's ``ReadingValue``): the
    /// meter's clock in ISO 8601 UTC when it is a complete date-time, else as the meter sent it; nil for values
    /// a payload cannot carry (structures).
    public init?(_ reading: Reading) {
        let value: MeasurementValue
        switch reading.value {
        case let .number(n): value = .number(n)
        case let .boolean(b): value = .boolean(b)
        case let .text(t): value = .text(t)
        case let .dateTime(dt, ms): value = .text(ms.map { UTCTime.iso8601(milliseconds: $0) } ?? dt.description)
        case .other: return nil
        }
        self.init(name: reading.measurement.key, obis: reading.measurement.obis, value: value,
                  unitCode: reading.scalerUnit?.unit.rawValue, description: reading.measurement.description)
    }
}

// MARK: Uplink

extension MQTTSettings {
    /// The MQTT client settings of the agent; the last will goes to the first meter's status topic.
    public init(_ c: MQTTConfiguration, firstDeviceID: String) {
        var tls: TLSSettings? = nil
        if let t = c.tls {
            var s: TLSSettings
            switch t.authority {
            case let .file(path): s = TLSSettings(caFile: path)
            case let .directory(path): s = TLSSettings(caDirectory: path)
            }
            s.certificateFile = t.certificateFile
            s.keyFile = t.keyFile
            s.insecure = t.insecure
            s.minimumVersion = t.minimumVersion == "tlsv1.3" ? .tls13 : .tls12
            tls = s
        }
        self.init(
            host: c.host, port: Int(c.port), clientID: c.clientID, username: c.username,
            password: c.password?.reveal(), keepaliveSeconds: c.keepaliveSeconds,
            protocolVersion: c.protocolVersion == .v5 ? .v5 : .v311,
            defaultQoS: QoS(rawValue: Int32(c.qos)) ?? .atLeastOnce, tls: tls,
            statusTopic: TelemetryPayload.topic(template: c.statusTopic, deviceID: firstDeviceID))
    }
}

/// The MQTT client as the runtime's publisher.
public final class UplinkPublisher: Publisher, @unchecked Sendable {
    public let client: MQTTClient

    public init(client: MQTTClient) { self.client = client }

    public func publish(topic: String, payload: [UInt8], qos: UInt8?, retain: Bool) throws(PublishFailure) -> Int32 {
        do {
            let receipt = try client.publish(topic: topic, payload: payload,
                                             qos: qos.flatMap { QoS(rawValue: Int32($0)) }, retain: retain)
            return receipt.id.rawValue
        } catch {
            throw PublishFailure(error.description)
        }
    }

    public var isConnected: Bool { client.isConnected }
}

/// Hands the MQTT client's events to the runtime on a thread of its own (libmosquitto's callbacks only
/// queue them: no slow work on its network thread).
public final class UplinkEventPump: @unchecked Sendable {
    private let client: MQTTClient
    private let runtime: AgentRuntime
    private let logger: Logger
    private var thread: PlatformThread?
    private let stopped = StopSignal()

    public init(client: MQTTClient, runtime: AgentRuntime, logger: Logger) {
        self.client = client
        self.runtime = runtime
        self.logger = logger
    }

    public func start() throws(SystemError) {
        thread = try PlatformThread.spawn(name: "uplink events") { [self] in run() }
    }

    /// Ends the pump; call after the client's `stop`, which closes its event queue (closed here too).
    public func stop() {
        stopped.set()
        client.events.close()
        thread?.join()
    }

    // Connection problems are not logged here: the MQTT client logs each one itself, once per distinct
    // problem, and a second line per failure here only doubled the journal.
    private func run() {
        // No timeout: the queue wakes this thread for an event, and for its closing at the stop.
        while !stopped.isSet, let event = client.events.pop(deadline: nil) {
            switch event {
            case .connected:
                runtime.connectionChanged(connected: true)
            case let .delivered(id):
                runtime.delivered(messageID: id.rawValue)
            case let .publishFailed(id, error):
                runtime.publishFailed(messageID: id.rawValue, reason: error.description)
            case .disconnected, .connectionRefused, .unreachable, .tlsError:
                runtime.connectionChanged(connected: false)
            }
        }
    }
}
