import Log
import MeterLink
import Platform

/// Home Assistant MQTT discovery for the running agent: at every connect it publishes (retained) the gateway's
/// config, each meter's availability and each meter's configs, and clears the configs of meters and
/// measurements no longer configured; between connects it follows the meters' availability and identity.
///
/// Threads: `connected`/`disconnected`/`delivered` come from the uplink event thread, `meterState` and
/// `observe` from the meter threads; the state is behind a lock, and each message is handed to the publisher
/// under it so that an acknowledgement cannot overtake the bookkeeping of its message id.
public final class HomeAssistantAnnouncer: Sendable {
    public let builder: DiscoveryBuilder
    /// Whether discovery is on (HA_DISCOVERY); off, the announcer only clears what an earlier run published.
    public let enabled: Bool
    private let meters: [MeterConfiguration]
    private let measurements: [[Measurement]]
    private let publisher: any Publisher
    private let stateFile: DiscoveryStateFile?
    private let logger: Logger

    private struct State {
        var connected = false
        var identities: [MeterIdentity]
        var online: [Bool]
        /// Config topics that may be retained on the broker (what the state file says).
        var recorded: Set<String>
        /// Recorded topics no longer wanted: cleared at connect, forgotten when the broker acknowledges.
        var stale: Set<String>
        var pendingClears: [Int32: String] = [:]
        /// Clears acknowledged since the list was last written.
        var acknowledgedClears: Set<String> = []
        /// The file could not be read: nothing is cleared this run (and nothing forgotten).
        var fileUnusable = false
    }

    private let state: Locked<State>

    /// - Parameters:
    ///   - stateDirectory: where the list of published config topics is kept (the spool directory); nil keeps
    ///     none (removed meters are then not cleared).
    public init(
        configuration: AgentConfiguration, catalog: MeasurementCatalog = .standard, softwareVersion: String?,
        publisher: any Publisher, stateDirectory: String?, logger: Logger = Logger(label: "dlms-bridge.homeassistant")
    ) {
        let first = configuration.meters.first?.deviceID ?? ""
        builder = DiscoveryBuilder(
            prefix: configuration.homeAssistant.prefix, gatewayName: configuration.mqtt.clientID,
            gatewayStatusTopic: TelemetryPayload.topic(template: configuration.mqtt.statusTopic, deviceID: first),
            softwareVersion: softwareVersion, mqtt: configuration.mqtt,
            healthEntities: configuration.healthIntervalMilliseconds > 0)
        enabled = configuration.homeAssistant.enabled
        meters = configuration.meters
        measurements = configuration.meters.map { m in
            var own = catalog
            for c in m.customMeasurements { own.add(c) }
            return m.measurements.compactMap { own[$0] }
        }
        self.publisher = publisher
        self.logger = logger
        stateFile = stateDirectory.map { DiscoveryStateFile(directory: $0) }
        var recorded: Set<String> = []
        var unusable = false
        if let stateFile {
            do { recorded = try stateFile.load() } catch {
                unusable = true
                logger.error("cannot read the Home Assistant discovery list, removed meters are not cleared this run: \(error)")
            }
        }
        state = Locked(State(
            identities: configuration.meters.map { _ in MeterIdentity() },
            online: configuration.meters.map { _ in true }, recorded: recorded, stale: [], fileUnusable: unusable))
    }

    /// Whether there is anything to do: discovery on, or configs of an earlier run to clear.
    public var isActive: Bool { enabled || state.withLock { !$0.recorded.isEmpty } }

    /// Every config this configuration publishes, with the identities known now.
    public func currentMessages() -> [DiscoveryMessage] {
        let identities = state.withLock { $0.identities }
        return desiredMessages(identities)
    }

    private func desiredMessages(_ identities: [MeterIdentity]) -> [DiscoveryMessage] {
        guard enabled else { return [] }
        var out = [builder.gatewayMessage()]
        for i in meters.indices {
            out += builder.meterMessages(meters[i], measurements: measurements[i], identity: identities[i])
        }
        return out
    }

