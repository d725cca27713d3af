import Log
import MeterLink
import Platform

/// The agent's loop: poll each meter on its schedule, build the payload with the spool's seq, append it to
/// the spool, publish it, and drop it from the spool when the broker acknowledges it. Readings the broker has
/// not taken (uplink down, process restarted, publish refused) are replayed from the spool in seq order at
/// `REPLAY_RATE` per second, between live readings.
///
/// Live readings are published only while the broker connection is up: during an outage they wait in the
/// spool (on flash, bounded by SPOOL_MAX_BYTES) instead of piling up in the MQTT client's memory.
///
/// Threads: one per meter (`ScheduleRunner`), one housekeeping thread (replay, group commits, health), and
/// the caller's, which feeds uplink events in (`delivered`, `publishFailed`, `connectionChanged`).
public final class AgentRuntime: Sendable {
    /// One meter and its parts.
    public struct Meter: Sendable {
        public var configuration: MeterConfiguration
        public var reader: any MeterReader
        public var store: any ReadingStore
        /// The meter's health, which its reader's poller also reads (the failures in a row).
        public var health: MeterHealthRecorder

        /// - Parameter health: the recorder the reader was built with; a new one when the reader reads none.
        public init(
            configuration: MeterConfiguration, reader: any MeterReader, store: any ReadingStore,
            health: MeterHealthRecorder? = nil
        ) {
            self.configuration = configuration
            self.reader = reader
            self.store = store
            self.health = health ?? MeterHealthRecorder(configuration)
        }
    }

    public let configuration: AgentConfiguration
    public let meters: [Meter]
    public let health: [MeterHealthRecorder]
    private let publisher: any Publisher
    private let clock: any ScheduleClock
    let wallClock: @Sendable () -> Int64
    let logger: Logger
    private let startedAt: MonotonicInstant
    /// Set to stop every loop; waits on it end at once.
    public let stopSignal = StopSignal()
    /// Replay keeps at most this many messages in flight (published, not yet acknowledged): it follows the
    /// broker's pace instead of piling a backlog into the MQTT client's memory, where a burst of thousands also
    /// overran a broker's per-subscriber queue (mosquitto's max_queued_messages, 1,000 by default).
    public static let replayWindow = 200

    /// Wakes housekeeping early (a backlog to replay, something to commit, a stop): it sleeps otherwise until
    /// the next thing due, so an idle gateway does not wake on a timer.
    let housekeepingBell = Doorbell()

    struct InFlight {
        var meter: Int
        var seq: UInt64
    }

    struct State {
        var connected = false
        var inFlight: [Int32: InFlight] = [:]
        /// Per meter: seqs handed to the publisher and not settled.
        var inFlightSeqs: [Set<UInt64>]
        /// Per meter: replay continues after this seq; reset to 0 to rescan after a failure.
        var replayCursor: [UInt64]
        /// Per meter: readings read from the store and not yet published, oldest first. Replay publishes
        /// them one at a time and reads the next batch after the last of them, so the spool's own cursor
        /// continues where it stopped (re-reading from the segment's top made replay slow down with depth).
        var replayQueue: [[StoredReading]]
        /// Per meter: the store had nothing after the queued batch when it was read.
        var replayExhausted: [Bool]
        /// Per meter: bumped by every rewind, so a batch read outside the lock before it is dropped.
        var replayEpoch: [UInt64]
        /// Per meter: whether the store may hold readings that are neither acknowledged nor in flight.
        var backlog: [Bool]
        var nextReplayMeter = 0

        /// Replay of `meter` goes back to before `seq` (a refused publish) or to the start (`before: 1`):
        /// what is neither acknowledged nor in flight is published again.
        mutating func rewindReplay(meter: Int, before seq: UInt64) {
            backlog[meter] = true
            replayCursor[meter] = min(replayCursor[meter], seq > 0 ? seq - 1 : 0)
            replayQueue[meter] = []
            replayExhausted[meter] = false
            replayEpoch[meter] &+= 1
        }
        var replayed: UInt64 = 0
        var publishFailures: UInt64 = 0
        var storeFailures: UInt64 = 0
        /// A reading was stored or acknowledged since housekeeping last looked: group commits are due soon.
        var storeActivity = false
        /// Replay stopped because `replayWindow` messages were in flight; the next acknowledgement rings.
        var replayBlocked = false
    }

