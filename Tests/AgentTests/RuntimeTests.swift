import COSEM
import Foundation
import Log
import Platform
import Synchronization
import Testing

@testable import Agent

final class FakeReader: MeterReader {
    let script = Mutex<[PollResult]>([])
    let polls = Mutex(0)
    let closed = Mutex(false)
    let fallback: PollResult

    init(fallback: PollResult = FakeReader.ok(13540)) { self.fallback = fallback }

    static func ok(_ raw: Int64, failures: [MeasurementFailure] = []) -> PollResult {
        PollResult(
            outcome: .reading(
                measurements: [
                    MeasurementReading(
                        name: "voltage_l1", obis: ObisCode(1, 1, 32, 7, 0), value: .number(ScaledNumber(raw: .integer(raw), scaler: -2)), unitCode: 35,
                        description: "Phase A instantaneous voltage")
                ], failures: failures),
            link: LinkCounters(retransmissions: 0), rttMicroseconds: 40_000)
    }

    func poll(stop: StopSignal) -> PollResult {
        polls.withLock { $0 += 1 }
        return script.withLock { $0.isEmpty ? fallback : $0.removeFirst() }
    }

    func close() { closed.withLock { $0 = true } }
}

final class FakeStore: ReadingStore {
    struct Contents {
        var nextSeq: UInt64 = 1
        var records: [StoredReading] = []
        var acked: Set<UInt64> = []
        var closed = false
        var commits = 0
        var failAppends = false
    }
    let contents = Mutex(Contents())

    func append(timestampMilliseconds: Int64, build: (UInt64) -> [UInt8]) throws(StoreFailure) -> UInt64 {
        let result: Result<UInt64, StoreFailure> = contents.withLock { c in
            if c.failAppends { return .failure(StoreFailure("No space left on device")) }
            let seq = c.nextSeq
            c.nextSeq += 1
            c.records.append(StoredReading(seq: seq, payload: build(seq)))
            return .success(seq)
        }
        return try result.get()
    }

    func acknowledge(_ seq: UInt64) { contents.withLock { _ = $0.acked.insert(seq) } }

    func pending(after seq: UInt64, limit: Int) throws(StoreFailure) -> [StoredReading] {
        contents.withLock { c in Array(c.records.filter { $0.seq > seq && !c.acked.contains($0.seq) }.prefix(limit)) }
    }

    func commitIfDue() { contents.withLock { $0.commits += 1 } }
    func close() { contents.withLock { $0.closed = true } }

    var depth: SpoolDepth {
        contents.withLock { c in
            let pending = c.records.filter { !c.acked.contains($0.seq) }
            return SpoolDepth(pendingReadings: UInt64(pending.count), bytes: UInt64(pending.reduce(0) { $0 + $1.payload.count }))
        }
    }

    var unacknowledged: [UInt64] { contents.withLock { c in c.records.map(\.seq).filter { !c.acked.contains($0) } } }
}

final class FakePublisher: Publisher {
    struct Message: Equatable { var id: Int32; var topic: String; var payload: [UInt8]; var qos: UInt8? }
    let sent = Mutex<[Message]>([])
    let connected = Mutex(true)
    let refuse = Mutex(false)
    let nextID = Mutex<Int32>(1)
    /// Message ids to be settled by the test (delivery is asynchronous in the real client).
    let outbox = BlockingQueue<Int32>()

    func publish(topic: String, payload: [UInt8], qos: UInt8?, retain: Bool) throws(PublishFailure) -> Int32 {
        if refuse.withLock({ $0 }) { throw PublishFailure("not connected to broker.lan:8883") }
        let id = nextID.withLock { id in defer { id += 1 }; return id }
        sent.withLock { $0.append(Message(id: id, topic: topic, payload: payload, qos: qos)) }
        outbox.push(id)
        return id
    }

    var isConnected: Bool { connected.withLock { $0 } }

    var telemetry: [Message] { sent.withLock { $0.filter { $0.topic.hasSuffix("/telemetry") } } }

    /// The `seq` of each telemetry message, in publish order.
    var seqs: [UInt64] {
        telemetry.map { m in
            let obj = try! JSONSerialization.jsonObject(with: Data(m.payload)) as! [String: Any]
            return (obj["seq"] as! NSNumber).uint64Value
        }
    }
}

private func config(meters ids: [String], health: Int64 = 60_000, replayRate: Int = 50) -> AgentConfiguration {
    AgentConfiguration(
        meters: ids.map { MeterConfiguration(deviceID: $0, transport: .tcp(host: "10.0.0.1", port: 3333), pollPeriodMilliseconds: 20, maxConsecutiveErrors: 2) },
        spool: SpoolSettings(replayPerSecond: replayRate), healthIntervalMilliseconds: health)
}

private let quiet = Logger(label: "test", factory: { _ in NoOpLogHandler() })

private func tick(_ k: UInt64 = 0) -> Tick { Tick(index: k, scheduled: MonotonicInstant(nanoseconds: 0), skippedSlots: 0) }

