import Foundation
import Log
import Testing

@testable import Agent

@Suite struct SpoolStoreTests {
    private func tempDir() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("agent-spool-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    private let quiet = Logger(label: "test", factory: { _ in NoOpLogHandler() })

    @Test func readingsTakenDuringAnOutageSurviveARestartAndAreDeliveredOnce() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let settings = SpoolSettings(directory: dir, commitIntervalMilliseconds: 0)
        let meter = MeterConfiguration(deviceID: "m1", transport: .tcp(host: "h", port: 3333))
        let config = AgentConfiguration(meters: [meter], spool: settings)

        // First run: the broker is down; three readings go to the spool, then the process stops.
        do {
            let store = try SpoolReadingStore.open(settings, deviceID: "m1", logger: quiet)
            let pub = FakePublisher()
            let r = AgentRuntime(configuration: config, meters: [.init(configuration: meter, reader: FakeReader(), store: store)], publisher: pub, clock: FakeClock(), logger: quiet)
            for k in 0..<3 { r.pollOnce(meter: 0, tick: Tick(index: UInt64(k), scheduled: .init(nanoseconds: 0), skippedSlots: 0)) }
            #expect(pub.telemetry.isEmpty)
            #expect(store.depth.pendingReadings == 3)
            r.stop()
        }
        // Second run: the broker is up; the backlog is replayed with its original seqs and acknowledged.
        let store = try SpoolReadingStore.open(settings, deviceID: "m1", logger: quiet)
        let pub = FakePublisher()
        let r = AgentRuntime(configuration: config, meters: [.init(configuration: meter, reader: FakeReader(), store: store)], publisher: pub, clock: FakeClock(), logger: quiet)
        r.connectionChanged(connected: true)
        #expect(r.replay(budget: 10) == 3)
        #expect(pub.seqs == [1, 2, 3])
        r.pollOnce(meter: 0, tick: Tick(index: 0, scheduled: .init(nanoseconds: 0), skippedSlots: 0))
        let live = try #require(pub.seqs.last)
        #expect(live > 3)  // seq never repeats across restarts
        for m in pub.telemetry { r.delivered(messageID: m.id) }
        #expect(store.depth.pendingReadings == 0)
        #expect(try store.pending(after: 0, limit: 10).isEmpty)
        r.stop()
    }

    @Test func settingsMapToTheSpoolConfiguration() {
        let c = SpoolSettings(maxBytes: 8 << 20, maxAgeSeconds: 60, commitIntervalMilliseconds: 250).spoolConfiguration
        #expect(c.maxBytes == 8 << 20 && c.maxAgeMilliseconds == 60_000 && c.commit.everyMilliseconds == 250)
        #expect(SpoolSettings(commitIntervalMilliseconds: 0).spoolConfiguration.commit == .everyRecord)
        #expect(SpoolSettings().spoolConfiguration.maxAgeMilliseconds == nil)
    }

    @Test func anUnwritableSpoolDirectoryIsAClearError() {
        #expect(throws: StoreFailure.self) {
            _ = try SpoolReadingStore.open(SpoolSettings(directory: "/proc/no-spool-here"), deviceID: "m1")
        }
    }
}
