import MeterLink

/// A password or other secret. Printing it, interpolating it or logging it shows `********`; only `reveal()`
/// gives the text, at the one place that hands it to the meter or the broker.
public struct ConfigSecret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    private let text: String

    public init(_ text: String) { self.text = text }

    /// The secret itself: pass it straight to the library that needs it, never to a log or a message.
    public func reveal() -> String { text }

    public static let mask = "********"
    public var description: String { Self.mask }
    public var debugDescription: String { Self.mask }
}

/// One meter, with the DLMS_* settings of its section and its own DEVICE_ID.
public struct MeterConfiguration: Sendable, Equatable {
    /// `DEVICE_ID`: the payload's `device_id` and the `{device_id}` of topics.
    public var deviceID: String
    /// `DLMS_HOST`/`DLMS_PORT`, or `DLMS_SERIAL_DEVICE`/`DLMS_BAUD`/`DLMS_MODE_E`.
    public var transport: MeterEndpoint
    /// `DLMS_CLIENT_SAP` (1..127).
    public var clientSAP: UInt8
    /// `DLMS_SERVER_LOGICAL` and `DLMS_SERVER_PHYSICAL` (0..16383).
    public var serverLogical: UInt16
    public var serverPhysical: UInt16
    /// `DLMS_ADDRESS_SIZE`.
    public var addressSize: AddressSizeSetting
    /// `DLMS_PASSWORD`: low-level security when set, no authentication when not.
    public var password: ConfigSecret?
    /// `DLMS_MEASUREMENTS`: names from the meter catalog or `customMeasurements`, in payload order.
    public var measurements: [String]
    /// `DLMS_DEFINE`: measurements of this meter beyond the catalog (`key=OBIS:class[:description]`, as
    /// `read --define` takes them and `discover --config` writes them).
    public var customMeasurements: [Measurement]
    /// `POLL_PERIOD_S` in milliseconds.
    public var pollPeriodMilliseconds: Int64
    /// `MAX_CONSEC_ERRORS`: failed polls in a row before the meter is reported down and its link reset.
    public var maxConsecutiveErrors: Int
    /// `DLMS_TIMEOUT_MS`: how long to wait for each answer of the meter.
    public var timeoutMilliseconds: Int
    /// `DLMS_CONNECT_PER_POLL`: associate and release at every poll instead of keeping the association.
    public var connectPerPoll: Bool
    /// `DLMS_METER_PROFILE`: the meter family's defaults.
    public var profile: MeterProfile
    /// `DLMS_PROFILES`, `DLMS_PROFILE_BACKFILL`, `DLMS_CLOCK_SYNC`, `DLMS_CLOCK_MAX_DRIFT_S`.
    public var profileSettings = ProfileSettings()
    /// `DLMS_SECURITY` and what goes with it; nil: APDUs in clear.
    public var security: MeterSecurityConfiguration?
    /// `DLMS_TRANSPORT`: HDLC, or the IEC 62056-47 wrapper (TCP only).
    public var framing: MeterFraming = .hdlc
    /// `MAX_POWER_W`: the most power the installation can draw or feed (W). An energy register that grows
    /// faster than this between two polls is flagged as implausible; nil checks only that registers never go
    /// backwards.
    public var maxPowerWatts: Double?

    public init(
        deviceID: String, transport: MeterEndpoint, clientSAP: UInt8 = 1, serverLogical: UInt16 = 0,
        serverPhysical: UInt16 = 1, addressSize: AddressSizeSetting = .auto, password: ConfigSecret? = nil,
        measurements: [String] = ["voltage_l1", "current_l1"], pollPeriodMilliseconds: Int64 = 5000,
        maxConsecutiveErrors: Int = 10, timeoutMilliseconds: Int = 5000, connectPerPoll: Bool = false,
        profile: MeterProfile = .microstar, security: MeterSecurityConfiguration? = nil,
        maxPowerWatts: Double? = nil, customMeasurements: [Measurement] = []
    ) {
        self.customMeasurements = customMeasurements
        self.deviceID = deviceID
        self.transport = transport
        self.clientSAP = clientSAP
        self.serverLogical = serverLogical
        self.serverPhysical = serverPhysical
        self.addressSize = addressSize
        self.password = password
        self.measurements = measurements
        self.pollPeriodMilliseconds = pollPeriodMilliseconds
        self.maxConsecutiveErrors = maxConsecutiveErrors
        self.timeoutMilliseconds = timeoutMilliseconds
        self.connectPerPoll = connectPerPoll
        self.profile = profile
        self.security = security
        self.maxPowerWatts = maxPowerWatts
    }
}

/// TLS towards the broker. On when `MQTT_TLS_CA` is set or `MQTT_PORT` is 8883.
public struct TLSConfiguration: Sendable, Equatable {
    /// Where the trusted CA certificates are.
    public enum Authority: Sendable, Equatable {
        /// A PEM file of CA certificates.
        case file(String)
        /// A directory of hashed CA certificates (`c_rehash`), e.g. the system's /etc/ssl/certs.
        case directory(String)
    }

    public var authority: Authority
    /// `MQTT_TLS_CERT` / `MQTT_TLS_KEY`: a client certificate for mutual TLS.
    public var certificateFile: String?
    public var keyFile: String?
    /// `MQTT_TLS_INSECURE`: skip the server name check. Logged loudly at every start.
    public var insecure: Bool
    /// `MQTT_TLS_VERSION`: the minimum TLS version, `tlsv1.2` or `tlsv1.3`.
    public var minimumVersion: String

    public init(
        authority: Authority, certificateFile: String? = nil, keyFile: String? = nil, insecure: Bool = false,
        minimumVersion: String = "tlsv1.2"
    ) {
        self.authority = authority
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.insecure = insecure
        self.minimumVersion = minimumVersion
    }
}