@Suite struct RuntimeTests {
    private func runtime(_ ids: [String] = ["m1"], readers: [FakeReader]? = nil, publisher: FakePublisher = FakePublisher())
        -> (AgentRuntime, [FakeReader], [FakeStore], FakePublisher)
    {
        let readers = readers ?? ids.map { _ in FakeReader() }
        let stores = ids.map { _ in FakeStore() }
        let c = config(meters: ids)
        let meters = ids.indices.map { AgentRuntime.Meter(configuration: c.meters[$0], reader: readers[$0], store: stores[$0]) }
        let r = AgentRuntime(configuration: c, meters: meters, publisher: publisher, clock: FakeClock(), wallClock: { 1_728_564_123_456 }, logger: quiet)
        return (r, readers, stores, publisher)
    }

    @Test func pollStoresPublishesAndAcknowledges() throws {
        let (r, _, stores, pub) = runtime()
        r.connectionChanged(connected: true)
        r.pollOnce(meter: 0, tick: tick())
        let m = try #require(pub.telemetry.first)
        #expect(m.topic == "meters/m1/telemetry" && m.qos == nil)
        #expect(String(decoding: m.payload, as: UTF8.self) == #"{"device_id":"m1","ts":1728564123456,"seq":1,"measurements":{"voltage_l1":{"obis":"1-1:32.7.0","value":135.4,"unit_code":35,"unit":"V","raw_value":13540,"description":"Phase A instantaneous voltage"}}}"#)
        #expect(stores[0].unacknowledged == [1])
        r.delivered(messageID: m.id)
        #expect(stores[0].unacknowledged == [])
        #expect(r.counters.inFlight == 0)
        r.delivered(messageID: 999)  // unknown ids are ignored
    }

    @Test func duringAnOutageReadingsWaitInTheSpoolThenReplayInOrderAtABoundedRate() {
        let (r, _, stores, pub) = runtime()
        r.connectionChanged(connected: false)
        for k in 0..<10 { r.pollOnce(meter: 0, tick: tick(UInt64(k))) }
        #expect(pub.telemetry.isEmpty)
        #expect(r.replay(budget: 5) == 0)  // nothing while disconnected
        r.connectionChanged(connected: true)
        #expect(r.replay(budget: 4) == 4)
        #expect(pub.seqs == [1, 2, 3, 4])
        r.pollOnce(meter: 0, tick: tick(10))  // a live reading goes out at once, between replayed ones
        #expect(pub.seqs == [1, 2, 3, 4, 11])
        #expect(r.replay(budget: 100) == 6)
        #expect(pub.seqs == [1, 2, 3, 4, 11, 5, 6, 7, 8, 9, 10])
        #expect(r.replay(budget: 100) == 0)  // everything is in flight: nothing published twice
        for m in pub.telemetry { r.delivered(messageID: m.id) }
        #expect(stores[0].unacknowledged.isEmpty)
        #expect(r.counters.replayed == 10)
    }

    @Test func aBacklogFromAPreviousRunIsReplayed() throws {
        let (r, _, stores, pub) = runtime()
        for _ in 0..<3 { _ = try stores[0].append(timestampMilliseconds: 1) { Array("{\"seq\":\($0)}".utf8) } }
        stores[0].acknowledge(2)
        r.connectionChanged(connected: true)
        #expect(r.replay(budget: 10) == 2)
        #expect(pub.seqs == [1, 3])
    }

    @Test func refusedMessagesStayAndAreRetried() {
        let (r, _, stores, pub) = runtime()
        r.connectionChanged(connected: true)
        r.pollOnce(meter: 0, tick: tick())
        r.publishFailed(messageID: pub.telemetry[0].id, reason: "quota exceeded (reason 0x97)")
        #expect(stores[0].unacknowledged == [1])
        pub.refuse.withLock { $0 = true }
        r.pollOnce(meter: 0, tick: tick(1))  // the publish itself throws
        #expect(r.counters.publishFailures == 2)
        pub.refuse.withLock { $0 = false }
        #expect(r.replay(budget: 10) == 2)
        #expect(pub.seqs == [1, 1, 2])
        for m in pub.telemetry.suffix(2) { r.delivered(messageID: m.id) }
        #expect(stores[0].unacknowledged.isEmpty)
    }

    @Test func replayIsRoundRobinAcrossMeters() {
        let (r, _, _, pub) = runtime(["a", "b"])
        for k in 0..<3 {
            r.pollOnce(meter: 0, tick: tick(UInt64(k)))
            r.pollOnce(meter: 1, tick: tick(UInt64(k)))
        }
        r.connectionChanged(connected: true)
        #expect(r.replay(budget: 4) == 4)
        #expect(pub.telemetry.map(\.topic) == ["meters/a/telemetry", "meters/b/telemetry", "meters/a/telemetry", "meters/b/telemetry"])
    }