    let state: Locked<State>
    private let threads = Locked<[PlatformThread]>([])
    /// Per meter: set when its thread has left its loop (polls done), so that `stop` can bound its wait.
    private let meterThreadDone: [StopSignal]
    private let watchdog: (notifier: SystemdNotifier, intervalMilliseconds: Int64)?
    /// Home Assistant discovery and availability, when on (or when an earlier run's configs are to be cleared).
    public let homeAssistant: HomeAssistantAnnouncer?
    /// Per meter: the plausibility rule's references. Used by the meter's own thread only.
    private let plausibility: [Locked<EnergyPlausibility>]

    public init(
        configuration: AgentConfiguration, meters: [Meter], publisher: any Publisher,
        clock: any ScheduleClock = MonotonicScheduleClock(),
        wallClock: @escaping @Sendable () -> Int64 = { WallClock.milliseconds() },
        logger: Logger = Logger(label: "dlms-bridge.agent"),
        watchdog: (notifier: SystemdNotifier, intervalMilliseconds: Int64)? = nil,
        homeAssistant: HomeAssistantAnnouncer? = nil
    ) {
        self.watchdog = watchdog
        self.homeAssistant = homeAssistant
        plausibility = meters.map { Locked(EnergyPlausibility(maxPowerWatts: $0.configuration.maxPowerWatts)) }
        self.configuration = configuration
        self.meters = meters
        self.publisher = publisher
        self.clock = clock
        self.wallClock = wallClock
        self.logger = logger
        self.startedAt = clock.now()
        meterThreadDone = meters.map { _ in StopSignal() }
        health = meters.map { $0.health }
        // Every store may hold readings of a previous run: replay starts with a full scan.
        state = Locked(
            State(
                inFlightSeqs: Array(repeating: [], count: meters.count),
                replayCursor: Array(repeating: 0, count: meters.count),
                replayQueue: Array(repeating: [], count: meters.count),
                replayExhausted: Array(repeating: false, count: meters.count),
                replayEpoch: Array(repeating: 0, count: meters.count),
                backlog: Array(repeating: true, count: meters.count)))
    }

    // MARK: one poll

