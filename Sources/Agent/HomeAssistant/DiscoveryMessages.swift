import MeterLink

/// One retained discovery message: a config topic and its JSON (empty to remove the entity).
public struct DiscoveryMessage: Sendable, Equatable {
    public var topic: String
    public var payload: [UInt8]

    public init(topic: String, payload: [UInt8]) {
        self.topic = topic
        self.payload = payload
    }
}

/// What the meter says about itself, for the device card: read from the `serial_number` and
/// `firmware_version` measurements when the meter's DLMS_MEASUREMENTS include them.
public struct MeterIdentity: Sendable, Equatable {
    public var serialNumber: String?
    /// The text of 0-0:42.0.0.255 (the catalog's `firmware_version`; the COSEM logical device name).
    public var firmwareVersion: String?

    public init(serialNumber: String? = nil, firmwareVersion: String? = nil) {
        self.serialNumber = serialNumber
        self.firmwareVersion = firmwareVersion
    }

    /// Manufacturer and model from a COSEM logical device name: three capital letters (the manufacturer's
    /// FLAG identifier) then the model, e.g. `LGZ1030...` or `MST-SIM 1.0.0`; nil when it is not of that form.
    public var manufacturerAndModel: (manufacturer: String, model: String?)? {
        guard let text = firmwareVersion else { return nil }
        let b = Array(text.utf8)
        guard b.count >= 3, b[0..<3].allSatisfy({ $0 >= 0x41 && $0 <= 0x5A }) else { return nil }
        let flag = String(decoding: b[0..<3], as: UTF8.self)
        var rest = b[3...]
        while let f = rest.first, f == 0x20 || f == 0x2D || f == 0x5F || f == 0x00 { rest = rest.dropFirst() }
        while let l = rest.last, l == 0x20 || l == 0x00 { rest = rest.dropLast() }
        let model = rest.isEmpty ? nil : String(decoding: rest, as: UTF8.self)
        return (Self.manufacturers[flag] ?? flag, model)
    }

    /// FLAG identifiers (assigned by the DLMS User Association) of common meter makers.
    static let manufacturers: [String: String] = [
        "LGZ": "Landis+Gyr", "ISK": "Iskraemeco", "KAM": "Kamstrup", "KFM": "Kaifa", "EMH": "EMH metering",
        "ESY": "EasyMeter", "ZPA": "ZPA Smart Energy", "ITF": "Itron", "ELS": "Elster", "SAG": "Sagemcom",
    ]
}

/// Builds Home Assistant MQTT discovery configs (sensor schema: `name`, `unique_id`, `state_topic`,
/// `value_template`, `unit_of_measurement`, `device_class`, `state_class`, `entity_category`, `availability`
/// with `availability_mode`, `device`, `origin`). Pure: topics and bytes, no I/O.
public struct DiscoveryBuilder: Sendable {
    /// `HA_DISCOVERY_PREFIX`.
    public var prefix: String
    /// The gateway's name (MQTT_CLIENT_ID): its device and the `via_device` of every meter.
    public var gatewayName: String
    /// The gateway-wide status topic: the MQTT last will (`offline`) and `online`, retained.
    public var gatewayStatusTopic: String
    public var softwareVersion: String?
    public var mqtt: MQTTConfiguration
    /// Whether health messages are published (HEALTH_INTERVAL_S > 0): their entities only then.
    public var healthEntities: Bool

    public init(
        prefix: String, gatewayName: String, gatewayStatusTopic: String, softwareVersion: String?,
        mqtt: MQTTConfiguration, healthEntities: Bool
    ) {
        self.prefix = prefix
        self.gatewayName = gatewayName
        self.gatewayStatusTopic = gatewayStatusTopic
        self.softwareVersion = softwareVersion
        self.mqtt = mqtt
        self.healthEntities = healthEntities
    }

