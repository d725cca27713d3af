import COSEM
import Foundation
import Testing

@testable import Agent

// The prototype README's example, verbatim (seed 000, "Datos Publicados por MQTT").
private let seedExample = """
    {
      "device_id": "microstar-001",
      "ts": 1728564123456,
      "seq": 42,
      "measurements": {
        "voltage_l1": {
          "obis": "1-1:32.7.0",
          "value": 135.4,
          "unit_code": 32,
          "raw_value": 13540,
          "description": "Phase A instantaneous voltage"
        },
        "current_l1": {
          "obis": "1-1:31.7.0",
          "value": 1.302,
          "unit_code": 33,
          "raw_value": 1302,
          "description": "Phase A instantaneous current"
        }
      }
    }
    """

// What the Microstar meter actually sends: voltage with the standard unit 35 (V), current 33 (A).
private func seedReading() -> MeterReading {
    MeterReading(
        deviceID: "microstar-001", timestampMilliseconds: 1_728_564_123_456,
        measurements: [
            MeasurementReading(
                name: "voltage_l1", obis: ObisCode(1, 1, 32, 7, 0), value: .number(ScaledNumber(raw: .integer(13540), scaler: -2)), unitCode: 35,
                description: "Phase A instantaneous voltage"),
            MeasurementReading(
                name: "current_l1", obis: ObisCode(1, 1, 31, 7, 0), value: .number(ScaledNumber(raw: .unsigned(1302), scaler: -3)), unitCode: 33,
                description: "Phase A instantaneous current"),
        ])
}

private func withoutUnitLines(_ text: String) -> String {
    text.split(separator: "\n", omittingEmptySubsequences: false)
        .filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("\"unit\":") }
        .joined(separator: "\n")
}

@Suite struct PayloadTests {
    @Test func prototypeUnitsReproduceTheSeedExampleByteForByte() {
        let bytes = TelemetryPayload.render(seedReading(), seq: 42, units: .prototype, style: .pretty)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(withoutUnitLines(text) == seedExample)
        // The added unit symbol names the real unit (volt), whatever code is published.
        #expect(text.contains("\"unit_code\": 32,\n      \"unit\": \"V\","))
        #expect(text.contains("\"unit_code\": 33,\n      \"unit\": \"A\","))
    }

    @Test func standardUnitsPublishVoltAs35AndOtherwiseMatchTheSeed() {
        let text = String(decoding: TelemetryPayload.render(seedReading(), seq: 42, style: .pretty), as: UTF8.self)
        let expected = seedExample.replacingOccurrences(of: "\"unit_code\": 32", with: "\"unit_code\": 35")
        #expect(withoutUnitLines(text) == expected)
    }

    @Test func compactIsTheSameDocumentWithoutWhitespace() throws {
        let compact = TelemetryPayload.render(seedReading(), seq: 42)
        let text = String(decoding: compact, as: UTF8.self)
        #expect(
            text == #"{"device_id":"microstar-001","ts":1728564123456,"seq":42,"measurements":{"voltage_l1":{"obis":"1-1:32.7.0","value":135.4,"unit_code":35,"unit":"V","raw_value":13540,"description":"Phase A instantaneous voltage"},"current_l1":{"obis":"1-1:31.7.0","value":1.302,"unit_code":33,"unit":"A","raw_value":1302,"description":"Phase A instantaneous current"}}}"#
        )
        // And it parses as JSON with the same values.
        let object = try #require(try JSONSerialization.jsonObject(with: Data(compact)) as? [String: Any])
        let v = try #require((object["measurements"] as? [String: Any])?["voltage_l1"] as? [String: Any])
        #expect(v["value"] as? Double == 135.4)
    }

    @Test func prototypeSwitchRewritesOnlyVolt() {
        for code in UInt8.min...UInt8.max {
            #expect(UnitCodeMapping.prototype.publishedCode(for: code) == (code == 35 ? 32 : code))
            #expect(UnitCodeMapping.standard.publishedCode(for: code) == code)
        }
    }

    @Test func failedMeasurementsAreOmittedAndListedUnderErrors() {
        var reading = seedReading()
        reading.measurements.removeLast()
        reading.failures = [MeasurementFailure(name: "current_l1", obis: ObisCode(1, 1, 31, 7, 0), reason: "object undefined")]
        let text = String(decoding: TelemetryPayload.render(reading, seq: 7), as: UTF8.self)
        #expect(text.hasSuffix(#""description":"Phase A instantaneous voltage"}},"errors":{"current_l1":{"obis":"1-1:31.7.0","error":"object undefined"}}}"#))
        #expect(!text.contains(#""current_l1":{"obis":"1-1:31.7.0","value""#))
    }

    @Test(arguments: [
        (MeasurementValue.number(ScaledNumber(raw: .integer(13540), scaler: -2)), "135.4"),
        (.number(ScaledNumber(raw: .integer(1302), scaler: -3)), "1.302"),
        (.number(ScaledNumber(raw: .integer(230), scaler: 0)), "230"),
        (.number(ScaledNumber(raw: .integer(23), scaler: 1)), "230"),
        (.number(ScaledNumber(raw: .integer(13500), scaler: -2)), "135.0"),
        (.number(ScaledNumber(raw: .integer(-5), scaler: -1)), "-0.5"),
        (.number(ScaledNumber(raw: .unsigned(UInt64.max), scaler: 0)), "18446744073709551615"),
        (.number(ScaledNumber(raw: .integer(Int64.max), scaler: 2)), "9.223372036854776e+20"),
        (.number(ScaledNumber(raw: .integer(1), scaler: -5)), "1e-05"),
        (.number(ScaledNumber(raw: .double(.nan), scaler: 0)), "null"),
        (.number(ScaledNumber(raw: .double(.infinity), scaler: 0)), "null"),
        (.number(ScaledNumber(raw: .double(2.5), scaler: 1)), "25.0"),
        (.text("ab\"c"), "\"ab\\\"c\""),
        (.boolean(true), "true"),
    ])
    func scaledValues(value: MeasurementValue, expected: String) {
        var json = JSONWriter()
        TelemetryPayload.writeValue(value, into: &json)
        #expect(json.output == expected)
    }

    @Test func stringsAreEscapedPerRFC8259() throws {
        var json = JSONWriter()
        let nasty = "q\"b\\s/\n\r\t\u{08}\u{0C}\u{01}\u{1F}é€😀"
        json.beginArray(); json.string(nasty); json.endArray()
        #expect(json.output == #"["q\"b\\s/\n\r\t\b\f\u0001\u001fé€😀"]"#)
        let parsed = try JSONSerialization.jsonObject(with: Data(json.bytes)) as? [String]
        #expect(parsed == [nasty])
    }

    @Test func writerPlacesCommasInNestedContainers() {
        var json = JSONWriter()
        json.beginObject()
        json.key("a"); json.beginArray(); json.integer(1); json.beginObject(); json.endObject(); json.null(); json.endArray()
        json.member("b", "x")
        json.key("c"); json.beginArray(); json.endArray()
        json.endObject()
        #expect(json.output == #"{"a":[1,{},null],"b":"x","c":[]}"#)
    }

    @Test func topicTemplate() {
        #expect(TelemetryPayload.topic(template: "meters/{device_id}/telemetry", deviceID: "m-1") == "meters/m-1/telemetry")
        #expect(TelemetryPayload.topic(template: "a/{device_id}/{device_id}", deviceID: "x") == "a/x/x")
    }
}