    /// The broker connection is up: publish everything, clear what is stale.
    public func connected() {
        state.withLock { s in
            s.connected = true
            let messages = desiredMessages(s.identities)
            let wanted = Set(messages.map { $0.topic })
            if !s.fileUnusable {
                s.stale = s.recorded.subtracting(wanted)
                // Recorded before publishing: a crash right after still knows every topic it may have left.
                save(&s, s.recorded.union(wanted))
            }
            if enabled {
                for (i, m) in meters.enumerated() {
                    publishLocked(TelemetryPayload.topic(template: builder.mqtt.availabilityTopic, deviceID: m.deviceID),
                                  Array((s.online[i] ? "online" : "offline").utf8))
                }
            }
            for m in messages { publishLocked(m.topic, m.payload) }
            for topic in s.stale.sorted() {
                if let mid = publishLocked(topic, []) { s.pendingClears[mid] = topic }
            }
            if !s.stale.isEmpty {
                logger.notice("Home Assistant: clearing \(s.stale.count) config(s) of meters or measurements no longer configured")
            }
        }
    }

    public func disconnected() {
        state.withLock { s in
            s.connected = false
            s.pendingClears.removeAll()  // sent again at the next connect
            s.acknowledgedClears.removeAll()
        }
    }

    /// The broker acknowledged `messageID`; returns true when it was one of ours (a clear). The list on flash
    /// is rewritten once every clear of the connect is acknowledged (one write, not one per topic; a crash
    /// before that only clears them again).
    @discardableResult
    public func delivered(messageID: Int32) -> Bool {
        state.withLock { s in
            guard let topic = s.pendingClears.removeValue(forKey: messageID) else { return false }
            s.stale.remove(topic)
            s.acknowledgedClears.insert(topic)
            if s.pendingClears.isEmpty {
                save(&s, s.recorded.subtracting(s.acknowledgedClears))
                s.acknowledgedClears.removeAll()
            }
            return true
        }
    }

    /// Meter `index` went down (`online` false) or answers again.
    public func meterState(_ index: Int, online: Bool) {
        guard enabled else { return }
        state.withLock { s in
            guard s.online[index] != online else { return }
            s.online[index] = online
            guard s.connected else { return }  // published at the next connect
            publishLocked(TelemetryPayload.topic(template: builder.mqtt.availabilityTopic, deviceID: meters[index].deviceID),
                          Array((online ? "online" : "offline").utf8))
        }
    }

    /// A poll's readings: a new serial number or firmware text republishes the meter's configs (the device
    /// card shows them).
    public func observe(_ index: Int, measurements readings: [MeasurementReading]) {
        guard enabled else { return }
        var identity = state.withLock { $0.identities[index] }
        for r in readings {
            guard case .text(let t) = r.value else { continue }
            if r.name == "serial_number" { identity.serialNumber = t }
            if r.name == "firmware_version" { identity.firmwareVersion = t }
        }
        state.withLock { s in
            guard s.identities[index] != identity else { return }
            s.identities[index] = identity
            guard s.connected else { return }
            for m in builder.meterMessages(meters[index], measurements: measurements[index], identity: identity) {
                publishLocked(m.topic, m.payload)
            }
        }
    }

    @discardableResult
    private func publishLocked(_ topic: String, _ payload: [UInt8]) -> Int32? {
        do {
            return try publisher.publish(topic: topic, payload: payload, qos: 1, retain: true)
        } catch {
            logger.warning("Home Assistant discovery message not published (sent again at the next connect): \(error)",
                           metadata: ["topic": "\(topic)"])
            return nil
        }
    }

    private func save(_ s: inout State, _ topics: Set<String>) {
        guard let stateFile, topics != s.recorded else { return }
        do {
            try stateFile.save(topics)
            s.recorded = topics
        } catch {
            logger.error("cannot write the Home Assistant discovery list \(stateFile.path): \(error); removed meters may keep their entities")
        }
    }
}