    /// What the meter's thread runs at each slot: poll, record health, store, publish.
    public func pollOnce(meter index: Int, tick: Tick) {
        let meter = meters[index]
        let id = meter.configuration.deviceID
        let result = meter.reader.poll(stop: stopSignal)
        let ts = wallClock()
        switch result.outcome {
        case .failed(let message):
            let h = health[index]
            let wentDown = h.recordFailure(message, link: result.link, skippedSlots: tick.skippedSlots)
            let errors = h.snapshot.consecutiveErrors
            if wentDown {
                homeAssistant?.meterState(index, online: false)
                logger.error(
                    "meter down after \(errors) failed polls in a row: \(message)",
                    metadata: ["device_id": "\(id)"])
            } else if errors < h.maxConsecutiveErrors {
                logger.warning("poll failed: \(message)", metadata: ["device_id": "\(id)", "consecutive": "\(errors)"])
            } else {
                // Already reported down: one line per failed poll would flood the journal.
                logger.debug("poll failed: \(message)", metadata: ["device_id": "\(id)"])
            }
        case .backingOff(let message):
            health[index].recordBackOff(link: result.link, skippedSlots: tick.skippedSlots)
            logger.debug("poll not attempted: \(message)", metadata: ["device_id": "\(id)"])
        case .reading(var measurements, let failures):
            if health[index].recordSuccess(
                atMilliseconds: ts, rttMicroseconds: result.rttMicroseconds, failedMeasurements: failures.count,
                link: result.link, skippedSlots: tick.skippedSlots)
            {
                homeAssistant?.meterState(index, online: true)
                logger.notice("meter answers again", metadata: ["device_id": "\(id)"])
            }
            let flagged = plausibility[index].withLock { $0.flag(&measurements, timestampMilliseconds: ts) }
            if flagged > 0 {
                health[index].recordImplausible(flagged)
                for m in measurements {
                    guard let why = m.implausible else { continue }
                    logger.warning(
                        "implausible energy value published with a flag (\(why)): \(TelemetryPayload.text(m.value))",
                        metadata: ["device_id": "\(id)", "measurement": "\(m.name)"])
                }
            }
            homeAssistant?.observe(index, measurements: measurements)
            for f in failures {
                logger.warning("measurement not read: \(f.reason)", metadata: ["device_id": "\(id)", "measurement": "\(f.name)"])
            }
            let reading = MeterReading(
                deviceID: id, timestampMilliseconds: ts, measurements: measurements, failures: failures)
            store(reading, meter: index)
        }
        // Then at most one profile request (and the clock, at a new association): see ProfileRuntime.swift.
        let store = meter.store
        let work = meter.reader.afterPoll(cursor: { store.cursor($0) }, wallClock: wallClock(), stop: stopSignal)
        handle(work, meter: index)
    }

    private func store(_ reading: MeterReading, meter index: Int) {
        let units = configuration.unitCodes
        var payload: [UInt8] = []
        let seq: UInt64
        do {
            seq = try meters[index].store.append(timestampMilliseconds: reading.timestampMilliseconds) { seq in
                payload = TelemetryPayload.render(reading, seq: seq, units: units)
                return payload
            }
        } catch {
            state.withLock { $0.storeFailures += 1 }
            logger.error(
                "reading not stored, so not published: \(error)", metadata: ["device_id": "\(reading.deviceID)"])
            return
        }
        let ring = state.withLock { s -> Bool in
            let first = !s.storeActivity
            s.storeActivity = true
            guard s.connected else {
                s.backlog[index] = true  // replayed once the broker is back
                return first
            }
            publishLocked(&s, meter: index, seq: seq, payload: payload)
            return first
        }
        if ring { housekeepingBell.ring() }
    }

    // Publishes under the state lock, so a delivery event cannot overtake the bookkeeping of its message id.
    // A profile row's record names its profile (SpoolEnvelope); any other record is telemetry.
    func publishLocked(_ s: inout State, meter index: Int, seq: UInt64, payload: [UInt8]) {
        let id = meters[index].configuration.deviceID
        let topic: String
        var message = payload
        if payload.first == SpoolEnvelope.profileMarker {
            let opened = SpoolEnvelope.open(payload)
            if let name = opened.profile {
                topic = ProfilePayload.topic(template: configuration.mqtt.profileTopic, deviceID: id, name: name)
                message = Array(opened.message)
            } else {
                topic = TelemetryPayload.topic(template: configuration.mqtt.telemetryTopic, deviceID: id)
            }
        } else {
            topic = TelemetryPayload.topic(template: configuration.mqtt.telemetryTopic, deviceID: id)
        }
        do {
            let mid = try publisher.publish(topic: topic, payload: message, qos: nil, retain: false)
            s.inFlight[mid] = InFlight(meter: index, seq: seq)
            s.inFlightSeqs[index].insert(seq)
        } catch {
            s.publishFailures += 1
            s.rewindReplay(meter: index, before: seq)
            logger.warning("publish failed, the reading stays in the spool: \(error)", metadata: ["seq": "\(seq)"])
        }
    }

    // MARK: uplink events

