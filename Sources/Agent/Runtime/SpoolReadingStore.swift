import Log
import MeterLink
import Platform
import Spool

/// The Spool module's crash-safe log as the agent's `ReadingStore`: one spool directory per meter,
/// `SPOOL_DIR/<device_id>`, so each meter keeps its own seq, order and cap.
public final class SpoolReadingStore: ReadingStore {
    public let spool: Spool
    private let logger: Logger
    private let maxBytes: Int64
    /// Drops already logged (by the cap or age, and from the memory buffer while the flash failed), when they
    /// were last logged, and the problem last logged: each change of problem is logged once, drops at most
    /// once a minute (a full spool drops a segment's worth of readings every few polls).
    private let reported = Locked<(dropped: UInt64, at: MonotonicInstant?, problem: String?)>((0, nil, nil))
    private static let dropLogIntervalMilliseconds: Int64 = 60_000

    public init(spool: Spool, maxBytes: Int64 = 0, logger: Logger = Logger(label: "dlms-bridge.spool")) {
        self.spool = spool
        self.maxBytes = maxBytes
        self.logger = logger
        let s = spool.stats
        reported.withLock { $0.dropped = s.droppedByCap + s.droppedFromMemory }
    }

    /// Opens (creating when absent) the spool of meter `deviceID` under `settings.directory`.
    /// `volatileDirectory` is a RAM folder kept across restarts within a boot (systemd's RuntimeDirectory=),
    /// where the spool notes seqs it handed out while the flash could not record them.
    public static func open(
        _ settings: SpoolSettings, deviceID: String, volatileDirectory: String? = "/dev/shm",
        logger: Logger = Logger(label: "dlms-bridge.spool")
    ) throws(StoreFailure) -> SpoolReadingStore {
        let directory = Spool.directory(root: settings.directory, deviceID: deviceID)
        var configuration = settings.spoolConfiguration
        configuration.volatileDirectory = volatileDirectory
        do {
            let spool = try Spool(directory: directory, configuration: configuration)
            let stats = spool.stats
            if stats.lostInRecovery > 0 || stats.bytesTruncatedInRecovery > 0 {
                logger.warning(
                    "spool recovered from a torn or damaged tail",
                    metadata: [
                        "device_id": "\(deviceID)", "lost_readings": "\(stats.lostInRecovery)",
                        "truncated_bytes": "\(stats.bytesTruncatedInRecovery)",
                    ])
            }
            return SpoolReadingStore(spool: spool, maxBytes: settings.maxBytes, logger: logger)
        } catch {
            throw StoreFailure(error.description)
        }
    }

    public func append(timestampMilliseconds: Int64, build: (UInt64) -> [UInt8]) throws(StoreFailure) -> UInt64 {
        do {
            let receipt = try spool.append(timestamp: timestampMilliseconds, build: build)
            reportChanges(problem: receipt.problem, seq: receipt.seq)
            return receipt.seq
        } catch {
            throw StoreFailure(error.description)
        }
    }

    /// Logs what an operator must know, once per change rather than once per reading: the flash could not
    /// be written (readings held in memory), it can again, or the oldest readings were dropped.
    private func reportChanges(problem: SpoolError?, seq: UInt64) {
        let stats = spool.stats
        let dropped = stats.droppedByCap + stats.droppedFromMemory
        let text = problem?.description
        let now = MonotonicInstant.now()
        let (newDrops, problemChanged, previous) = reported.withLock { r -> (UInt64, Bool, String?) in
            let changed = r.problem != text
            let previous = r.problem
            r.problem = text
            guard dropped > r.dropped else { return (0, changed, previous) }
            if let at = r.at, now < at.advanced(byMilliseconds: Self.dropLogIntervalMilliseconds) {
                return (0, changed, previous)  // counted in health; logged with the next summary
            }
            let d = dropped - r.dropped
            r.dropped = dropped
            r.at = now
            return (d, changed, previous)
        }
        if problemChanged {
            if let text {
                // Kept in memory until the flash can be written again: not lost yet, but say so.
                logger.error("the spool cannot write to flash, readings are held in memory (bounded) until it can: \(text)",
                             metadata: ["seq": "\(seq)"])
            } else if previous != nil {
                logger.notice("the spool writes to flash again", metadata: ["seq": "\(seq)"])
            }
        }
        if newDrops > 0 {
            logger.warning(
                "spool full: the \(newDrops) oldest unsent reading(s) were dropped (SPOOL_MAX_BYTES=\(maxBytes) reached, or older than SPOOL_MAX_AGE_S), \(dropped) since start (logged at most once a minute, counted in health); the broker has been unreachable longer than the spool holds: fix the uplink, or raise SPOOL_MAX_BYTES",
                metadata: ["dropped": "\(newDrops)", "dropped_total": "\(dropped)", "seq": "\(seq)"])
        }
    }

