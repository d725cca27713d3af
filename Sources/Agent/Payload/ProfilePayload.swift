import COSEM

/// One profile row ready for its message: the capture time, the decoded status and the captured values.
public struct ProfileRowReading: Sendable, Equatable {
    /// UTC milliseconds, from the meter's clock and its deviation.
    public var captureTime: Int64
    /// The status word (the profile's status column, or the clock status byte) and where it came from.
    public var statusWord: UInt32
    public var statusSource: String
    /// The names of the status bits set (`clock_invalid`, `power_down`, `daylight_saving`, ...).
    public var statusFlags: [String]
    /// The captured values other than the capture time, in column order, as telemetry measurements.
    public var values: [MeasurementReading]

    public init(captureTime: Int64, statusWord: UInt32, statusSource: String, statusFlags: [String],
                values: [MeasurementReading]) {
        self.captureTime = captureTime
        self.statusWord = statusWord
        self.statusSource = statusSource
        self.statusFlags = statusFlags
        self.values = values
    }
}

/// The profile message: one per row, on `MQTT_PROFILE_TOPIC` (`meters/{device_id}/profile/{name}`).
///
/// ```json
/// {"device_id":"microstar-001","profile":"load_profile","obis":"1-0:99.1.0.255","capture_time":1795060800000,
///  "seq":42,"status":{"word":0,"source":"clock_status","flags":[]},"values":{"active_energy_import":
///  {"obis":"1-1:1.8.0","value":1000532,"unit_code":30,"unit":"Wh","raw_value":1000532}}}
/// ```
///
/// A consumer drops duplicates by `(device_id, profile, capture_time)`: delivery is at least once.
public enum ProfilePayload {
    public static func render(
        deviceID: String, profile: ProfileConfiguration, row: ProfileRowReading, seq: UInt64,
        units: UnitCodeMapping = .standard
    ) -> [UInt8] {
        var json = JSONWriter(style: .compact, reservingCapacity: 160 + 112 * row.values.count)
        json.beginObject()
        json.member("device_id", deviceID)
        json.member("profile", profile.name)
        json.member("obis", profile.obis.fullDescription)
        json.member("capture_time", row.captureTime)
        json.member("seq", seq)
        json.key("status")
        json.beginObject()
        json.member("word", row.statusWord)
        json.member("source", row.statusSource)
        json.key("flags")
        json.beginArray()
        for f in row.statusFlags { json.string(f) }
        json.endArray()
        json.endObject()
        json.key("values")
        json.beginObject()
        for m in row.values { TelemetryPayload.writeMeasurement(m, units: units, into: &json, details: false) }
        json.endObject()
        json.endObject()
        return json.bytes
    }

    /// The topic of profile `name` of meter `deviceID`.
    public static func topic(template: String, deviceID: String, name: String) -> String {
        template.replacingAll("{device_id}", with: deviceID).replacingAll("{name}", with: name)
    }
}

/// How a record in a meter's spool says which topic it goes to.
///
/// Decision (issue 11): the spool format is unchanged; a profile row's record payload starts with a
/// marker byte 0x1E (ASCII record separator, never the first byte of a JSON text), then the profile's
/// name (length u8, UTF-8), then the message. Every other payload is a telemetry message, so spools
/// written before profiles existed replay exactly as before. The topic is made from the name with the
/// current `MQTT_PROFILE_TOPIC` at publish time, as the telemetry topic is from `MQTT_TOPIC`.
public enum SpoolEnvelope {
    static let profileMarker: UInt8 = 0x1E

    /// The record payload of a profile message.
    public static func profile(name: String, message: [UInt8]) -> [UInt8] {
        let n = Array(name.utf8.prefix(255))
        var out: [UInt8] = [profileMarker, UInt8(n.count)]
        out.reserveCapacity(2 + n.count + message.count)
        out += n
        out += message
        return out
    }

    /// The profile name (nil: telemetry) and the message of a record payload.
    public static func open(_ payload: [UInt8]) -> (profile: String?, message: ArraySlice<UInt8>) {
        guard payload.count >= 2, payload[0] == profileMarker else { return (nil, payload[...]) }
        let n = Int(payload[1])
        guard payload.count >= 2 + n else { return (nil, payload[...]) }
        return (String(decoding: payload[2..<(2 + n)], as: UTF8.self), payload[(2 + n)...])
    }
}
