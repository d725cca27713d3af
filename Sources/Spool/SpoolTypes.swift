/// One stored reading.
public struct SpoolRecord: Sendable, Equatable {
    /// The spool's sequence number: increasing, never repeated across restarts of the same spool directory.
    public var seq: UInt64
    /// Milliseconds since the Unix epoch when the reading was appended (from the caller or the wall clock).
    public var timestamp: Int64
    public var payload: [UInt8]

    public init(seq: UInt64, timestamp: Int64, payload: [UInt8]) {
        self.seq = seq
        self.timestamp = timestamp
        self.payload = payload
    }
}

/// The result of an append: the reading's seq, and whether it reached flash.
public struct AppendReceipt: Sendable, Equatable {
    public var seq: UInt64
    /// False while the flash cannot be written: the reading is held in memory (bounded) and written
    /// later, in order, when the file system recovers; it is lost if the process dies first.
    public var onFlash: Bool
    /// Why the reading is in memory (log it on change, report it on the health topic); nil when stored.
    public var problem: SpoolError?
}

/// Counters and gauges for the health topic. Counters cover this process's lifetime unless noted.
public struct SpoolStats: Sendable, Equatable {
    /// Readings not yet acknowledged (flash and memory).
    public var pendingRecords: Int = 0
    /// Smallest and largest un-acknowledged seq, nil when nothing is pending.
    public var oldestPendingSeq: UInt64?
    public var newestPendingSeq: UInt64?
    /// The last seq handed out (0 before the first reading of a new spool).
    public var lastSeq: UInt64 = 0
    /// Every seq up to this one is acknowledged or gone.
    public var acknowledgedThrough: UInt64 = 0
    /// Every reading up to this seq that reached flash has been fdatasync'ed: it survives a power cut.
    /// An agent that must not publish before durability publishes only seqs up to this one.
    public var durableThrough: UInt64 = 0
    /// Bytes of segment files on flash, acknowledged records included until their segment is deleted.
    public var flashBytes: Int64 = 0
    public var segments: Int = 0
    /// Readings held in memory because the flash cannot be written.
    public var memoryRecords: Int = 0
    public var memoryBytes: Int = 0
    public var recordsAppended: UInt64 = 0
    /// Bytes this spool wrote to its files (records, segment headers, state slots).
    public var bytesWritten: UInt64 = 0
    /// fdatasync/fsync calls (data, state, directory).
    public var syncs: UInt64 = 0
    /// Un-acknowledged readings dropped because SPOOL_MAX_BYTES (or the age limit) was reached.
    public var droppedByCap: UInt64 = 0
    /// Un-acknowledged readings dropped from memory while the flash could not be written.
    public var droppedFromMemory: UInt64 = 0
    /// Readings lost to damaged or torn records found when the spool was opened (seq gaps counted; a
    /// torn tail's records cannot be counted, only its bytes).
    public var lostInRecovery: UInt64 = 0
    public var bytesTruncatedInRecovery: Int64 = 0
    /// Sealed segments known at open from their header and seal alone (not read record by record).
    public var segmentsTakenFromSeals: Int = 0
    /// The current degraded-mode problem, nil when healthy.
    public var problem: SpoolError?

    /// Bytes written per appended reading (what wears the flash), 0 before the first reading.
    public var bytesWrittenPerRecord: Double {
        recordsAppended == 0 ? 0 : Double(bytesWritten) / Double(recordsAppended)
    }
}