    @Test func failedPollsCountAndTakeTheMeterDown() {
        let reader = FakeReader(fallback: PollResult(outcome: .failed(message: "no answer from 10.0.0.1:3333 within 5000 ms"), link: LinkCounters(retransmissions: 3)))
        let (r, _, stores, pub) = runtime(readers: [reader])
        r.connectionChanged(connected: true)
        r.pollOnce(meter: 0, tick: tick())
        #expect(r.health[0].snapshot.state == .degraded)
        r.pollOnce(meter: 0, tick: tick(1))
        let h = r.health[0].snapshot
        #expect(h.state == .down && h.failedPolls == 2 && h.link.retransmissions == 6)
        #expect(h.lastError == "no answer from 10.0.0.1:3333 within 5000 ms")
        #expect(pub.telemetry.isEmpty && stores[0].unacknowledged.isEmpty)
    }

    @Test func slotsLeftToTheBackOffAreNotErrorsInARow() {
        let failed = PollResult(outcome: .failed(message: "no answer from 10.0.0.1:3333 within 5000 ms"))
        let waiting = PollResult(outcome: .backingOff(message: "meter not retried yet (back-off, next attempt in 1 s)"))
        let reader = FakeReader(fallback: failed)
        reader.script.withLock { $0 = [failed, waiting, waiting] }
        let (r, _, _, _) = runtime(readers: [reader])
        for k in 0..<3 { r.pollOnce(meter: 0, tick: tick(UInt64(k))) }
        var h = r.health[0].snapshot
        // One attempt failed, two slots were left alone: degraded, not down (MAX_CONSEC_ERRORS is 2 here).
        #expect(h.state == .degraded && h.consecutiveErrors == 1)
        #expect(h.failedPolls == 3 && h.backoffPolls == 2 && h.polls == 3)
        #expect(h.lastError == "no answer from 10.0.0.1:3333 within 5000 ms")
        r.pollOnce(meter: 0, tick: tick(3))
        h = r.health[0].snapshot
        #expect(h.state == .down && h.consecutiveErrors == 2)
    }

    @Test func partialPollsPublishWhatWasReadAndListTheRest() throws {
        let reader = FakeReader(fallback: FakeReader.ok(23000, failures: [MeasurementFailure(name: "current_l1", obis: ObisCode(1, 1, 31, 7, 0), reason: "object undefined")]))
        let (r, _, _, pub) = runtime(readers: [reader])
        r.connectionChanged(connected: true)
        r.pollOnce(meter: 0, tick: tick())
        let text = String(decoding: try #require(pub.telemetry.first).payload, as: UTF8.self)
        #expect(text.contains(#""errors":{"current_l1":{"obis":"1-1:31.7.0","error":"object undefined"}}"#))
        #expect(r.health[0].snapshot.measurementErrors == 1)
    }

    @Test func aStoreFailureIsCountedAndNothingIsPublished() {
        let (r, _, stores, pub) = runtime()
        r.connectionChanged(connected: true)
        stores[0].contents.withLock { $0.failAppends = true }
        r.pollOnce(meter: 0, tick: tick())
        #expect(r.counters.storeFailures == 1 && pub.telemetry.isEmpty)
    }

    @Test func healthMessagesPerMeter() throws {
        let (r, _, _, pub) = runtime(["a", "b"])
        r.connectionChanged(connected: true)
        r.pollOnce(meter: 0, tick: tick())
        r.publishHealth()
        let health = pub.sent.withLock { $0.filter { $0.topic.hasSuffix("/health") } }
        #expect(health.map(\.topic) == ["meters/a/health", "meters/b/health"])
        #expect(health.allSatisfy { $0.qos == 0 })
        let a = try #require(try JSONSerialization.jsonObject(with: Data(health[0].payload)) as? [String: Any])
        #expect(a["state"] as? String == "up" && a["polls"] as? Int == 1)
        #expect((a["spool"] as? [String: Any])?["pending"] as? Int == 1)
        let b = try #require(try JSONSerialization.jsonObject(with: Data(health[1].payload)) as? [String: Any])
        #expect(b["state"] as? String == "starting")
    }

    @Test func threadsPollPublishAndStopCleanly() throws {
        let stores = [FakeStore(), FakeStore()]
        let readers = [FakeReader(), FakeReader()]
        let pub = FakePublisher()
        let c = config(meters: ["a", "b"], health: 1000)
        let r = AgentRuntime(
            configuration: c,
            meters: [0, 1].map { AgentRuntime.Meter(configuration: c.meters[$0], reader: readers[$0], store: stores[$0]) },
            publisher: pub, logger: quiet)
        r.connectionChanged(connected: true)
        try r.start()
        // Play the uplink: settle every published message, until both meters have 5 readings acknowledged.
        let deadline = MonotonicInstant.now().advanced(byMilliseconds: 10_000)
        while MonotonicInstant.now() < deadline {
            if let id = pub.outbox.pop(deadline: .after(milliseconds: 100)) { r.delivered(messageID: id) }
            let done = stores.allSatisfy { s in s.contents.withLock { $0.acked.count >= 5 } }
            if done { break }
        }
        let stopStart = MonotonicInstant.now()
        r.stop()
        #expect(MonotonicInstant.now().milliseconds(since: stopStart) < 2000)
        #expect(stores.allSatisfy { s in s.contents.withLock { $0.acked.count >= 5 && $0.closed } })
        #expect(readers.allSatisfy { $0.closed.withLock { $0 } })
    }
}
