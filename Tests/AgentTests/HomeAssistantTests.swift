import COSEM
import Foundation
import MeterLink
import Platform
import Synchronization
import Testing

@testable import Agent

/// A publisher that records everything, retain flag included.
private final class RecordingPublisher: Publisher {
    struct Message { var id: Int32; var topic: String; var payload: [UInt8]; var retain: Bool; var qos: UInt8? }
    let sent = Mutex<[Message]>([])
    let nextID = Mutex<Int32>(1)

    func publish(topic: String, payload: [UInt8], qos: UInt8?, retain: Bool) throws(PublishFailure) -> Int32 {
        let id = nextID.withLock { id in defer { id += 1 }; return id }
        sent.withLock { $0.append(Message(id: id, topic: topic, payload: payload, retain: retain, qos: qos)) }
        return id
    }

    var isConnected: Bool { true }
    var messages: [Message] { sent.withLock { $0 } }
    func clear() { sent.withLock { $0.removeAll() } }
    func last(_ topic: String) -> Message? { messages.last { $0.topic == topic } }
}

private func json(_ bytes: [UInt8]) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
}

private func temporaryDirectory() -> String {
    let dir = NSTemporaryDirectory() + "ha-tests-" + UUID().uuidString
    try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

private func configuration(_ meters: [(String, [String])], health: Int64 = 60_000, enabled: Bool = true)
    -> AgentConfiguration
{
    AgentConfiguration(
        meters: meters.map { MeterConfiguration(deviceID: $0.0, transport: .tcp(host: "127.0.0.1", port: 3333), measurements: $0.1) },
        mqtt: MQTTConfiguration(clientID: "dlms-bridge-gw1"), healthIntervalMilliseconds: health,
        homeAssistant: HomeAssistantSettings(enabled: enabled))
}

/// Home Assistant's sensor rules, as its documentation states them: the state classes and units each device
/// class accepts.
private let allowed: [String: (states: Set<String>, units: Set<String?>)] = [
    "voltage": (["measurement"], ["V", "mV", "kV"]),
    "current": (["measurement"], ["A", "mA"]),
    "frequency": (["measurement"], ["Hz", "kHz"]),
    "power": (["measurement"], ["W", "kW"]),
    "reactive_power": (["measurement"], ["var", "kvar"]),
    "apparent_power": (["measurement"], ["VA", "kVA"]),
    "power_factor": (["measurement"], [nil, "%"]),
    "energy": (["total", "total_increasing"], ["Wh", "kWh", "MWh"]),
    "reactive_energy": (["total", "total_increasing"], ["varh", "kvarh"]),
    "duration": (["measurement", "total", "total_increasing"], ["ms", "s", "min", "h"]),
]

@Suite struct HomeAssistantDiscoveryTests {
    let builder = DiscoveryBuilder(
        prefix: "homeassistant", gatewayName: "dlms-bridge-gw1", gatewayStatusTopic: "meters/m1/status",
        softwareVersion: "0.1.0", mqtt: MQTTConfiguration(), healthEntities: true)

    @Test func everyCatalogMeasurementGetsAllowedClasses() throws {
        let meter = MeterConfiguration(deviceID: "m1", transport: .tcp(host: "h", port: 1))
        let all = MeasurementCatalog.standard.measurements
        let messages = builder.meterMessages(meter, measurements: all, identity: MeterIdentity())
        var seen = 0
        for m in messages where !m.topic.contains("/health_") {
            let c = try json(m.payload)
            seen += 1
            let state = c["state_class"] as? String
            let unit = c["unit_of_measurement"] as? String
            if let dc = c["device_class"] as? String {
                let rule = try #require(allowed[dc], "device class \(dc) of \(m.topic) not in Home Assistant's list")
                if let state { #expect(rule.states.contains(state), "\(m.topic): \(dc) with \(state)") }
                #expect(rule.units.contains(unit), "\(m.topic): \(dc) in \(unit ?? "no unit")")
            }
            #expect(!(c["device_class"] as? String == "energy" && state == "measurement"))
        }
        // Registers make entities; the clock, serial number, firmware and profiles do not.
        #expect(seen == all.filter { $0.kind.hasScalerUnit }.count)
    }

    @Test func aMeasurementConfigHasEveryFieldHomeAssistantNeeds() throws {
        let meter = MeterConfiguration(deviceID: "m1", transport: .tcp(host: "h", port: 1))
        let catalog = MeasurementCatalog.standard
        let messages = builder.meterMessages(
            meter, measurements: [catalog["active_energy_import"]!, catalog["active_energy_net"]!],
            identity: MeterIdentity(serialNumber: "000019001234", firmwareVersion: "MST-SIM 1.0.0"))
        let energy = try #require(messages.first { $0.topic == "homeassistant/sensor/m1/active_energy_import/config" })
        let c = try json(energy.payload)
        #expect(c["unique_id"] as? String == "dlms-bridge_m1_active_energy_import")
        #expect(c["state_topic"] as? String == "meters/m1/telemetry")
        #expect(c["device_class"] as? String == "energy" && c["state_class"] as? String == "total_increasing")
        #expect(c["unit_of_measurement"] as? String == "Wh")
        #expect(c["availability_mode"] as? String == "all")
        let availability = try #require(c["availability"] as? [[String: String]])
        #expect(availability.map { $0["topic"] } == ["meters/m1/status", "meters/m1/availability"])
        let device = try #require(c["device"] as? [String: Any])
        #expect(device["identifiers"] as? [String] == ["dlms-bridge_m1"])
        #expect(device["name"] as? String == "m1")
        #expect(device["serial_number"] as? String == "000019001234")
        #expect(device["sw_version"] as? String == "MST-SIM 1.0.0")
        #expect(device["manufacturer"] as? String == "MST" && device["model"] as? String == "SIM 1.0.0")
        #expect(device["via_device"] as? String == "dlms-bridge_dlms-bridge-gw1")
        let net = try json(try #require(messages.first { $0.topic.hasSuffix("/active_energy_net/config") }).payload)
        #expect(net["state_class"] as? String == "total", "a bidirectional register may go down")
        let health = try json(try #require(messages.first { $0.topic.hasSuffix("/health_polls/config") }).payload)
        #expect(health["entity_category"] as? String == "diagnostic")
        #expect(health["state_topic"] as? String == "meters/m1/health")
        #expect((health["availability"] as? [[String: String]])?.map { $0["topic"] } == ["meters/m1/status"])
    }

    @Test func healthEntitiesOnlyWhenHealthIsPublished() {
        var b = builder
        b.healthEntities = false
        let meter = MeterConfiguration(deviceID: "m1", transport: .tcp(host: "h", port: 1))
        let messages = b.meterMessages(meter, measurements: [MeasurementCatalog.standard["voltage_l1"]!], identity: MeterIdentity())
        #expect(messages.map { $0.topic } == ["homeassistant/sensor/m1/voltage_l1/config"])
    }

    @Test func identifiersAreSafeInTopics() {
        #expect(DiscoveryBuilder.identifier("meter.1:a") == "meter_1_a")
        #expect(DiscoveryBuilder.identifier("ok_id-2") == "ok_id-2")
    }

    @Test func logicalDeviceNamesGiveManufacturerAndModel() {
        #expect(MeterIdentity(firmwareVersion: "LGZ1030123456789").manufacturerAndModel?.manufacturer == "Landis+Gyr")
        #expect(MeterIdentity(firmwareVersion: "LGZ1030123456789").manufacturerAndModel?.model == "1030123456789")
        #expect(MeterIdentity(firmwareVersion: "1.0.7").manufacturerAndModel == nil)
        #expect(MeterIdentity().manufacturerAndModel == nil)
    }

    @Test func theValueTemplatePicksTheMeasurementAndSkipsFlaggedOnes() {
        let t = DiscoveryBuilder.valueTemplate(key: "active_energy_import")
        #expect(t.contains("value_json.measurements.get('active_energy_import')"))
        #expect(t.contains("implausible"))
    }
}

@Suite struct HomeAssistantAnnouncerTests {
    @Test func connectPublishesRetainedConfigsAvailabilityAndRecordsThem() throws {
        let dir = temporaryDirectory()
        let publisher = RecordingPublisher()
        let config = configuration([("m1", ["voltage_l1", "serial_number"]), ("m2", ["active_energy_import"])])
        let a = HomeAssistantAnnouncer(configuration: config, softwareVersion: "0.1.0", publisher: publisher, stateDirectory: dir)
        a.connected()
        let topics = publisher.messages.map { $0.topic }
        #expect(topics.contains("homeassistant/binary_sensor/dlms-bridge-gw1/status/config"))
        #expect(topics.contains("homeassistant/sensor/m1/voltage_l1/config"))
        #expect(topics.contains("homeassistant/sensor/m2/active_energy_import/config"))
        #expect(!topics.contains("homeassistant/sensor/m1/serial_number/config"))
        #expect(publisher.last("meters/m1/availability")?.payload == Array("online".utf8))
        #expect(publisher.messages.allSatisfy { $0.retain && $0.qos == 1 })
        let recorded = try DiscoveryStateFile(directory: dir).load()
        #expect(recorded == Set(topics.filter { $0.hasSuffix("/config") }))
    }

    @Test func aRemovedMeterIsClearedAndForgottenOnceAcknowledged() throws {
        let dir = temporaryDirectory()
        let first = RecordingPublisher()
        HomeAssistantAnnouncer(
            configuration: configuration([("m1", ["voltage_l1"]), ("m2", ["voltage_l1", "current_l1"])]),
            softwareVersion: nil, publisher: first, stateDirectory: dir
        ).connected()
        // The next start: m2 is gone, m1 lost current_l1... and kept voltage_l1.
        let second = RecordingPublisher()
        let a = HomeAssistantAnnouncer(configuration: configuration([("m1", ["voltage_l1"])]), softwareVersion: nil,
                                       publisher: second, stateDirectory: dir)
        a.connected()
        let clears = second.messages.filter { $0.payload.isEmpty }
        #expect(Set(clears.map { $0.topic }) == Set(first.messages.map { $0.topic }.filter { $0.hasPrefix("homeassistant/sensor/m2/") }))
        #expect(clears.allSatisfy { $0.retain })
        // Until acknowledged they stay recorded (a crash now clears them again at the next start).
        #expect(try DiscoveryStateFile(directory: dir).load().contains(clears[0].topic))
        for c in clears { #expect(a.delivered(messageID: c.id)) }
        let recorded = try DiscoveryStateFile(directory: dir).load()
        #expect(recorded.allSatisfy { !$0.hasPrefix("homeassistant/sensor/m2/") })
        #expect(recorded.contains("homeassistant/sensor/m1/voltage_l1/config"))
        #expect(!a.delivered(messageID: 9999), "an id that is not a clear is not ours")
    }

    @Test func turningDiscoveryOffClearsEverythingOnce() throws {
        let dir = temporaryDirectory()
        HomeAssistantAnnouncer(configuration: configuration([("m1", ["voltage_l1"])]), softwareVersion: nil,
                               publisher: RecordingPublisher(), stateDirectory: dir).connected()
        let publisher = RecordingPublisher()
        let off = HomeAssistantAnnouncer(configuration: configuration([("m1", ["voltage_l1"])], enabled: false),
                                         softwareVersion: nil, publisher: publisher, stateDirectory: dir)
        #expect(off.isActive)
        off.connected()
        #expect(!publisher.messages.isEmpty && publisher.messages.allSatisfy { $0.payload.isEmpty })
        for m in publisher.messages { off.delivered(messageID: m.id) }
        #expect(try DiscoveryStateFile(directory: dir).load().isEmpty)
        let again = HomeAssistantAnnouncer(configuration: configuration([("m1", ["voltage_l1"])], enabled: false),
                                           softwareVersion: nil, publisher: RecordingPublisher(), stateDirectory: dir)
        #expect(!again.isActive)
    }

    @Test func meterAvailabilityFollowsItsState() {
        let publisher = RecordingPublisher()
        let a = HomeAssistantAnnouncer(configuration: configuration([("m1", ["voltage_l1"])]), softwareVersion: nil,
                                       publisher: publisher, stateDirectory: nil)
        a.meterState(0, online: false)  // not connected: sent at the connect
        #expect(publisher.messages.isEmpty)
        a.connected()
        #expect(publisher.last("meters/m1/availability")?.payload == Array("offline".utf8))
        a.meterState(0, online: true)
        #expect(publisher.last("meters/m1/availability")?.payload == Array("online".utf8))
        publisher.clear()
        a.meterState(0, online: true)
        #expect(publisher.messages.isEmpty, "no repeat without a change")
    }

    @Test func aNewSerialNumberRepublishesTheMetersConfigs() throws {
        let publisher = RecordingPublisher()
        let a = HomeAssistantAnnouncer(configuration: configuration([("m1", ["voltage_l1", "serial_number"])]),
                                       softwareVersion: nil, publisher: publisher, stateDirectory: nil)
        a.connected()
        publisher.clear()
        let serial = MeasurementReading(name: "serial_number", obis: ObisCode(0, 0, 96, 1, 0, 255), value: .text("123"),
                                        unitCode: nil, description: "Meter serial number")
        a.observe(0, measurements: [serial])
        let config = try json(try #require(publisher.last("homeassistant/sensor/m1/voltage_l1/config")).payload)
        #expect((config["device"] as? [String: Any])?["serial_number"] as? String == "123")
        publisher.clear()
        a.observe(0, measurements: [serial])
        #expect(publisher.messages.isEmpty, "the same identity is not published again")
    }
}

@Suite struct PlausibilityTests {
    @Test func aRegisterGoingBackwardsIsFlaggedThenFollowedAfterThreeInARow() {
        var p = EnergyPlausibility(maxPowerWatts: nil)
        #expect(p.check(key: "e", quantity: .activeEnergy, value: 1000, timestampMilliseconds: 0) == nil)
        #expect(p.check(key: "e", quantity: .activeEnergy, value: 1001, timestampMilliseconds: 1000) == nil)
        #expect(p.check(key: "e", quantity: .activeEnergy, value: 900, timestampMilliseconds: 2000) == "backwards")
        #expect(p.check(key: "e", quantity: .activeEnergy, value: 1002, timestampMilliseconds: 3000) == nil,
                "compared with the last plausible value, not the flagged one")
        #expect(p.check(key: "e", quantity: .activeEnergy, value: 10, timestampMilliseconds: 4000) == "backwards")
        #expect(p.check(key: "e", quantity: .activeEnergy, value: 11, timestampMilliseconds: 5000) == "backwards")
        #expect(p.check(key: "e", quantity: .activeEnergy, value: 12, timestampMilliseconds: 6000) == "backwards")
        #expect(p.check(key: "e", quantity: .activeEnergy, value: 13, timestampMilliseconds: 7000) == nil,
                "a reset register is followed after three flagged values in a row")
    }

    @Test func aJumpBeyondTheMaximumPowerIsFlagged() {
        var p = EnergyPlausibility(maxPowerWatts: 3600)  // 1 Wh per second at most
        #expect(p.check(key: "e", quantity: .activeEnergy, value: 0, timestampMilliseconds: 0) == nil)
        // 10 s: at most 10 Wh, plus a second and one step of resolution: 12 passes, 13 does not.
        var q = p
        #expect(q.check(key: "e", quantity: .activeEnergy, value: 13, timestampMilliseconds: 10_000) == "jump")
        #expect(p.check(key: "e", quantity: .activeEnergy, value: 12, timestampMilliseconds: 10_000) == nil)
        #expect(p.check(key: "e", quantity: .activeEnergy, value: 24, timestampMilliseconds: 20_000) == nil)
        #expect(p.check(key: "e", quantity: .activeEnergy, value: 100_000, timestampMilliseconds: 30_000) == "jump")
        #expect(p.check(key: "e", quantity: .activeEnergy, value: 30, timestampMilliseconds: 31_000) == nil)
    }

    @Test func theNetRegisterMayGoDownAndPowersAreNotChecked() {
        var p = EnergyPlausibility(maxPowerWatts: nil)
        #expect(p.check(key: "n", quantity: .netActiveEnergy, value: 1000, timestampMilliseconds: 0) == nil)
        #expect(p.check(key: "n", quantity: .netActiveEnergy, value: 990, timestampMilliseconds: 1000) == nil)
        #expect(p.check(key: "w", quantity: .activePower, value: 5, timestampMilliseconds: 0) == nil)
        #expect(p.check(key: "w", quantity: .activePower, value: 1, timestampMilliseconds: 1) == nil)
    }

    @Test func flaggedValuesArePublishedWithTheFlag() {
        var p = EnergyPlausibility(maxPowerWatts: nil)
        func reading(_ raw: Int64) -> [MeasurementReading] {
            [MeasurementReading(name: "active_energy_import", obis: ObisCode(1, 1, 1, 8, 0), value: .number(ScaledNumber(raw: .integer(raw), scaler: 0)),
                                unitCode: 30, description: "Active energy import (+A)"),
             MeasurementReading(name: "voltage_l1", obis: ObisCode(1, 1, 32, 7, 0), value: .number(ScaledNumber(raw: .integer(2300), scaler: -1)),
                                unitCode: 35, description: "Phase A instantaneous voltage")]
        }
        var first = reading(500)
        #expect(p.flag(&first, timestampMilliseconds: 0) == 0)
        var second = reading(400)
        #expect(p.flag(&second, timestampMilliseconds: 1000) == 1)
        #expect(second[0].implausible == "backwards" && second[1].implausible == nil)
        let text = String(decoding: TelemetryPayload.render(
            MeterReading(deviceID: "m1", timestampMilliseconds: 1000, measurements: second), seq: 2), as: UTF8.self)
        #expect(text.contains(#""description":"Active energy import (+A)","implausible":"backwards"}"#))
        let plain = String(decoding: TelemetryPayload.render(
            MeterReading(deviceID: "m1", timestampMilliseconds: 0, measurements: first), seq: 1), as: UTF8.self)
        #expect(!plain.contains("implausible"), "the prototype's payload is unchanged for plausible values")
    }
}

@Suite struct HomeAssistantConfigTests {
    let base = ["DEVICE_ID": "m1", "DLMS_HOST": "127.0.0.1"]

    @Test func discoveryIsOffByDefaultAndConfigurable() throws {
        let plain = try ConfigurationLoader.load(environment: base)
        #expect(plain.homeAssistant == HomeAssistantSettings(enabled: false, prefix: "homeassistant"))
        #expect(plain.mqtt.availabilityTopic == "meters/{device_id}/availability")
        #expect(plain.meters[0].maxPowerWatts == nil)
        let on = try ConfigurationLoader.load(environment: base.merging(
            ["HA_DISCOVERY": "true", "HA_DISCOVERY_PREFIX": "ha/discovery", "MAX_POWER_W": "17250"]) { $1 })
        #expect(on.homeAssistant == HomeAssistantSettings(enabled: true, prefix: "ha/discovery"))
        #expect(on.meters[0].maxPowerWatts == 17250)
        #expect(on.maskedDescription.contains("HA_DISCOVERY=true\n"))
    }

    @Test(arguments: [("HA_DISCOVERY_PREFIX", "home/#"), ("HA_DISCOVERY_PREFIX", "/homeassistant"),
                      ("HA_DISCOVERY", "maybe"), ("MAX_POWER_W", "-5"), ("MAX_POWER_W", "lots")])
    func badValuesAreRefusedByName(name: String, value: String) {
        do {
            _ = try ConfigurationLoader.load(environment: base.merging([name: value]) { $1 })
            Issue.record("\(name)=\(value) was accepted")
        } catch {
            #expect(error.variable == name)
        }
    }
}

@Suite struct CustomMeasurementConfigTests {
    let base = ["DEVICE_ID": "m1", "DLMS_HOST": "127.0.0.1"]

    @Test func definedMeasurementsMayBeListedAndPrintBack() throws {
        let c = try ConfigurationLoader.load(
            environment: base.merging([
                "DLMS_DEFINE": #"["event_code=0-0:96.11.0.255:data:Event code", "u2=1-0:52.7.0:register"]"#,
                "DLMS_MEASUREMENTS": #"["voltage_l1", "event_code", "u2"]"#,
            ]) { $1 }, knownMeasurements: Set(MeasurementCatalog.standard.keys))
        #expect(c.meters[0].customMeasurements.map { $0.key } == ["event_code", "u2"])
        #expect(c.meters[0].customMeasurements[1].quantity == .voltage)
        let reread = try ConfigurationLoader.load(environment: [:], configFile: ConfigText(name: "x", text: c.maskedDescription),
                                                  knownMeasurements: Set(MeasurementCatalog.standard.keys))
        #expect(reread.meters[0].customMeasurements == c.meters[0].customMeasurements)
    }

    @Test func unknownNamesAndBadDefinitionsAreRefused() {
        for (define, list) in [(nil, #"["event_code"]"#), (#"["event_code=0-0:96.11.0.255"]"#, #"["event_code"]"#),
                               ("event_code=0-0:96.11.0.255:data", #"["voltage_l1"]"#)] {
            var env = base
            env["DLMS_MEASUREMENTS"] = list
            if let define { env["DLMS_DEFINE"] = define }
            do {
                _ = try ConfigurationLoader.load(environment: env, knownMeasurements: Set(MeasurementCatalog.standard.keys))
                Issue.record("accepted \(env)")
            } catch {
                #expect(error.variable == (define == nil ? "DLMS_MEASUREMENTS" : "DLMS_DEFINE"), "\(error)")
            }
        }
    }
}
