import CLibc
import Platform

/// MQTT quality of service of a publish.
public enum QoS: Int32, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Fire and forget: "delivered" once written to the socket; lost if the connection drops.
    case atMostOnce = 0
    /// Acknowledged by PUBACK; retransmitted after a reconnect, so a consumer may see it twice.
    case atLeastOnce = 1
    /// Four-way handshake ending in PUBCOMP.
    case exactlyOnce = 2

    public var description: String { "QoS \(rawValue)" }
}

/// The MQTT protocol version spoken to the broker.
public enum MQTTProtocolVersion: Sendable, Hashable, CustomStringConvertible {
    /// MQTT 3.1.1 (protocol level 4), which every broker speaks.
    case v311
    /// MQTT 5, with reason codes on acknowledgements.
    case v5

    public var description: String { self == .v311 ? "3.1.1" : "5" }
}

/// The lowest TLS version accepted; newer versions still negotiate.
public enum TLSMinimumVersion: String, Sendable, Hashable {
    case tls12 = "tlsv1.2"
    case tls13 = "tlsv1.3"
}

/// TLS towards the broker. The server's certificate and host name are checked unless `insecure` is set.
public struct TLSSettings: Sendable, Hashable {
    /// PEM file of the CA certificates that sign the broker's certificate (MQTT_TLS_CA as a file).
    public var caFile: String?
    /// Directory of hashed CA certificates (MQTT_TLS_CA as a directory, `openssl rehash` layout).
    public var caDirectory: String?
    /// PEM client certificate for mutual TLS (MQTT_TLS_CERT).
    public var certificateFile: String?
    /// PEM private key of the client certificate (MQTT_TLS_KEY), unencrypted.
    public var keyFile: String?
    /// Lowest TLS version accepted.
    public var minimumVersion: TLSMinimumVersion
    /// Skips the check that the broker's certificate names `host` (MQTT_TLS_INSECURE). The chain is still
    /// verified. Only ever by explicit configuration; logged as a warning at every start.
    public var insecure: Bool

    public init(
        caFile: String? = nil, caDirectory: String? = nil, certificateFile: String? = nil, keyFile: String? = nil,
        minimumVersion: TLSMinimumVersion = .tls12, insecure: Bool = false
    ) {
        self.caFile = caFile
        self.caDirectory = caDirectory
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.minimumVersion = minimumVersion
        self.insecure = insecure
    }

    /// The setting for MQTT_TLS_CA: a directory becomes `caDirectory`, anything else `caFile`.
    public static func ca(_ path: String) -> TLSSettings {
        var st = stat()
        if stat(path, &st) == 0 && clibc_s_isdir(st.st_mode) != 0 { return TLSSettings(caDirectory: path) }
        return TLSSettings(caFile: path)
    }
}

/// How to reach and talk to the broker.
public struct MQTTSettings: Sendable, Hashable {
    /// Broker host name or address (MQTT_HOST). With TLS it must match the broker's certificate.
    public var host: String
    /// Broker port (MQTT_PORT): 1883 plain, 8883 TLS by convention.
    public var port: Int
    /// Client identifier (MQTT_CLIENT_ID); unique per gateway, or the broker disconnects the older session.
    public var clientID: String
    /// MQTT_USERNAME, if the broker wants one.
    public var username: String?
    /// MQTT_PASSWORD. Never logged, never in an error description.
    public var password: String?
    /// Seconds between keepalive pings; a dead connection is noticed after about 1.5 times this.
    public var keepaliveSeconds: Int
    /// MQTT_PROTOCOL.
    public var protocolVersion: MQTTProtocolVersion
    /// The QoS of `publish` when the caller does not name one (MQTT_QOS, default 1).
    public var defaultQoS: QoS
    /// TLS, or nil for plain TCP.
    public var tls: TLSSettings?
    /// Topic of the gateway's presence: the broker publishes `offline` (retained) there when the connection
    /// dies without a clean DISCONNECT (last will), the client publishes `online` (retained) on every connect
    /// and `offline` on a clean stop. nil disables all three.
    public var statusTopic: String?
    /// First reconnect delay; it doubles after every failed attempt up to `reconnectDelayMaxSeconds`.
    public var reconnectDelaySeconds: Int
    /// Cap of the reconnect delay.
    public var reconnectDelayMaxSeconds: Int
    /// Publishes in flight before libmosquitto queues locally (MQTT 5 receive-maximum on the client side).
    public var maxInflight: Int

