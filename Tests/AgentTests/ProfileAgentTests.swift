import COSEM
import Foundation
import Log
import Platform
import Synchronization
import Testing

@testable import Agent

/// Issue 11 in the agent: the profile variables, the row payload, the spool envelope, and the runtime's
/// handling of rows (stored in order, never published ahead of a backlog, cursor after the rows).
@Suite struct ProfileAgentTests {
    static func load(_ env: [String: String]) throws(ConfigError) -> AgentConfiguration {
        try ConfigurationLoader.load(environment: ["DEVICE_ID": "m1", "DLMS_HOST": "10.0.0.1"].merging(env) { $1 },
                                     dotenv: nil, configFile: nil, knownMeasurements: nil)
    }

    static func failure(_ env: [String: String]) -> ConfigError? {
        do { _ = try load(env); return nil } catch { return error }
    }

    @Test func defaultsCollectNothingAndReportTheClock() throws {
        let c = try Self.load([:])
        let p = c.meters[0].profileSettings
        #expect(p.profiles.isEmpty && p.backfillSeconds == 7 * 86_400 && p.clockSync == .report && p.clockMaxDriftSeconds == 10)
        #expect(c.mqtt.profileTopic == "meters/{device_id}/profile/{name}")
    }

    @Test func profilesByCatalogNameDefinitionAndOBIS() throws {
        let c = try Self.load([
            "DLMS_PROFILES": #"["load_profile", "event_log", "billing=0-0:98.1.0.255", "0-0:99.2.0.255"]"#,
            "DLMS_PROFILE_BACKFILL": "36h", "DLMS_CLOCK_SYNC": "set", "DLMS_CLOCK_MAX_DRIFT_S": "30",
            "MQTT_PROFILE_TOPIC": "site/{device_id}/{name}",
        ])
        let p = c.meters[0].profileSettings
        #expect(p.profiles.map { $0.name } == ["load_profile", "event_log", "billing", "0-0:99.2.0.255"])
        #expect(p.profiles[2].obis == ObisCode(0, 0, 98, 1, 0, 255))
        #expect(p.backfillSeconds == 36 * 3600 && p.clockSync == .set && p.clockMaxDriftSeconds == 30)
        #expect(c.mqtt.profileTopic == "site/{device_id}/{name}")
        #expect(try Self.load(["DLMS_PROFILE_BACKFILL": "all"]).meters[0].profileSettings.backfillSeconds == nil)
        // --print-config shows them, and its output loads back to the same settings.
        let text = c.maskedDescription
        #expect(text.contains("DLMS_PROFILES='[\"load_profile\", \"event_log\", \"billing=0-0:98.1.0.255\", \"0-0:99.2.0.255\"]'"))
        #expect(text.contains("MQTT_PROFILE_TOPIC=site/{device_id}/{name}"))
        #expect(text.contains("DLMS_CLOCK_SYNC=set"))
    }

    @Test func badProfileSettingsNameTheVariable() {
        #expect(Self.failure(["DLMS_PROFILES": #"["load_profil"]"#])?.variable == "DLMS_PROFILES")
        #expect(Self.failure(["DLMS_PROFILES": #"["load_profile", "x=1-0:99.1.0.255"]"#])?.problem.contains("twice") == true)
        #expect(Self.failure(["DLMS_PROFILES": #"["bad name=1-0:99.1.0.255"]"#])?.variable == "DLMS_PROFILES")
        #expect(Self.failure(["DLMS_PROFILE_BACKFILL": "7 weeks"])?.variable == "DLMS_PROFILE_BACKFILL")
        #expect(Self.failure(["DLMS_CLOCK_SYNC": "always"])?.variable == "DLMS_CLOCK_SYNC")
        #expect(Self.failure(["DLMS_CLOCK_MAX_DRIFT_S": "0"])?.variable == "DLMS_CLOCK_MAX_DRIFT_S")
        #expect(Self.failure(["MQTT_PROFILE_TOPIC": "meters/{device_id}/profile"])?.problem.contains("{name}") == true)
        #expect(Self.failure(["MQTT_PROFILE_TOPIC": "meters/{device_id}/{name}/{seq}"])?.variable == "MQTT_PROFILE_TOPIC")
    }

    static let row = ProfileRowReading(
        captureTime: 1_795_060_800_000, statusWord: 0x80, statusSource: "clock_status", statusFlags: ["daylight_saving"],
        values: [MeasurementReading(name: "active_energy_import", obis: ObisCode(1, 1, 1, 8, 0), value: .number(ScaledNumber(raw: .integer(1_000_532), scaler: 0)),
                                    unitCode: 30, description: "x"),
                 MeasurementReading(name: "voltage_l1", obis: ObisCode(1, 1, 32, 7, 0), value: .number(ScaledNumber(raw: .integer(2301), scaler: -1)),
                                    unitCode: 35, description: "y")])
    static let loadProfile = ProfileConfiguration.catalog[0]

