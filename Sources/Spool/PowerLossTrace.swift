import CLibc
import Platform

/// The power-loss checker's test switch (Tests/powerloss). When `DLMS_BRIDGE_POWERLOSS_FD` names an open
/// descriptor, the spool writes one marker line there at each point the checker orders against the file
/// system calls it records with strace: a group commit's fdatasync returned (`sync`), a PUBACK arrived
/// (`ack`), the acknowledged position is durable (`state`, then one `cursor` line per cursor that state
/// carries), a segment is about to be evicted by the cap (`evict`), an invocation-counter lease is durable
/// (`lease`). The markers are write(2)s, so strace records them in the same order as the file operations.
///
/// Off (the variable unset, as in production) it costs one check of a value read once at start. The other
/// variables are honoured only while it is on:
/// - `DLMS_BRIDGE_POWERLOSS_SPOOL=records=8,max=16384,segment=1024,acks-ms=500`: commit group size, size cap,
///   segment size and acknowledgement interval, so short workloads roll segments and evict by the cap;
///   `lease=16`: a secured meter's invocation-counter lease block, so a short workload stores many leases.
/// - `DLMS_BRIDGE_POWERLOSS_FAULTS=commit-before-sync,skip-directory-sync,lease-before-sync,
///   cursor-before-sync,cursor-before-rows`: the negative controls, deliberate bugs the checker must catch (a
///   commit marked before its fdatasync; no directory fsync; a counter lease marked before its fdatasync; a
///   cursor marked durable before the state carrying it is written; a cursor written, and the state synced,
///   before the rows it covers).
public enum PowerLossTrace {
    struct Settings {
        var fd: Int32 = -1
        var commitBeforeSync = false
        var skipDirectorySync = false
        var leaseBeforeSync = false
        var cursorBeforeSync = false
        var cursorBeforeRows = false
        var everyRecords: Int?
        var segmentBytes: Int?
        var maxBytes: Int64?
        var acknowledgementsMilliseconds: Int64?
        var leaseBlock: UInt32?
    }

    static let settings: Settings = readSettings()

    /// Whether the test switch is on.
    public static var enabled: Bool { settings.fd >= 0 }

    private static func value(_ name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        return String(cString: raw)
    }

    private static func readSettings() -> Settings {
        var s = Settings()
        guard let text = value("DLMS_BRIDGE_POWERLOSS_FD"), let fd = Int32(text), fd >= 0,
            isOpen(fd)
        else { return s }
        s.fd = fd
        for word in (value("DLMS_BRIDGE_POWERLOSS_FAULTS") ?? "").split(separator: ",") {
            if word == "commit-before-sync" { s.commitBeforeSync = true }
            if word == "skip-directory-sync" { s.skipDirectorySync = true }
            if word == "lease-before-sync" { s.leaseBeforeSync = true }
            if word == "cursor-before-sync" { s.cursorBeforeSync = true }
            if word == "cursor-before-rows" { s.cursorBeforeRows = true }
        }
        for item in (value("DLMS_BRIDGE_POWERLOSS_SPOOL") ?? "").split(separator: ",") {
            let kv = item.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, let n = Int64(kv[1]), n > 0 else { continue }
            switch kv[0] {
            case "records": s.everyRecords = Int(n)
            case "segment": s.segmentBytes = Int(n)
            case "max": s.maxBytes = n
            case "acks-ms": s.acknowledgementsMilliseconds = n
            case "lease": s.leaseBlock = UInt32(clamping: n)
            default: break
            }
        }
        return s
    }

    private static func isOpen(_ fd: Int32) -> Bool { clibc_fcntl(fd, F_GETFD, 0) >= 0 }

    /// The checker's invocation-counter lease block (nil when the switch is off or it sets none).
    public static var leaseBlock: UInt32? { enabled ? settings.leaseBlock : nil }

    /// The spool configuration with the checker's overrides applied (unchanged when the switch is off).
    static func adjust(_ configuration: SpoolConfiguration) -> SpoolConfiguration {
        guard enabled else { return configuration }
        var c = configuration
        if let n = settings.everyRecords {
            // Group commit by count only: the interval would commit partial groups on a slow workload.
            c.commit.everyRecords = n
            c.commit.everyMilliseconds = 3_600_000
        }
        if let n = settings.maxBytes {
            // Below SPOOL_MAX_BYTES's 64K minimum, so the cap evicts within seconds; segments follow the default.
            c = SpoolConfiguration(maxBytes: n, maxAgeMilliseconds: c.maxAgeMilliseconds, commit: c.commit,
                                   memoryBudgetBytes: c.memoryBudgetBytes, retryMilliseconds: c.retryMilliseconds,
                                   seqLease: c.seqLease, volatileDirectory: c.volatileDirectory)
        }
        if let n = settings.segmentBytes { c.segmentBytes = n }
        if let n = settings.acknowledgementsMilliseconds { c.commit.acknowledgementsEveryMilliseconds = n }
        return c
    }

    /// Writes `text` and a newline to the trace descriptor in one write(2) (lines never interleave).
    static func mark(_ text: @autoclosure () -> String) {
        guard enabled else { return }
        let bytes = Array((text() + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(settings.fd, $0.baseAddress, $0.count) }
    }
}