    public init(
        host: String, port: Int = 8883, clientID: String, username: String? = nil, password: String? = nil,
        keepaliveSeconds: Int = 60, protocolVersion: MQTTProtocolVersion = .v311, defaultQoS: QoS = .atLeastOnce,
        tls: TLSSettings? = nil, statusTopic: String? = nil, reconnectDelaySeconds: Int = 1,
        reconnectDelayMaxSeconds: Int = 60, maxInflight: Int = 20
    ) {
        self.host = host
        self.port = port
        self.clientID = clientID
        self.username = username
        self.password = password
        self.keepaliveSeconds = keepaliveSeconds
        self.protocolVersion = protocolVersion
        self.defaultQoS = defaultQoS
        self.tls = tls
        self.statusTopic = statusTopic
        self.reconnectDelaySeconds = reconnectDelaySeconds
        self.reconnectDelayMaxSeconds = reconnectDelayMaxSeconds
        self.maxInflight = maxInflight
    }

    /// "host:port", the broker as error messages name it.
    public var broker: String { "\(host):\(port)" }

    /// Checks what can be checked before connecting: ranges, and that the TLS files exist and are readable.
    public func validate() throws(UplinkError) {
        func bad(_ name: String, _ problem: String) -> UplinkError { .invalidSetting(name: name, problem: problem) }
        if host.isEmpty { throw bad("MQTT_HOST", "is empty; set it to the broker's host name") }
        if !(1...65535).contains(port) { throw bad("MQTT_PORT", "\(port) is not a TCP port (1-65535)") }
        if clientID.isEmpty || clientID.utf8.count > 65535 {
            throw bad("MQTT_CLIENT_ID", "must be 1 to 65535 bytes long")
        }
        if !(5...65535).contains(keepaliveSeconds) {
            throw bad("MQTT_KEEPALIVE", "\(keepaliveSeconds) s is outside 5-65535 s")
        }
        if password != nil && username == nil {
            throw bad("MQTT_PASSWORD", "is set without MQTT_USERNAME; set both or neither")
        }
        if reconnectDelaySeconds < 1 || reconnectDelayMaxSeconds < reconnectDelaySeconds {
            throw bad("reconnect delay", "must be at least 1 s and no larger than its maximum")
        }
        if !(1...65535).contains(maxInflight) { throw bad("max in-flight", "\(maxInflight) is outside 1-65535") }
        if let topic = statusTopic, topic.isEmpty || topic.contains("+") || topic.contains("#") {
            throw bad("status topic", "'\(topic)' is not a valid topic to publish to (empty or with a wildcard)")
        }
        guard let tls else { return }
        if tls.caFile == nil && tls.caDirectory == nil {
            throw bad("MQTT_TLS_CA", "is not set but TLS is on; set it to the CA certificate that signs the broker's certificate")
        }
        if let path = tls.caFile { try Self.checkReadable(path, name: "MQTT_TLS_CA", directory: false) }
        if let path = tls.caDirectory { try Self.checkReadable(path, name: "MQTT_TLS_CA", directory: true) }
        switch (tls.certificateFile, tls.keyFile) {
        case (nil, nil): break
        case (.some, nil): throw bad("MQTT_TLS_KEY", "is not set but MQTT_TLS_CERT is; mutual TLS needs both")
        case (nil, .some): throw bad("MQTT_TLS_CERT", "is not set but MQTT_TLS_KEY is; mutual TLS needs both")
        case let (cert?, key?):
            try Self.checkReadable(cert, name: "MQTT_TLS_CERT", directory: false)
            try Self.checkReadable(key, name: "MQTT_TLS_KEY", directory: false)
        }
    }

    static func checkReadable(_ path: String, name: String, directory: Bool) throws(UplinkError) {
        var st = stat()
        if stat(path, &st) != 0 {
            let why = String(cString: strerror(errno))
            throw .invalidSetting(name: name, problem: "\(path): \(why)")
        }
        let isDir = clibc_s_isdir(st.st_mode) != 0
        if isDir != directory {
            throw .invalidSetting(name: name, problem: "\(path) is \(isDir ? "a directory" : "not a directory")")
        }
        if access(path, R_OK) != 0 {
            throw .invalidSetting(name: name, problem: "\(path) is not readable by this user (uid \(getuid()))")
        }
    }
}