    @Test func rowPayloadHasTheContractFields() {
        let json = String(decoding: ProfilePayload.render(deviceID: "m1", profile: Self.loadProfile, row: Self.row, seq: 7),
                          as: UTF8.self)
        #expect(json == #"{"device_id":"m1","profile":"load_profile","obis":"1-0:99.1.0.255","capture_time":1795060800000,"seq":7,"status":{"word":128,"source":"clock_status","flags":["daylight_saving"]},"values":{"active_energy_import":{"obis":"1-1:1.8.0","value":1000532,"unit_code":30,"unit":"Wh","raw_value":1000532},"voltage_l1":{"obis":"1-1:32.7.0","value":230.1,"unit_code":35,"unit":"V","raw_value":2301}}}"#)
        #expect(ProfilePayload.topic(template: "meters/{device_id}/profile/{name}", deviceID: "m1", name: "load_profile")
                == "meters/m1/profile/load_profile")
    }

    @Test func envelopeMarksProfileRecordsAndLeavesTelemetryAlone() {
        let message = Array(#"{"a":1}"#.utf8)
        let wrapped = SpoolEnvelope.profile(name: "event_log", message: message)
        let opened = SpoolEnvelope.open(wrapped)
        #expect(opened.profile == "event_log" && Array(opened.message) == message)
        // A telemetry record (as every record written before profiles existed) opens as itself.
        let telemetry = SpoolEnvelope.open(message)
        #expect(telemetry.profile == nil && Array(telemetry.message) == message)
        #expect(SpoolEnvelope.open([0x1E]).profile == nil)
        #expect(SpoolEnvelope.open([0x1E, 9, 0x41]).profile == nil)  // a cut name is not trusted
    }
}

/// A reader that hands the runtime scripted profile collections after each poll.
final class ProfileFakeReader: MeterReader {
    let inner = FakeReader()
    let work = Mutex<[AfterPollWork]>([])
    let seenCursors = Mutex<[Int64?]>([])

    func poll(stop: StopSignal) -> PollResult { inner.poll(stop: stop) }
    func close() { inner.close() }

    func afterPoll(cursor: (String) -> Int64?, wallClock: Int64, stop: StopSignal) -> AfterPollWork {
        seenCursors.withLock { $0.append(cursor(ProfileAgentTests.loadProfile.cursorName)) }
        return work.withLock { $0.isEmpty ? AfterPollWork() : $0.removeFirst() }
    }
}

/// A store with cursors.
final class CursorStore: ReadingStore {
    let inner = FakeStore()
    let cursors = Mutex<[String: Int64]>([:])
    func append(timestampMilliseconds: Int64, build: (UInt64) -> [UInt8]) throws(StoreFailure) -> UInt64 {
        try inner.append(timestampMilliseconds: timestampMilliseconds, build: build)
    }
    func acknowledge(_ seq: UInt64) { inner.acknowledge(seq) }
    func pending(after seq: UInt64, limit: Int) throws(StoreFailure) -> [StoredReading] { try inner.pending(after: seq, limit: limit) }
    func commitIfDue() { inner.commitIfDue() }
    func close() { inner.close() }
    var depth: SpoolDepth { inner.depth }
    func cursor(_ name: String) -> Int64? { cursors.withLock { $0[name] } }
    func setCursor(_ name: String, _ value: Int64) { cursors.withLock { $0[name] = value } }
}

@Suite struct ProfileRuntimeTests {
    static let quiet = Logger(label: "test", factory: { _ in NoOpLogHandler() })

    func rows(_ times: [Int64]) -> [ProfileRowReading] {
        times.map { ProfileRowReading(captureTime: $0, statusWord: 0, statusSource: "clock_status", statusFlags: [], values: []) }
    }

    func setUp() -> (AgentRuntime, ProfileFakeReader, CursorStore, FakePublisher) {
        let meter = MeterConfiguration(deviceID: "m1", transport: .tcp(host: "10.0.0.1", port: 3333), pollPeriodMilliseconds: 20)
        let c = AgentConfiguration(meters: [meter], spool: SpoolSettings(replayPerSecond: 50), healthIntervalMilliseconds: 60_000)
        let reader = ProfileFakeReader()
        let store = CursorStore()
        let publisher = FakePublisher()
        let r = AgentRuntime(configuration: c, meters: [.init(configuration: meter, reader: reader, store: store)],
                             publisher: publisher, clock: FakeClock(), wallClock: { 1_728_564_123_456 }, logger: Self.quiet)
        return (r, reader, store, publisher)
    }

