/// The configuration variables the agent knows, and where each may appear.
public enum ConfigVariable {
    /// Settings of one meter: allowed in `[meter]` sections, and as defaults for every meter elsewhere.
    public static let meterScoped: [String] = [
        "DEVICE_ID", "DLMS_HOST", "DLMS_PORT", "DLMS_CLIENT_SAP", "DLMS_SERVER_LOGICAL", "DLMS_SERVER_PHYSICAL",
        "DLMS_PASSWORD", "DLMS_MEASUREMENTS", "DLMS_SERIAL_DEVICE", "DLMS_BAUD", "DLMS_MODE_E", "DLMS_ADDRESS_SIZE",
        "DLMS_TIMEOUT_MS", "DLMS_CONNECT_PER_POLL", "DLMS_METER_PROFILE", "POLL_PERIOD_S", "MAX_CONSEC_ERRORS",
        "DLMS_PROFILES", "DLMS_PROFILE_BACKFILL", "DLMS_CLOCK_SYNC", "DLMS_CLOCK_MAX_DRIFT_S",
        "DLMS_SECURITY", "DLMS_AUTH", "DLMS_EK", "DLMS_AK", "DLMS_DK", "DLMS_EK_FILE", "DLMS_AK_FILE", "DLMS_DK_FILE",
        "DLMS_SYSTEM_TITLE", "DLMS_FRAME_COUNTER_OBIS", "DLMS_TRANSPORT",
        "MAX_POWER_W", "DLMS_DEFINE",
    ]

    /// Settings of the gateway: the broker, the spool, health, logging.
    public static let gatewayScoped: [String] = [
        "MQTT_HOST", "MQTT_PORT", "MQTT_CLIENT_ID", "MQTT_TOPIC", "MQTT_STATUS_TOPIC", "MQTT_HEALTH_TOPIC",
        "MQTT_PROFILE_TOPIC",
        "MQTT_TLS_CA", "MQTT_TLS_CERT", "MQTT_TLS_KEY", "MQTT_TLS_INSECURE", "MQTT_TLS_VERSION", "MQTT_USERNAME",
        "MQTT_PASSWORD", "MQTT_QOS", "MQTT_PROTOCOL", "MQTT_KEEPALIVE_S", "SPOOL_DIR", "SPOOL_MAX_BYTES", "SPOOL_MAX_BYTES_TOTAL",
        "SPOOL_MAX_AGE_S", "SPOOL_COMMIT_INTERVAL_MS", "REPLAY_RATE", "HEALTH_INTERVAL_S", "UNIT_CODES", "VERBOSE",
        "MQTT_AVAILABILITY_TOPIC", "HA_DISCOVERY", "HA_DISCOVERY_PREFIX",
    ]

    /// Variables whose values are never printed.
    public static let secrets: Set<String> = ["DLMS_PASSWORD", "MQTT_PASSWORD", "DLMS_EK", "DLMS_AK", "DLMS_DK"]

    static let all: Set<String> = Set(meterScoped + gatewayScoped)

    /// Prefixes that mark a variable as meant for this agent: unknown ones in a file are typos.
    static let ownPrefixes = ["DLMS_", "MQTT_", "SPOOL_", "POLL_", "HEALTH_", "UNIT_", "MAX_CONSEC", "DEVICE_", "REPLAY_", "HA_", "MAX_POWER"]

    static func isOurs(_ name: String) -> Bool { ownPrefixes.contains { name.hasPrefix($0) } || name == "VERBOSE" }

    /// The known variable closest to `name` (edit distance <= 3), for "did you mean" hints.
    static func closest(to name: String) -> String? {
        var best: (String, Int)?
        for candidate in meterScoped + gatewayScoped {
            let d = editDistance(Array(name.utf8), Array(candidate.utf8))
            if d <= 3, best == nil || d < best!.1 { best = (candidate, d) }
        }
        return best?.0
    }

    private static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where j <= b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