    /// A node or object id as Home Assistant accepts it in a topic: letters, digits, `_` and `-`; anything
    /// else becomes `_`.
    public static func identifier(_ text: String) -> String {
        String(decoding: text.utf8.map { isAlphanumeric($0) || $0 == 0x5F || $0 == 0x2D ? $0 : 0x5F }, as: UTF8.self)
    }

    var gatewayNode: String { Self.identifier(gatewayName) }
    var gatewayDeviceID: String { "dlms-bridge_" + gatewayNode }

    /// The gateway's own entity (a connectivity binary sensor on the gateway status topic), which also makes
    /// the gateway the device every meter is connected through.
    public func gatewayMessage() -> DiscoveryMessage {
        var json = JSONWriter(reservingCapacity: 512)
        json.beginObject()
        json.member("name", "Broker connection")
        json.member("unique_id", gatewayDeviceID + "_status")
        json.member("state_topic", gatewayStatusTopic)
        json.member("payload_on", "online")
        json.member("payload_off", "offline")
        json.member("device_class", "connectivity")
        json.member("entity_category", "diagnostic")
        json.key("device")
        json.beginObject()
        json.key("identifiers")
        json.beginArray()
        json.string(gatewayDeviceID)
        json.endArray()
        json.member("name", "dlms-bridge " + gatewayName)
        json.member("manufacturer", "dlms-bridge")
        json.member("model", "DLMS/COSEM to MQTT gateway")
        if let v = softwareVersion { json.member("sw_version", v) }
        json.endObject()
        writeOrigin(&json)
        json.endObject()
        return DiscoveryMessage(topic: "\(prefix)/binary_sensor/\(gatewayNode)/status/config", payload: json.bytes)
    }

    /// The config topic of measurement or health entity `object` of meter `deviceID`.
    public func sensorTopic(deviceID: String, object: String) -> String {
        "\(prefix)/sensor/\(Self.identifier(deviceID))/\(Self.identifier(object))/config"
    }

    /// Every config of one meter: one per measurement that makes an entity, then the health entities.
    public func meterMessages(
        _ meter: MeterConfiguration, measurements: [Measurement], identity: MeterIdentity
    ) -> [DiscoveryMessage] {
        let id = meter.deviceID
        let node = Self.identifier(id)
        let telemetry = TelemetryPayload.topic(template: mqtt.telemetryTopic, deviceID: id)
        let availability = [gatewayStatusTopic, TelemetryPayload.topic(template: mqtt.availabilityTopic, deviceID: id)]
        var out: [DiscoveryMessage] = []
        for m in measurements {
            guard let classes = HomeAssistantClass.of(m) else { continue }
            var json = JSONWriter(reservingCapacity: 1024)
            json.beginObject()
            json.member("name", m.description)
            json.member("unique_id", "dlms-bridge_\(node)_\(Self.identifier(m.key))")
            json.member("state_topic", telemetry)
            json.member("value_template", Self.valueTemplate(key: m.key))
            if let u = classes.unit { json.member("unit_of_measurement", u) }
            if let d = classes.deviceClass { json.member("device_class", d) }
            if let s = classes.stateClass { json.member("state_class", s) }
            writeAvailability(&json, availability)
            writeDevice(&json, meter, identity)
            writeOrigin(&json)
            json.endObject()
            out.append(DiscoveryMessage(topic: sensorTopic(deviceID: id, object: m.key), payload: json.bytes))
        }
        guard healthEntities else { return out }
        // Health stays available while the meter is down (it says so): only the gateway's status counts.
        let health = TelemetryPayload.topic(template: mqtt.healthTopic, deviceID: id)
        for h in Self.healthEntities {
            var json = JSONWriter(reservingCapacity: 1024)
            json.beginObject()
            json.member("name", h.name)
            json.member("unique_id", "dlms-bridge_\(node)_health_\(h.object)")
            json.member("state_topic", health)
            json.member("value_template", h.template)
            if let u = h.unit { json.member("unit_of_measurement", u) }
            if let d = h.deviceClass { json.member("device_class", d) }
            if let s = h.stateClass { json.member("state_class", s) }
            json.member("entity_category", "diagnostic")
            writeAvailability(&json, [gatewayStatusTopic])
            writeDevice(&json, meter, identity)
            writeOrigin(&json)
            json.endObject()
            out.append(DiscoveryMessage(topic: sensorTopic(deviceID: id, object: "health_" + h.object), payload: json.bytes))
        }
        return out
    }