/// MQTT protocol level (`MQTT_PROTOCOL`).
public enum MQTTVersion: String, Sendable, Equatable {
    case v311 = "3.1.1"
    case v5 = "5"
}

/// The broker connection, shared by every meter of the gateway.
public struct MQTTConfiguration: Sendable, Equatable {
    public var host: String
    public var port: UInt16
    /// `MQTT_CLIENT_ID`, with `{device_id}` already replaced by the first meter's id.
    public var clientID: String
    /// `MQTT_TOPIC`: template with `{device_id}`.
    public var telemetryTopic: String
    /// `MQTT_STATUS_TOPIC`: the retained last will (`offline`) and `online`, per meter.
    public var statusTopic: String
    /// `MQTT_HEALTH_TOPIC`: the periodic health JSON, per meter.
    public var healthTopic: String
    /// `MQTT_PROFILE_TOPIC`: one message per profile row; template with `{device_id}` and `{name}`.
    public var profileTopic = "meters/{device_id}/profile/{name}"
    /// `MQTT_AVAILABILITY_TOPIC`: the meter's own availability (`online` unless the meter is down), retained,
    /// published with Home Assistant discovery.
    public var availabilityTopic: String
    public var tls: TLSConfiguration?
    public var username: String?
    public var password: ConfigSecret?
    /// `MQTT_QOS`: 0, 1 or 2.
    public var qos: UInt8
    public var protocolVersion: MQTTVersion
    /// `MQTT_KEEPALIVE_S`.
    public var keepaliveSeconds: Int

    public init(
        host: String = "localhost", port: UInt16 = 1883, clientID: String = "dlms-bridge",
        telemetryTopic: String = "meters/{device_id}/telemetry", statusTopic: String = "meters/{device_id}/status",
        healthTopic: String = "meters/{device_id}/health",
        availabilityTopic: String = "meters/{device_id}/availability", tls: TLSConfiguration? = nil, username: String? = nil,
        password: ConfigSecret? = nil, qos: UInt8 = 1, protocolVersion: MQTTVersion = .v311,
        keepaliveSeconds: Int = 60
    ) {
        self.host = host
        self.port = port
        self.clientID = clientID
        self.telemetryTopic = telemetryTopic
        self.statusTopic = statusTopic
        self.healthTopic = healthTopic
        self.availabilityTopic = availabilityTopic
        self.tls = tls
        self.username = username
        self.password = password
        self.qos = qos
        self.protocolVersion = protocolVersion
        self.keepaliveSeconds = keepaliveSeconds
    }
}

/// The flash spool.
public struct SpoolSettings: Sendable, Equatable {
    /// `SPOOL_DIR`.
    public var directory: String
    /// `SPOOL_MAX_BYTES`: beyond it the oldest readings are dropped (and counted).
    public var maxBytes: Int64
    /// `SPOOL_MAX_AGE_S`: readings older than this are dropped; 0 keeps them until the size cap.
    public var maxAgeSeconds: Int64
    /// `SPOOL_COMMIT_INTERVAL_MS`: group commit interval (fsync at most this often); 0 syncs every reading.
    public var commitIntervalMilliseconds: Int
    /// `REPLAY_RATE`: backlog readings replayed per second when the broker comes back, between live ones.
    public var replayPerSecond: Int

    public init(
        directory: String = "/var/lib/dlms-bridge/spool", maxBytes: Int64 = 64 << 20, maxAgeSeconds: Int64 = 0,
        commitIntervalMilliseconds: Int = 1000, replayPerSecond: Int = 50
    ) {
        self.directory = directory
        self.maxBytes = maxBytes
        self.maxAgeSeconds = maxAgeSeconds
        self.commitIntervalMilliseconds = commitIntervalMilliseconds
        self.replayPerSecond = replayPerSecond
    }
}

/// Home Assistant MQTT discovery (`HA_DISCOVERY`, `HA_DISCOVERY_PREFIX`).
public struct HomeAssistantSettings: Sendable, Equatable {
    /// `HA_DISCOVERY`: publish discovery configs (retained) at every connect. Off by default.
    public var enabled: Bool
    /// `HA_DISCOVERY_PREFIX`: Home Assistant's discovery prefix, `homeassistant` unless changed there.
    public var prefix: String

    public init(enabled: Bool = false, prefix: String = "homeassistant") {
        self.enabled = enabled
        self.prefix = prefix
    }
}

/// Everything `dlms-bridge run` needs, validated.
public struct AgentConfiguration: Sendable, Equatable {
    public var meters: [MeterConfiguration]
    public var mqtt: MQTTConfiguration
    public var spool: SpoolSettings
    /// `HEALTH_INTERVAL_S` in milliseconds; 0 publishes no health.
    public var healthIntervalMilliseconds: Int64
    /// `UNIT_CODES`.
    public var unitCodes: UnitCodeMapping
    /// `VERBOSE`: debug logging (frames in hex, with the password bytes masked).
    public var verbose: Bool
    /// Home Assistant discovery.
    public var homeAssistant: HomeAssistantSettings

    public init(
        meters: [MeterConfiguration], mqtt: MQTTConfiguration = MQTTConfiguration(),
        spool: SpoolSettings = SpoolSettings(), healthIntervalMilliseconds: Int64 = 60_000,
        unitCodes: UnitCodeMapping = .standard, verbose: Bool = false,
        homeAssistant: HomeAssistantSettings = HomeAssistantSettings()
    ) {
        self.meters = meters
        self.mqtt = mqtt
        self.spool = spool
        self.healthIntervalMilliseconds = healthIntervalMilliseconds
        self.unitCodes = unitCodes
        self.verbose = verbose
        self.homeAssistant = homeAssistant
    }
}
