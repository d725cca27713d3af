import CLibc
import Platform

/// The DLMS invocation counter's lease of one meter, in `invocation-counter` beside the spool's `state`:
/// the highest counter that may have been used. The session stores a new lease (ahead of use) before it
/// sends the first counter in it, so a restart, a `kill -9` or a power cut resumes above every counter ever
/// sent: an AES-GCM IV is never used twice.
///
/// Written as the spool's state is: two slots, each "DLBICLSE" | generation u64 | lease end u32 | CRC-32C
/// u32, the older one overwritten in place and fdatasynced, so a torn write leaves the other slot (the
/// previous lease, still valid because a lease is stored before its counters are used) intact. The
/// directory is fsynced when the file is created.
public final class CounterLeaseFile {
    static let slotSize = 32
    static let magic: [UInt8] = Array("DLBICLSE".utf8)
    public static let fileName = "invocation-counter"

    public let path: String
    private var fd: Int32 = -1
    private var generation: UInt64 = 0
    private var current: UInt32?

    /// Opens (creating the directory and the file when absent) the lease file in `directory`.
    public init(directory: String) throws(SystemError) {
        path = directory + "/" + Self.fileName
        try FileIO.makeDirectories(directory)
        var created = false
        if let existing = try? FileIO.openFile(path, O_RDWR) {
            fd = existing
        } else {
            fd = try FileIO.openFile(path, O_RDWR | O_CREAT, mode: 0o600)
            created = true
        }
        if created { try FileIO.syncPath(directory) }
        let bytes = try FileIO.readAt(fd, count: 2 * Self.slotSize, at: 0, path: path)
        var padded = bytes
        padded += [UInt8](repeating: 0, count: 2 * Self.slotSize - padded.count)
        for slot in 0..<2 {
            let range = (slot * Self.slotSize)..<((slot + 1) * Self.slotSize)
            if let (g, end) = Self.decode(Array(padded[range])), g >= generation {
                generation = g
                current = end
            }
        }
    }

    deinit { if fd >= 0 { FileIO.closeFile(fd) } }

    /// The persisted lease end; nil for a new file (or two damaged slots: then the caller must learn the
    /// meter's counter some other way, e.g. its frame counter).
    public var leaseEnd: UInt32? { current }

    /// Persists `leaseEnd` (never below the current one) and syncs it before returning.
    public func store(_ leaseEnd: UInt32) throws(SystemError) {
        let value = max(leaseEnd, current ?? 0)
        let next = generation &+ 1
        try FileIO.pwriteAll(fd, Self.encode(value, generation: next), at: Int64(Int(next % 2) * Self.slotSize), path: path)
        // The power-loss checker's marker: this lease is durable. The negative control marks it too early.
        if PowerLossTrace.settings.leaseBeforeSync { PowerLossTrace.mark("lease \(path) \(value)") }
        try FileIO.syncData(fd, path: path)
        if !PowerLossTrace.settings.leaseBeforeSync { PowerLossTrace.mark("lease \(path) \(value)") }
        generation = next
        current = value
    }

    static func encode(_ end: UInt32, generation: UInt64) -> [UInt8] {
        var out = magic
        out.appendLE(generation)
        out.appendLE(end)
        out.appendLE(CRC32C.checksum(out))
        out += [UInt8](repeating: 0, count: slotSize - out.count)
        return out
    }

    static func decode(_ b: [UInt8]) -> (UInt64, UInt32)? {
        guard b.count >= 24, Array(b[0..<8]) == magic else { return nil }
        let stored = b.withUnsafeBytes { $0.loadLE(UInt32.self, at: 20) }
        guard stored == CRC32C.checksum(Array(b[0..<20])) else { return nil }
        return b.withUnsafeBytes { ($0.loadLE(UInt64.self, at: 8), $0.loadLE(UInt32.self, at: 16)) }
    }
}