    func captureTimes(_ p: FakePublisher) -> [Int64] {
        p.sent.withLock { $0 }.filter { $0.topic == "meters/m1/profile/load_profile" }.map { m in
            let obj = try! JSONSerialization.jsonObject(with: Data(m.payload)) as! [String: Any]
            return (obj["capture_time"] as! NSNumber).int64Value
        }
    }

    @Test func rowsAreStoredInOrderPublishedAndTheCursorFollows() {
        let (r, reader, store, pub) = setUp()
        r.connectionChanged(connected: true)
        _ = r.replay(budget: 10)  // the start-up scan of the empty store
        let profile = ProfileAgentTests.loadProfile
        reader.work.withLock {
            $0 = [AfterPollWork(collection: ProfileCollection(profile: profile, rows: rows([1000, 2000, 3000]),
                                                              issues: [ProfileNote(counter: "profile_gaps", message: "gap")])),
                  AfterPollWork(clock: ClockObservation(driftMilliseconds: -1500),
                                collection: ProfileCollection(profile: profile, failure: ProfileNote(counter: "profile_read_failures", message: "x")))]
        }
        r.pollOnce(meter: 0, tick: Tick(index: 0, scheduled: MonotonicInstant(nanoseconds: 0), skippedSlots: 0))
        #expect(captureTimes(pub) == [1000, 2000, 3000])
        #expect(store.cursor(profile.cursorName) == 3000)
        r.pollOnce(meter: 0, tick: Tick(index: 1, scheduled: MonotonicInstant(nanoseconds: 0), skippedSlots: 0))
        #expect(reader.seenCursors.withLock { $0 } == [nil, 3000])
        let h = r.health[0].snapshot
        #expect(h.profileRows == 3 && h.clockDriftMilliseconds == -1500)
        #expect(h.profileCounters.map { $0.0 } == ["profile_gaps", "profile_read_failures"])
        let health = String(decoding: r.healthMessages()[0].payload, as: UTF8.self)
        #expect(health.contains(#""profiles":{"rows":3,"profile_gaps":1,"profile_read_failures":1}"#))
        #expect(health.contains(#""clock":{"drift_ms":-1500}"#))
        // The spool's records carry the profile, so a replay after a restart goes to the profile topic.
        let records = (try? store.pending(after: 0, limit: 10)) ?? []
        #expect(records.count == 5 && records.filter { $0.payload.first == 0x1E }.count == 3)  // 2 polls, 3 rows
    }

    @Test func aLiveRowWaitsBehindABacklogSoRowsArriveInCaptureOrder() {
        let (r, reader, store, pub) = setUp()
        let profile = ProfileAgentTests.loadProfile
        r.connectionChanged(connected: false)
        reader.work.withLock { $0 = [AfterPollWork(collection: ProfileCollection(profile: profile, rows: rows([1000, 2000])))] }
        r.pollOnce(meter: 0, tick: Tick(index: 0, scheduled: MonotonicInstant(nanoseconds: 0), skippedSlots: 0))
        #expect(captureTimes(pub).isEmpty)
        r.connectionChanged(connected: true)
        #expect(r.replay(budget: 1) == 1)  // the telemetry reading (seq 1)
        // A new row while the backlog is still being replayed: it must not overtake rows 1000 and 2000.
        reader.work.withLock { $0 = [AfterPollWork(collection: ProfileCollection(profile: profile, rows: rows([3000])))] }
        r.pollOnce(meter: 0, tick: Tick(index: 1, scheduled: MonotonicInstant(nanoseconds: 0), skippedSlots: 0))
        #expect(captureTimes(pub).isEmpty)
        _ = r.replay(budget: 100)
        #expect(captureTimes(pub) == [1000, 2000, 3000])
        #expect(store.cursor(profile.cursorName) == 3000)
        // Caught up: the next row goes out live at once.
        for m in pub.sent.withLock({ $0 }) { r.delivered(messageID: m.id) }
        _ = r.replay(budget: 100)
        reader.work.withLock { $0 = [AfterPollWork(collection: ProfileCollection(profile: profile, rows: rows([4000])))] }
        r.pollOnce(meter: 0, tick: Tick(index: 2, scheduled: MonotonicInstant(nanoseconds: 0), skippedSlots: 0))
        #expect(captureTimes(pub) == [1000, 2000, 3000, 4000])
    }

    @Test func aFailedAppendKeepsTheCursorBeforeTheRow() {
        let (r, reader, store, _) = setUp()
        let profile = ProfileAgentTests.loadProfile
        store.inner.contents.withLock { $0.failAppends = true }
        reader.work.withLock { $0 = [AfterPollWork(collection: ProfileCollection(profile: profile, rows: rows([1000, 2000])))] }
        r.pollOnce(meter: 0, tick: Tick(index: 0, scheduled: MonotonicInstant(nanoseconds: 0), skippedSlots: 0))
        #expect(store.cursor(profile.cursorName) == nil)
        #expect(r.counters.storeFailures >= 1)
    }
}