    /// Picks measurement `key` out of a telemetry message. A message without it (refused in that poll) or
    /// with it flagged `implausible` renders empty, which Home Assistant ignores for numeric sensors: the
    /// entity keeps its last value instead of showing a gap or a spike.
    public static func valueTemplate(key: String) -> String {
        "{% set m = value_json.measurements.get('\(key)') %}{% if m and not m.get('implausible') %}{{ m.value }}{% endif %}"
    }

    struct HealthEntity {
        var object: String
        var name: String
        var template: String
        var unit: String?
        var deviceClass: String?
        var stateClass: String?
    }

    static func counter(_ field: String, _ name: String) -> HealthEntity {
        HealthEntity(object: field, name: name, template: "{{ value_json.\(field) }}", unit: nil, deviceClass: nil,
                     stateClass: "total_increasing")
    }

    /// The health message's fields that become diagnostic entities.
    static let healthEntities: [HealthEntity] = [
        HealthEntity(object: "state", name: "Meter state", template: "{{ value_json.state }}", unit: nil,
                     deviceClass: nil, stateClass: nil),
        counter("polls", "Polls"),
        counter("failed_polls", "Failed polls"),
        counter("backoff_polls", "Polls left to the reconnect back-off"),
        counter("measurement_errors", "Measurement errors"),
        counter("crc_errors", "CRC errors"),
        counter("retransmissions", "Retransmissions"),
        counter("association_failures", "Association failures"),
        counter("implausible_readings", "Implausible readings"),
        HealthEntity(object: "last_rtt_ms", name: "Round-trip time",
                     template: "{% if value_json.last_rtt_ms is number %}{{ value_json.last_rtt_ms }}{% endif %}",
                     unit: "ms", deviceClass: "duration", stateClass: "measurement"),
        HealthEntity(object: "spool_pending", name: "Readings waiting in the spool",
                     template: "{{ value_json.spool.pending }}", unit: nil, deviceClass: nil, stateClass: "measurement"),
        HealthEntity(object: "spool_dropped", name: "Readings dropped from the spool",
                     template: "{{ value_json.spool.dropped }}", unit: nil, deviceClass: nil, stateClass: "total_increasing"),
    ]

    private func writeAvailability(_ json: inout JSONWriter, _ topics: [String]) {
        json.key("availability")
        json.beginArray()
        for t in topics {
            json.beginObject()
            json.member("topic", t)
            json.member("payload_available", "online")
            json.member("payload_not_available", "offline")
            json.endObject()
        }
        json.endArray()
        json.member("availability_mode", "all")
    }

    private func writeDevice(_ json: inout JSONWriter, _ meter: MeterConfiguration, _ identity: MeterIdentity) {
        json.key("device")
        json.beginObject()
        json.key("identifiers")
        json.beginArray()
        json.string("dlms-bridge_" + Self.identifier(meter.deviceID))
        json.endArray()
        json.member("name", meter.deviceID)
        if let made = identity.manufacturerAndModel {
            json.member("manufacturer", made.manufacturer)
            if let model = made.model { json.member("model", model) }
        }
        if let s = identity.serialNumber { json.member("serial_number", s) }
        if let f = identity.firmwareVersion { json.member("sw_version", f) }
        json.member("via_device", gatewayDeviceID)
        json.endObject()
    }

    private func writeOrigin(_ json: inout JSONWriter) {
        json.key("origin")
        json.beginObject()
        json.member("name", "dlms-bridge")
        if let v = softwareVersion { json.member("sw_version", v) }
        json.endObject()
    }
}