    public func acknowledge(_ seq: UInt64) { spool.acknowledge(seq) }

    public func cursor(_ name: String) -> Int64? { spool.cursor(name) }

    public func setCursor(_ name: String, _ value: Int64) {
        if !spool.setCursor(name, value) {
            logger.error("the spool keeps no more cursors (10 at most, names of 40 bytes): \(name) is not persisted")
        }
    }

    public func pending(after seq: UInt64, limit: Int) throws(StoreFailure) -> [StoredReading] {
        do {
            return try spool.pending(after: seq, limit: limit).map { StoredReading(seq: $0.seq, payload: $0.payload) }
        } catch {
            throw StoreFailure(error.description)
        }
    }

    public func commitIfDue() {
        do { try spool.commitIfDue() } catch {
            // The same problem as the append's (a full disk fails both): once, not at every commit interval.
            let text = error.description
            let known = reported.withLock { r in
                defer { r.problem = text }
                return r.problem == text
            }
            if known { logger.debug("spool commit failed: \(text)") } else { logger.error("spool commit failed: \(text)") }
        }
    }

    public func close() {
        do { try spool.close() } catch { logger.error("spool close failed: \(error)") }
    }

    public var depth: SpoolDepth {
        let s = spool.stats
        return SpoolDepth(
            pendingReadings: UInt64(max(0, s.pendingRecords)), bytes: UInt64(max(0, s.flashBytes) + Int64(s.memoryBytes)),
            droppedReadings: s.droppedByCap + s.droppedFromMemory)
    }
}

extension SpoolSettings {
    /// The Spool module's configuration for these settings (group commit by interval, or every reading at 0).
    public var spoolConfiguration: SpoolConfiguration {
        SpoolConfiguration(
            maxBytes: maxBytes, maxAgeMilliseconds: maxAgeSeconds > 0 ? maxAgeSeconds * 1000 : nil,
            commit: commitIntervalMilliseconds == 0
                ? .everyRecord : CommitPolicy(everyMilliseconds: Int64(commitIntervalMilliseconds)))
    }
}

/// A secured meter's invocation counter lease, in the file `invocation-counter` of its spool directory
/// (the spool's recovery ignores it): the meter link's `InvocationCounterLeaseStore` over `CounterLeaseFile`.
public final class SpoolCounterLease: InvocationCounterLeaseStore {
    let file: CounterLeaseFile

    /// Opens the lease of meter `deviceID` under the spool root `root` (`SPOOL_DIR`).
    public convenience init(root: String, deviceID: String) throws(MeterError) {
        try self.init(directory: Spool.directory(root: root, deviceID: deviceID))
    }

    /// Opens the lease file in `directory` (created when absent).
    public init(directory: String) throws(MeterError) {
        do { file = try CounterLeaseFile(directory: directory) } catch {
            throw MeterError(.configuration, "the invocation counter lease in \(directory) cannot be opened: "
                + "\(error); it must be writable (a counter must never be reused after a restart)")
        }
    }

    public var path: String { file.path }

    public func loadLeaseEnd() throws(MeterError) -> UInt32? { file.leaseEnd }

    public func storeLeaseEnd(_ leaseEnd: UInt32) throws(MeterError) {
        do { try file.store(leaseEnd) } catch {
            throw MeterError(.security, "the invocation counter lease \(file.path) cannot be written: \(error); "
                + "nothing is sent until it can (a counter must never be reused after a power cut)")
        }
    }
}
