/// When appended records and acknowledgements are forced to flash. Each fsync rewrites at least one
/// 4 KiB flash page, so committing every reading costs ~20x the reading's size in wear; batching costs
/// the readings of the last interval on power loss (never on a process crash: written records sit in the
/// kernel's page cache).
public struct CommitPolicy: Sendable, Equatable {
    /// Commit once this many records were appended since the last commit (1 = every record).
    public var everyRecords: Int
    /// Commit when the oldest uncommitted record or acknowledgement is this old (checked on `append`,
    /// `acknowledge` and `commitIfDue()`).
    public var everyMilliseconds: Int64
    /// Acknowledgements are written (one 4 KiB state page) at most this often by the automatic commits;
    /// a crash re-delivers at most this long's worth of acknowledged readings (at least once). An explicit
    /// `commit()` or `close()` writes them at once.
    public var acknowledgementsEveryMilliseconds: Int64

    public init(everyRecords: Int = 50, everyMilliseconds: Int64 = 1000, acknowledgementsEveryMilliseconds: Int64 = 10_000) {
        self.everyRecords = max(1, everyRecords)
        self.everyMilliseconds = max(0, everyMilliseconds)
        self.acknowledgementsEveryMilliseconds = max(0, acknowledgementsEveryMilliseconds)
    }

    /// fsync after every record: strongest, most flash wear.
    public static let everyRecord = CommitPolicy(everyRecords: 1, everyMilliseconds: 0)
}

/// How one spool directory behaves.
public struct SpoolConfiguration: Sendable, Equatable {
    /// Size cap on flash (SPOOL_MAX_BYTES, per meter): when exceeded the oldest segment is dropped and its
    /// unacknowledged readings counted in `SpoolStats.droppedByCap`.
    public var maxBytes: Int64
    /// Segment file size; a segment is the unit of deletion. Default: maxBytes / 8 clamped to 4 KiB...1 MiB.
    public var segmentBytes: Int
    /// Optional age limit: sealed segments whose newest reading is older than this are dropped (counted).
    public var maxAgeMilliseconds: Int64?
    public var commit: CommitPolicy
    /// Memory used for readings while the flash cannot be written (full, read-only); oldest dropped beyond.
    public var memoryBudgetBytes: Int
    /// How often a degraded spool retries writing its in-memory readings to flash.
    public var retryMilliseconds: Int64
    /// How many sequence numbers are reserved on flash ahead of use, so that seq never repeats after a
    /// power loss (a reboot after an unclean stop may skip up to this many numbers; a process crash does not).
    public var seqLease: UInt64
    /// A per-boot RAM file system (`/dev/shm`) where the spool notes the highest seq it handed out for a
    /// reading that only exists in memory, so a restart in the same boot never reuses it even when the
    /// flash could not record it. nil disables the note.
    public var volatileDirectory: String?

    public init(
        maxBytes: Int64 = 64 << 20,
        segmentBytes: Int? = nil,
        maxAgeMilliseconds: Int64? = nil,
        commit: CommitPolicy = CommitPolicy(),
        memoryBudgetBytes: Int = 1 << 20,
        retryMilliseconds: Int64 = 5000,
        seqLease: UInt64 = 1024,
        volatileDirectory: String? = "/dev/shm"
    ) {
        self.maxBytes = maxBytes
        self.segmentBytes = segmentBytes ?? Int(min(1 << 20, max(4096, maxBytes / 8)))
        self.maxAgeMilliseconds = maxAgeMilliseconds
        self.commit = commit
        self.memoryBudgetBytes = memoryBudgetBytes
        self.retryMilliseconds = retryMilliseconds
        self.seqLease = max(1, seqLease)
        self.volatileDirectory = volatileDirectory
    }

    /// The largest payload one record may hold.
    public var maxPayloadBytes: Int { segmentBytes - RecordFormat.segmentHeaderSize - RecordFormat.overhead }

    func validate() throws(SpoolError) {
        if segmentBytes < 1024 { throw .invalidConfiguration("segment size \(segmentBytes) is below 1024 bytes") }
        if maxBytes < 2 * Int64(segmentBytes) {
            throw .invalidConfiguration(
                "SPOOL_MAX_BYTES=\(maxBytes) must hold at least two segments of \(segmentBytes) bytes; raise it")
        }
        if memoryBudgetBytes < 0 { throw .invalidConfiguration("memory budget is negative") }
    }
}