    /// The broker acknowledged message `id` (PUBACK/PUBCOMP, or written for QoS 0).
    public func delivered(messageID id: Int32) {
        let (settled, ring): (InFlight?, Bool) = state.withLock { s in
            guard let f = s.inFlight.removeValue(forKey: id) else { return (nil, false) }
            s.inFlightSeqs[f.meter].remove(f.seq)
            let first = !s.storeActivity
            s.storeActivity = true
            let unblocked = s.replayBlocked && s.inFlight.count < Self.replayWindow / 2
            if unblocked { s.replayBlocked = false }
            return (f, first || unblocked)
        }
        if let settled { meters[settled.meter].store.acknowledge(settled.seq) } else { homeAssistant?.delivered(messageID: id) }
        if ring { housekeepingBell.ring() }
    }

    /// The broker refused message `id`: it stays in the spool and is replayed later.
    public func publishFailed(messageID id: Int32, reason: String) {
        state.withLock { s in
            guard let f = s.inFlight.removeValue(forKey: id) else { return }
            s.inFlightSeqs[f.meter].remove(f.seq)
            s.rewindReplay(meter: f.meter, before: f.seq)
            s.publishFailures += 1
        }
        housekeepingBell.ring()
        logger.warning("broker refused a reading, it stays in the spool: \(reason)")
    }

    /// The broker connection came up or went down.
    public func connectionChanged(connected: Bool) {
        state.withLock { s in
            s.connected = connected
            if connected {
                // Rescan from the start: whatever is neither acknowledged nor in flight is replayed.
                for i in s.replayCursor.indices { s.rewindReplay(meter: i, before: 1) }
            }
        }
        if connected {
            homeAssistant?.connected()
            housekeepingBell.ring()
        } else {
            homeAssistant?.disconnected()
        }
    }

    // MARK: replay

    /// Publishes up to `budget` backlog readings, round robin over meters, oldest first within a meter.
    /// Returns how many were published. Does nothing while disconnected. The store is read outside the
    /// runtime's lock, in batches, so a meter thread storing a live reading never waits for a flash read.
    @discardableResult
    public func replay(budget: Int) -> Int {
        guard budget > 0, !meters.isEmpty else { return 0 }
        enum Step { case published, refill(meter: Int, after: UInt64, epoch: UInt64), idle, disconnected }
        let batchSize = 64
        var published = 0
        var idleInARow = 0
        while published < budget && idleInARow < meters.count {
            let step: Step = state.withLock { s in
                guard s.connected else { return .disconnected }
                guard s.inFlight.count < Self.replayWindow else {
                    s.replayBlocked = true
                    return .disconnected  // nothing more now: the acknowledgements ring when there is room
                }
                let index = s.nextReplayMeter
                guard s.backlog[index] else {
                    s.nextReplayMeter = (index + 1) % meters.count
                    return .idle
                }
                while !s.replayQueue[index].isEmpty {
                    let r = s.replayQueue[index].removeFirst()
                    s.replayCursor[index] = r.seq
                    if s.inFlightSeqs[index].contains(r.seq) { continue }  // live, or replayed earlier
                    publishLocked(&s, meter: index, seq: r.seq, payload: r.payload)
                    s.replayed += 1
                    s.nextReplayMeter = (index + 1) % meters.count  // round robin between meters
                    return .published
                }
                if s.replayExhausted[index] {
                    s.backlog[index] = false  // scanned to the end
                    s.replayExhausted[index] = false
                    s.nextReplayMeter = (index + 1) % meters.count
                    return .idle
                }
                return .refill(meter: index, after: s.replayCursor[index], epoch: s.replayEpoch[index])
            }
            switch step {
            case .disconnected:
                return published
            case .published:
                published += 1
                idleInARow = 0
            case .idle:
                idleInARow += 1
            case .refill(let index, let after, let epoch):
                let batch: [StoredReading]
                do throws(StoreFailure) {
                    batch = try meters[index].store.pending(after: after, limit: batchSize)
                } catch {
                    state.withLock { s in
                        s.storeFailures += 1
                        s.nextReplayMeter = (index + 1) % meters.count
                    }
                    logger.error(
                        "spool unreadable for replay: \(error)",
                        metadata: ["device_id": "\(meters[index].configuration.deviceID)"])
                    idleInARow += 1
                    continue
                }
                state.withLock { s in
                    // A rewind meanwhile (reconnect, refused publish) makes this batch stale.
                    guard s.replayEpoch[index] == epoch, s.replayCursor[index] == after else { return }
                    s.replayQueue[index] = batch
                    s.replayExhausted[index] = batch.count < batchSize
                }
                idleInARow = 0
            }
        }
        return published
    }

