import COSEM
import MeterLink
import MeterSimulator
import Platform
import Testing

@testable import Agent

/// The collector against the simulator over loopback: one request per slot, the backfill start, the skip
/// over a wrapped buffer, the clock's drift and its correction.
@Suite(.serialized) struct ProfileCollectorTests {
    final class Bench {
        let server: SimulatorServer
        let session: MeterSession
        init(_ configuration: SimulatorConfiguration, clientSAP: UInt8 = 1) throws {
            server = SimulatorServer(configuration: configuration)
            let port = try server.listen(host: "127.0.0.1", port: 0).port
            var s = MeterSettings(endpoint: .tcp(host: "127.0.0.1", port: port), profile: .microstar,
                                  password: Secret(clientSAP == 16 ? "" : "22222222"))
            s.clientSAP = clientSAP
            s.responseTimeoutMilliseconds = 1000
            session = MeterSession(settings: s)
            try session.open()
        }
        deinit { session.close(); server.stop() }
        var requests: Int { server.counters.getRequests + server.counters.setRequests }
    }

    static let loadProfile = ProfileConfiguration.catalog[0]

    @Test func aFirstStartProbesThenReadsTheBackfillOneRequestPerSlot() throws {
        let bench = try Bench(SimulatorConfiguration(profileRows: 100, capturePeriodSeconds: 10))
        let collector = ProfileCollector(settings: ProfileSettings(profiles: [Self.loadProfile], backfillSeconds: 200, clockSync: .off),
                                         pollPeriodMilliseconds: 1000, rowsPerSlice: 8)
        var cursor: Int64? = nil
        var rows: [ProfileRowReading] = []
        let now = WallClock.milliseconds()
        // The header alone first: capture objects, capture period, the scalers in one list.
        let before = bench.requests
        #expect(collector.afterPoll(session: bench.session, cursor: { _ in cursor }, now: now).collection?.rows.isEmpty == true)
        #expect(bench.requests - before == 3)
        for _ in 0..<6 {
            let before = bench.requests
            let work = collector.afterPoll(session: bench.session, cursor: { _ in cursor }, now: now)
            #expect(bench.requests - before <= 1, "more than one request in a slot")
            if let r = work.collection?.rows.last?.captureTime { cursor = r }
            rows += work.collection?.rows ?? []
        }
        // 200 s back at 10 s: 20 or 21 rows, in 8-row slices after the probe.
        #expect(rows.count >= 20 && rows.count <= 21)
        #expect(rows.first.map { $0.captureTime >= now - 200_000 } == true)
        #expect(rows.first?.values.map { $0.name } == ["active_energy_import", "active_energy_export",
                                                         "reactive_energy_import", "reactive_energy_export"])
        #expect(rows.first?.values.first?.unitCode == 30)
    }

    @Test func aWrappedBufferIsSkippedToAndReportedAsALossWindow() throws {
        let bench = try Bench(SimulatorConfiguration(profileRows: 30, capturePeriodSeconds: 10))
        let collector = ProfileCollector(settings: ProfileSettings(profiles: [Self.loadProfile], clockSync: .off),
                                         pollPeriodMilliseconds: 1000, rowsPerSlice: 4)
        let now = WallClock.milliseconds()
        let old = (now / 10_000 - 1000) * 10_000  // 10,000 s back; the buffer holds 300 s
        var notes: [ProfileNote] = []
        var rows: [ProfileRowReading] = []
        for _ in 0..<5 {
            let work = collector.afterPoll(session: bench.session, cursor: { _ in old }, now: now)
            notes += work.collection?.issues ?? []
            rows += work.collection?.rows ?? []
            if !rows.isEmpty { break }
        }
        // The header, an empty slice, the probe, then the oldest rows with the loss reported: not 200 empty slices.
        #expect(!rows.isEmpty)
        #expect(notes.contains { $0.counter == "profile_loss_windows" })
    }

    @Test func clockDriftIsMeasuredAndSetWhenAllowed() throws {
        let bench = try Bench(SimulatorConfiguration(clockOffsetSeconds: -300))
        let report = ProfileCollector(settings: ProfileSettings(clockSync: .report), pollPeriodMilliseconds: 1000)
        let observed = try #require(report.afterPoll(session: bench.session, cursor: { _ in nil }, now: WallClock.milliseconds()).clock)
        #expect(observed.driftMilliseconds.map { abs($0 + 300_000) < 2000 } == true)
        #expect(!observed.corrected && observed.notes.contains { $0.counter == "clock_drift_reports" })
        // Once per association.
        #expect(report.afterPoll(session: bench.session, cursor: { _ in nil }, now: WallClock.milliseconds()).clock == nil)

        let setter = ProfileCollector(settings: ProfileSettings(clockSync: .set, clockMaxDriftSeconds: 5), pollPeriodMilliseconds: 1000)
        let set = try #require(setter.afterPoll(session: bench.session, cursor: { _ in nil }, now: WallClock.milliseconds()).clock)
        #expect(set.corrected && set.driftMilliseconds.map { abs($0) < 2000 } == true)
        #expect(abs(bench.server.clockOffsetMilliseconds) < 2000)
    }

    @Test func thePublicClientsRefusalIsReportedOnce() throws {
        let bench = try Bench(SimulatorConfiguration(clockOffsetSeconds: 60), clientSAP: 16)
        let setter = ProfileCollector(settings: ProfileSettings(clockSync: .set), pollPeriodMilliseconds: 1000)
        let first = try #require(setter.afterPoll(session: bench.session, cursor: { _ in nil }, now: WallClock.milliseconds()).clock)
        let refusal = try #require(first.notes.first { $0.counter == "clock_set_refusals" })
        #expect(refusal.message.contains("read-write-denied") && refusal.message.contains("client SAP 16"))
        #expect(bench.server.clockOffsetMilliseconds == 60_000)
        // A new association refuses again: counted, not logged again.
        bench.session.abort()
        try bench.session.open()
        let second = try #require(setter.afterPoll(session: bench.session, cursor: { _ in nil }, now: WallClock.milliseconds()).clock)
        #expect(second.notes.first { $0.counter == "clock_set_refusals" }?.message == "")
    }
}
