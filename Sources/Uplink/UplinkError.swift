/// Why a broker refused a connection (the CONNACK return code of 3.1.1 or reason code of MQTT 5).
public enum RefusalReason: Sendable, Hashable, CustomStringConvertible {
    /// Wrong user name or password (3.1.1 code 4, MQTT 5 0x86).
    case badCredentials
    /// The broker does not let this client in (3.1.1 code 5, MQTT 5 0x87). Mosquitto also answers this to a
    /// wrong password.
    case notAuthorized
    /// The client identifier was rejected (3.1.1 code 2, MQTT 5 0x85).
    case identifierRejected
    /// The broker does not speak this protocol version (3.1.1 code 1, MQTT 5 0x84).
    case unsupportedProtocol
    /// The broker is unavailable or busy (3.1.1 code 3, MQTT 5 0x88/0x89).
    case serverUnavailable
    /// The client is banned (MQTT 5 0x8A).
    case banned
    /// Another code.
    case other(code: Int32, text: String)

    /// The reason for a CONNACK code under `version`.
    public init(code: Int32, version: MQTTProtocolVersion) {
        switch (version, code) {
        case (.v311, 1), (.v5, 0x84): self = .unsupportedProtocol
        case (.v311, 2), (.v5, 0x85): self = .identifierRejected
        case (.v311, 3), (.v5, 0x88), (.v5, 0x89): self = .serverUnavailable
        case (.v311, 4), (.v5, 0x86): self = .badCredentials
        case (.v311, 5), (.v5, 0x87): self = .notAuthorized
        case (.v5, 0x8A): self = .banned
        default: self = .other(code: code, text: version == .v5 ? reasonCodeText(code) : "connection refused")
        }
    }

    public var description: String {
        switch self {
        case .badCredentials:
            return "bad user name or password — check MQTT_USERNAME/MQTT_PASSWORD"
        case .notAuthorized:
            return "not authorised (wrong user name or password, or this user may not connect) — check MQTT_USERNAME/MQTT_PASSWORD and the broker's password file and ACL"
        case .identifierRejected:
            return "client identifier rejected — set MQTT_CLIENT_ID to a short ASCII name unique to this gateway"
        case .unsupportedProtocol:
            return "protocol version not supported — set MQTT_PROTOCOL=3.1.1 for this broker"
        case .serverUnavailable:
            return "broker unavailable or busy — it will be retried; check the broker if it lasts"
        case .banned:
            return "this client is banned by the broker — ask the broker's operator"
        case let .other(code, text):
            return "\(text) (code \(code))"
        }
    }
}

/// The uplink's one error type. Each description says what is wrong and what to do about it; none contains
/// the MQTT password.
public enum UplinkError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A setting is invalid; found before connecting. `name` is the configuration variable.
    case invalidSetting(name: String, problem: String)
    /// The TLS handshake failed. `reason` is OpenSSL's own words, `hint` what to check.
    case tlsHandshake(broker: String, reason: String, hint: String)
    /// The broker answered CONNACK with a refusal.
    case connectionRefused(broker: String, reason: RefusalReason)
    /// The broker could not be reached (name resolution, TCP connect).
    case unreachable(broker: String, detail: String)
    /// An established connection ended without our asking.
    case connectionLost(broker: String, detail: String)
    /// A QoS 0 publish while disconnected: libmosquitto drops those (QoS 1 and 2 are queued instead).
    case notConnected(broker: String)
    /// libmosquitto refused a publish before sending it (bad topic, payload too large, ...).
    case publishRejected(topic: String, detail: String)
    /// The broker answered a publish with an MQTT 5 failure reason code (>= 0x80).
    case brokerRejectedPublish(reasonCode: Int32, text: String)
    /// The client was stopped.
    case stopped
    /// An unexpected libmosquitto or system failure.
    case library(call: String, detail: String)

    /// What makes two errors the same problem for the log: a TLS refusal is one problem whatever words the
    /// race between the broker's alert and its reset gave it (the fix, `hint`, is the same); others by text.
    var problemKey: String {
        if case let .tlsHandshake(broker, _, hint) = self { return "TLS handshake with \(broker): \(hint)" }
        return description
    }

    public var description: String {
        switch self {
        case let .invalidSetting(name, problem):
            return "invalid setting \(name): \(problem)"
        case let .tlsHandshake(broker, reason, hint):
            return "TLS handshake with \(broker) failed: \(reason) — \(hint)"
        case let .connectionRefused(broker, reason):
            return "broker \(broker) refused the connection: \(reason)"
        case let .unreachable(broker, detail):
            return "cannot reach the broker at \(broker): \(detail) — check MQTT_HOST/MQTT_PORT and the network; retrying with backoff, readings stay in the spool"
        case let .connectionLost(broker, detail):
            return "connection to the broker at \(broker) lost: \(detail) — reconnecting with backoff, readings stay in the spool"
        case let .notConnected(broker):
            return "not connected to \(broker): a QoS 0 message cannot be queued — use MQTT_QOS=1 to have it kept until the broker is back"
        case let .publishRejected(topic, detail):
            return "cannot publish to '\(topic)': \(detail)"
        case let .brokerRejectedPublish(code, text):
            return "the broker rejected the message: \(text) (reason code 0x\(String(code, radix: 16))) — check the broker's ACL for this topic and its size limits"
        case .stopped:
            return "the MQTT client is stopped"
        case let .library(call, detail):
            return "\(call) failed: \(detail)"
        }
    }
}

/// A name for an MQTT 5 reason code (mosquitto_reason_string without a C call, for descriptions).
func reasonCodeText(_ code: Int32) -> String {
    switch code {
    case 0x00: return "success"
    case 0x10: return "no matching subscribers"
    case 0x80: return "unspecified error"
    case 0x81: return "malformed packet"
    case 0x82: return "protocol error"
    case 0x83: return "implementation specific error"
    case 0x87: return "not authorised"
    case 0x8E: return "session taken over by another client with the same MQTT_CLIENT_ID"
    case 0x8D: return "keep alive timeout"
    case 0x8B: return "server shutting down"
    case 0x90: return "topic name invalid"
    case 0x91: return "packet identifier in use"
    case 0x95: return "packet too large"
    case 0x97: return "quota exceeded"
    case 0x98: return "administrative action"
    case 0x99: return "payload format invalid"
    case 0x9A: return "retain not supported"
    case 0x9B: return "QoS not supported"
    default: return "reason code \(code)"
    }
}