    // MARK: health

    /// The health messages, one per meter: (topic, JSON).
    public func healthMessages() -> [(topic: String, payload: [UInt8])] {
        let now = wallClock()
        let uptime = clock.now().milliseconds(since: startedAt) / 1000
        return meters.indices.map { i in
            let id = meters[i].configuration.deviceID
            return (
                TelemetryPayload.topic(template: configuration.mqtt.healthTopic, deviceID: id),
                HealthPayload.render(
                    health[i].snapshot, spool: meters[i].store.depth, timestampMilliseconds: now, uptimeSeconds: uptime)
            )
        }
    }

    /// Publishes the health messages (QoS 0, not retained: the next one comes within HEALTH_INTERVAL_S).
    public func publishHealth() {
        guard state.withLock({ $0.connected }) else { return }
        for (topic, payload) in healthMessages() {
            _ = try? publisher.publish(topic: topic, payload: payload, qos: 0, retain: false)
        }
    }

    /// Counters of the orchestration itself.
    public var counters: (replayed: UInt64, publishFailures: UInt64, storeFailures: UInt64, inFlight: Int) {
        state.withLock { ($0.replayed, $0.publishFailures, $0.storeFailures, $0.inFlight.count) }
    }

    // MARK: threads

    /// A meter thread's stack: the session's deepest path (a poll with block transfer, decoded in place) uses a
    /// few tens of KiB; 512 KiB leaves room for the debug build and keeps a thousand threads within a 32-bit
    /// address space (the C library's 8 MiB default would not fit).
    public static let meterThreadStackBytes = 512 << 10

    /// Starts one thread per meter and the housekeeping thread.
    public func start() throws(SystemError) {
        var started: [PlatformThread] = []
        for i in meters.indices {
            let period = meters[i].configuration.pollPeriodMilliseconds
            let runner = ScheduleRunner(
                periodMilliseconds: period,
                phaseMilliseconds: ScheduleRunner.phase(ofMeter: i, of: meters.count, periodMilliseconds: period),
                clock: clock, stop: stopSignal)
            let reader = meters[i].reader
            let store = meters[i].store
            let stop = stopSignal
            let done = meterThreadDone[i]
            started.append(try PlatformThread.spawn(
                name: "meter \(meters[i].configuration.deviceID)", systemName: meters[i].configuration.deviceID,
                stackBytes: Self.meterThreadStackBytes
            ) { [self] in
                _ = runner.run(idle: { reader.idle(until: $0, stop: stop) }) { tick in pollOnce(meter: i, tick: tick) }
                // Each meter releases its association and closes its spool on its own thread: a thousand meters
                // stop in parallel, and a dead meter's release timeout costs only its own thread.
                reader.close()
                store.close()
                done.set()
            })
        }
        started.append(try PlatformThread.spawn(name: "housekeeping") { [self] in housekeeping() })
        threads.withLock { $0 = started }
    }

