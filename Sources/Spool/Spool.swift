import Platform

/// A crash-safe store-and-forward log of readings for one meter, on flash: append before publishing,
/// acknowledge when the broker confirms, replay what is pending after an outage or a restart.
///
/// One directory per meter (`SPOOL_DIR/<device_id>/`): each meter has its own seq, its own order and its
/// own cap, and a damaged spool affects one meter only. All methods are thread-safe (meter threads append,
/// the uplink thread acknowledges).
///
/// ```swift
/// let spool = try Spool(directory: "/var/lib/dlms-bridge/spool/meter-1", configuration: .init())
/// let receipt = try spool.append { seq in payloadJSON(seq: seq) }
/// // publish receipt.seq ... on PUBACK:
/// spool.acknowledge(receipt.seq)
/// // every second from the agent's loop:
/// try spool.commitIfDue()
/// ```
public final class Spool: @unchecked Sendable {
    private let lock = ConditionLock()
    private var core: SpoolCore
    /// The spool directory.
    public let directory: String

    /// Opens (creating when absent) the spool in `directory`, verifying every record: a torn or damaged
    /// tail is cut off and counted (`stats.lostInRecovery`, `stats.bytesTruncatedInRecovery`).
    public init(directory: String, configuration: SpoolConfiguration = SpoolConfiguration()) throws(SpoolError) {
        self.directory = directory
        core = try SpoolCore(directory: directory, config: PowerLossTrace.adjust(configuration))
    }

    /// The spool directory of one meter: `root/<device id>`, with every character outside
    /// `[A-Za-z0-9._-]` replaced by `_` (a DEVICE_ID with `/` or `..` cannot escape SPOOL_DIR) and an
    /// empty or dot-only id written as `_`.
    public static func directory(root: String, deviceID: String) -> String {
        var name = String(String.UnicodeScalarView(deviceID.unicodeScalars.map { c -> Unicode.Scalar in
            let ok = (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9")
                || c == "." || c == "_" || c == "-"
            return ok ? c : "_"
        }))
        if name.allSatisfy({ $0 == "." }) { name = "_" + name }
        let trimmed = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root
        return trimmed + "/" + name
    }

    /// Tests: open as if after a reboot (another boot id).
    init(directory: String, configuration: SpoolConfiguration, bootID: [UInt8]) throws(SpoolError) {
        self.directory = directory
        core = try SpoolCore(directory: directory, config: configuration, bootID: bootID)
    }

    deinit { core.closeDescriptors() }

    /// Appends a reading built by `build` from its seq (so the payload can carry `seq`), and returns the
    /// receipt. On a full or read-only file system the reading is kept in memory and `receipt.problem`
    /// says so; this throws only for a reading too large or a closed spool. `build` runs under the spool's
    /// lock: keep it to serialising the payload.
    public func append(timestamp: Int64 = WallClock.milliseconds(), build: (UInt64) -> [UInt8]) throws(SpoolError)
        -> AppendReceipt
    {
        try lock.withLock { () throws(SpoolError) in try core.append(timestamp: timestamp, build: build) }
    }

    /// Appends a payload that does not need its seq.
    public func append(_ payload: [UInt8], timestamp: Int64 = WallClock.milliseconds()) throws(SpoolError)
        -> AppendReceipt
    {
        try append(timestamp: timestamp) { _ in payload }
    }

    /// Marks `seq` delivered (acks may arrive in any order). Persisted at the next commit; after a crash
    /// only acks newer than that commit are re-delivered. False for an unknown or repeated seq.
    @discardableResult
    public func acknowledge(_ seq: UInt64) -> Bool {
        lock.withLock { core.acknowledge(seq) }
    }

    /// Up to `limit` un-acknowledged readings with seq > `after`, in seq order. Replay loop: start with
    /// `after: 0`, then pass the last seq returned; consecutive calls continue where the last one stopped.
    public func pending(after: UInt64 = 0, limit: Int) throws(SpoolError) -> [SpoolRecord] {
        try lock.withLock { () throws(SpoolError) in try core.pending(after: after, limit: limit) }
    }

    /// Commits when the commit policy says so; call it from the agent's loop (about every second) so the
    /// interval applies when no reading arrives. Also retries the flash while in degraded mode.
    public func commitIfDue() throws(SpoolError) {
        try lock.withLock { () throws(SpoolError) in try core.commitIfDue() }
    }

    /// Forces records and acknowledgements to flash now (fdatasync), then deletes acknowledged segments.
    public func commit() throws(SpoolError) {
        try lock.withLock { () throws(SpoolError) in try core.commit() }
    }

    /// The value of cursor `name` as last set (in this process or, after a restart, as persisted).
    public func cursor(_ name: String) -> Int64? {
        lock.withLock { core.cursors.first { $0.name == name }?.value }
    }

    /// Every cursor, as last set (in this process or, after a restart, as persisted), in the order first set.
    public var cursors: [SpoolCursor] { lock.withLock { core.cursors } }

    /// Sets cursor `name` (at most 10 cursors, names of up to 40 bytes; false beyond). It is written with
    /// the spool's state, crash-safe, and only once the records appended before this call are on flash:
    /// after a crash the cursor is never ahead of the records (set it after appending what it covers).
    @discardableResult
    public func setCursor(_ name: String, _ value: Int64) -> Bool {
        lock.withLock { core.setCursor(name, value) }
    }

    /// Counters and gauges (depth, seqs, drops, bytes written, syncs, the current problem).
    public var stats: SpoolStats { lock.withLock { core.currentStats() } }

    /// Writes what is in memory if it can, commits, and records a clean stop so the next start continues
    /// the seq without a gap. Readings still in memory when the flash cannot be written are lost (counted
    /// in the returned error's description only).
    public func close() throws(SpoolError) {
        try lock.withLock { () throws(SpoolError) in try core.close() }
    }
}
