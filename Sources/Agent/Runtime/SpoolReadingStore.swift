import Logging
import Spool

/// The Spool module's crash-safe log as the agent's `ReadingStore`: one spool directory per meter,
/// `SPOOL_DIR/<device_id>`, so each meter keeps its own seq, order and cap.
public final class SpoolReadingStore: ReadingStore {
    public let spool: Spool
    private let logger: Logger

    public init(spool: Spool, logger: Logger = Logger(label: "dlms-bridge.spool")) {
        self.spool = spool
        self.logger = logger
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
            return SpoolReadingStore(spool: spool, logger: logger)
        } catch {
            throw StoreFailure(error.description)
        }
    }

    public func append(timestampMilliseconds: Int64, build: (UInt64) -> [UInt8]) throws(StoreFailure) -> UInt64 {
        do {
            let receipt = try spool.append(timestamp: timestampMilliseconds, build: build)
            if let problem = receipt.problem {
                // Kept in memory until the flash can be written again: not lost, but say so.
                logger.warning("reading held in memory, the spool cannot write to flash: \(problem)", metadata: ["seq": "\(receipt.seq)"])
            }
            return receipt.seq
        } catch {
            throw StoreFailure(error.description)
        }
    }

    public func acknowledge(_ seq: UInt64) { spool.acknowledge(seq) }

    public func pending(after seq: UInt64, limit: Int) throws(StoreFailure) -> [StoredReading] {
        do {
            return try spool.pending(after: seq, limit: limit).map { StoredReading(seq: $0.seq, payload: $0.payload) }
        } catch {
            throw StoreFailure(error.description)
        }
    }

    public func commitIfDue() {
        do { try spool.commitIfDue() } catch { logger.error("spool commit failed: \(error)") }
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
