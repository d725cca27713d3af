import COSEM
/// The telemetry message: exactly the prototype's JSON, plus a `unit` symbol after `unit_code`, plus an
/// `errors` object only when some measurements of the poll failed.
///
/// ```json
/// {"device_id":"microstar-001","ts":1728564123456,"seq":42,"measurements":{"voltage_l1":{"obis":"1-1:32.7.0",
///  "value":135.4,"unit_code":35,"unit":"V","raw_value":13540,"description":"Phase A instantaneous voltage"}}}
/// ```
///
/// Failed measurements are left out of `measurements` (a consumer of the prototype's format never sees a
/// fake value) and listed as `"errors": {"name": {"obis": "...", "error": "..."}}`.
public enum TelemetryPayload {
    /// The UTF-8 JSON of `reading` with sequence number `seq` (the spool's, never repeated across restarts).
    public static func render(
        _ reading: MeterReading, seq: UInt64, units: UnitCodeMapping = .standard,
        style: JSONWriter.Style = .compact
    ) -> [UInt8] {
        var json = JSONWriter(style: style, reservingCapacity: 96 + 192 * reading.measurements.count)
        json.beginObject()
        json.member("device_id", reading.deviceID)
        json.member("ts", reading.timestampMilliseconds)
        json.member("seq", seq)
        json.key("measurements")
        json.beginObject()
        for m in reading.measurements { writeMeasurement(m, units: units, into: &json, details: true) }
        json.endObject()
        if !reading.failures.isEmpty {
            json.key("errors")
            json.beginObject()
            for f in reading.failures {
                json.key(f.name)
                json.beginObject()
                json.member("obis", f.obis?.description)
                json.member("error", f.reason)
                json.endObject()
            }
            json.endObject()
        }
        json.endObject()
        return json.bytes
    }

    /// One measurement as a member of `measurements` (telemetry, `details`: its description and plausibility
    /// flag) or of a profile row's `values` (without them): the same value, unit and raw fields in both.
    static func writeMeasurement(_ m: MeasurementReading, units: UnitCodeMapping, into json: inout JSONWriter,
                                 details: Bool) {
        json.key(m.name)
        json.beginObject()
        json.member("obis", m.obis.description)
        json.key("value")
        writeValue(m.value, into: &json)
        json.key("unit_code")
        if let code = m.unitCode { json.integer(units.publishedCode(for: code)) } else { json.null() }
        // The symbol always names the real unit, even when the prototype's code is published.
        json.member("unit", m.unitCode.flatMap { UnitSymbols.symbol(forCode: $0) })
        json.key("raw_value")
        writeRaw(m.value, into: &json)
        if details {
            json.member("description", m.description)
            // Only on a flagged value: the prototype's consumers never see the member otherwise.
            if let why = m.implausible { json.member("implausible", why) }
        }
        json.endObject()
    }

    /// The topic for `deviceID` from a template such as `meters/{device_id}/telemetry`.
    public static func topic(template: String, deviceID: String) -> String {
        template.replacingAll("{device_id}", with: deviceID)
    }

    /// A value as the payload writes it, for log lines.
    static func text(_ value: MeasurementValue) -> String {
        var json = JSONWriter()
        writeValue(value, into: &json)
        return json.output
    }

    /// The member `value`: the scaled number, exact where it is an integer.
    static func writeValue(_ value: MeasurementValue, into json: inout JSONWriter) {
        switch value {
        case .number(let n): json.number(n.value)
        case .text(let s): json.string(s)
        case .boolean(let b): json.bool(b)
        }
    }

    /// The member `raw_value`: the number as the meter sent it.
    static func writeRaw(_ value: MeasurementValue, into json: inout JSONWriter) {
        switch value {
        case .number(let n): json.number(n.raw)
        case .text(let s): json.string(s)
        case .boolean(let b): json.bool(b)
        }
    }
}

extension String {
    /// Every occurrence of `target` replaced (no Foundation here).
    func replacingAll(_ target: String, with replacement: String) -> String {
        let t = Array(target.utf8)
        guard !t.isEmpty else { return self }
        let s = Array(self.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            if i + t.count <= s.count && s[i..<(i + t.count)].elementsEqual(t) {
                out.append(contentsOf: replacement.utf8)
                i += t.count
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