    /// Stops polling, closes the meter sessions (release, DISC), and commits and closes the spools, every meter
    /// on its own thread at once. The caller then stops the uplink.
    ///
    /// Bounded: a meter's poll in flight and its release have its `DLMS_TIMEOUT_MS` to end. A poll
    /// can take several timeouts (retries, a reconnect inside the poll, address probing), and the meter link
    /// cannot be interrupted from another thread, so a meter thread still busy after that is abandoned: its
    /// association is not released (the meter drops it at its inactivity timeout) and its spool is left to the
    /// crash-safe recovery of the next start (nothing acknowledged is lost). Everything else still stops
    /// cleanly, within the slowest meter's bound however many meters there are.
    public func stop() {
        stopSignal.set()
        housekeepingBell.ring()
        let stopAt = MonotonicInstant.now()
        let all = threads.withLock { t in
            defer { t.removeAll() }
            return t
        }
        for (i, m) in meters.enumerated() {
            let bound = stopAt.advanced(byMilliseconds: Int64(m.configuration.timeoutMilliseconds))
            guard i < all.count else { continue }
            if meterThreadDone[i].wait(until: bound) {
                all[i].join()
            } else {
                logger.warning(
                    "the poll in flight did not end within DLMS_TIMEOUT_MS=\(m.configuration.timeoutMilliseconds); abandoned without releasing the association (the meter drops it at its inactivity timeout)",
                    metadata: ["device_id": "\(m.configuration.deviceID)"])
            }
        }
        for t in all.dropFirst(meters.count) { t.join() }  // housekeeping: it ends at the stop signal
    }

    /// Replay, group commits, health and the watchdog, each when due. Between them the thread sleeps until the
    /// next one is due or the bell rings: replaying wakes it every 100 ms (so replay interleaves with live
    /// readings at REPLAY_RATE); after a reading is stored or acknowledged it checks the group commit every
    /// second for as long as a commit can still be pending; otherwise only the health interval and the
    /// watchdog wake it.
    private func housekeeping() {
        let rate = Double(configuration.spool.replayPerSecond)
        // The spool commits records within its commit interval and acknowledgements within 10 s.
        let commitTail = Int64(max(configuration.spool.commitIntervalMilliseconds, 10_000)) + 1000
        var tokens = 0.0
        var last = clock.now()
        var nextHealth = configuration.healthIntervalMilliseconds > 0
            ? last.advanced(byMilliseconds: configuration.healthIntervalMilliseconds) : nil
        var nextCommit: MonotonicInstant? = nil
        var commitUntil = last
        var nextWatchdog: MonotonicInstant? = watchdog == nil ? nil : last
        while !stopSignal.isSet {
            let now = clock.now()
            // WATCHDOG=1 from this loop: it stops if housekeeping (replay, commits) hangs, and systemd restarts us.
            if let watchdog, let due = nextWatchdog, now >= due {
                do { try watchdog.notifier.watchdog() } catch { logger.warning("sd_notify WATCHDOG=1 failed: \(error)") }
                nextWatchdog = now.advanced(byMilliseconds: watchdog.intervalMilliseconds)
            }
            let (replaying, activity) = state.withLock { s -> (Bool, Bool) in
                defer { s.storeActivity = false }
                return (s.connected && s.backlog.contains(true), s.storeActivity)
            }
            if replaying {
                tokens = min(max(rate, 1), tokens + rate * Double(now.milliseconds(since: last)) / 1000)
                let sent = replay(budget: Int(tokens))
                tokens -= Double(sent)
            } else {
                tokens = 0
            }
            last = now
            if activity {
                commitUntil = now.advanced(byMilliseconds: commitTail)
                if nextCommit == nil { nextCommit = now.advanced(byMilliseconds: 1000) }
            }
            if let due = nextCommit, now >= due {
                for m in meters { m.store.commitIfDue() }
                nextCommit = now < commitUntil ? now.advanced(byMilliseconds: 1000) : nil
            }
            if let due = nextHealth, now >= due {
                publishHealth()
                nextHealth = now.advanced(byMilliseconds: configuration.healthIntervalMilliseconds)
            }
            var wake = [nextWatchdog, nextHealth, nextCommit].compactMap { $0 }.min()
            if replaying {
                let step = now.advanced(byMilliseconds: 100)
                wake = wake.map { min($0, step) } ?? step
            }
            housekeepingBell.wait(until: wake)
        }
    }
}
