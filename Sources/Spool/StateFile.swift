import CLibc
import Platform

/// What the spool persists besides the records: the acknowledged position and the seq lease.
struct PersistedState: Equatable {
    /// Every seq <= lowWater is acknowledged (or no longer exists).
    var lowWater: UInt64 = 0
    /// Acknowledged seqs above `lowWater` (acks arrive out of order under QoS 1), at most `StateFile.maxAcks`.
    var acked: [UInt64] = []
    /// No seq above this was handed out before this state was written.
    var leaseEnd: UInt64 = 0
    /// Written by `close()`: `leaseEnd` is then exactly the last seq handed out.
    var cleanClose = false
    /// Written when readings had to be kept in memory (they die with the process).
    var degraded = false
    /// The boot and mount this state was written in (see `FileIO.instanceID`).
    var bootID: [UInt8] = []
    /// Every seq up to this one was handed out by an earlier process (set at open): a later open continues
    /// after it whatever the boot, because no record on flash may show it (all acknowledged, or lost).
    var seqFloor: UInt64 = 0
    /// Named positions a client keeps with the spool (the agent: one per meter profile, the capture time of
    /// the last row appended). Written only with records already synced, so a cursor never runs ahead of
    /// the records it covers.
    var cursors: [SpoolCursor] = []
    /// Not stored: set when the other slot was damaged, so a newer lease may have been lost with it.
    var leaseEndMayBeStale = false
}

/// A named position kept with the spool's state (``Spool/setCursor(_:_:)``).
public struct SpoolCursor: Sendable, Equatable {
    public var name: String
    public var value: Int64
    public init(name: String, value: Int64) {
        self.name = name
        self.value = value
    }
}

/// The state file `state`: two 4 KiB slots, each "DLBSTATE" | generation u64 | lowWater u64 | leaseEnd u64
/// | flags u32 | ack count u32 | boot and mount id (48) | seq floor u64 | acked seqs u64... | CRC-32C u32 over everything before it.
/// After that CRC, an optional cursor block: "CURS" | count u8 | {name length u8 | name | value i64}... |
/// CRC-32C u32 over the block. A state file written before cursors existed simply has none; an older
/// binary reading a newer file stops at the first CRC and ignores the block (downgrades keep working).
/// An update overwrites the older slot in place and fdatasyncs: a torn write damages only that slot (its
/// CRC fails) and the other still holds the previous state, so the update is atomic. In-place overwrite of
/// already-allocated blocks also keeps working on a full file system, where a write-temp-and-rename cannot,
/// and writes one page per commit instead of a new inode plus two directory updates.
struct StateFile {
    static let slotSize = 4096
    static let fixedSize = 96
    /// Acks a slot may hold when read (what files written before cursors existed may carry).
    static let legacyMaxAcks = (slotSize - fixedSize - 4) / 8
    /// Bytes kept for the cursor block.
    static let cursorReserve = 512
    /// Acks written: fewer than before, to leave room for the cursors (the rest are re-sent after a crash).
    static let maxAcks = (slotSize - fixedSize - 4 - cursorReserve) / 8
    /// Cursors kept, and the longest name.
    static let maxCursors = 10
    static let maxCursorName = 40
    static let magic: [UInt8] = Array("DLBSTATE".utf8)
    static let cursorMagic: [UInt8] = Array("CURS".utf8)

    let path: String
    private(set) var fd: Int32
    private(set) var generation: UInt64

    /// Opens (creating when absent) the state file and returns it with the newest valid state, or nil state
    /// when neither slot is valid (new spool, or both slots damaged). `created` tells the caller to fsync
    /// the directory.
    /// `writable: false` opens for reading only (a spool on a read-only file system); a missing file then
    /// gives fd -1 and no state.
    static func open(directory: String, writable: Bool = true) throws(SystemError)
        -> (StateFile, PersistedState?, created: Bool)
    {
        let path = directory + "/state"
        var created = false
        let fd: Int32
        if let existing = try? FileIO.openFile(path, writable ? O_RDWR : O_RDONLY) {
            fd = existing
        } else if !writable {
            return (StateFile(path: path, fd: -1, generation: 0), nil, false)
        } else {
            fd = try FileIO.openFile(path, O_RDWR | O_CREAT, mode: 0o640)
            created = true
        }
        var bytes = try FileIO.readAt(fd, count: 2 * slotSize, at: 0, path: path)
        if writable && bytes.count < 2 * slotSize {
            // Both slots take their space now, while there is space: on a file system that later fills up
            // (the spool's segments grow until it does), the first write to a slot never written would
            // need a new block and fail, and acknowledgements could no longer be made durable. Zeros are
            // an empty slot, not a damaged one.
            let missing = [UInt8](repeating: 0, count: 2 * slotSize - bytes.count)
            try FileIO.pwriteAll(fd, missing, at: Int64(bytes.count), path: path)
        }
        // A cut file still holds a valid slot when the cut falls after the slot's CRC: read what is there.
        bytes += [UInt8](repeating: 0, count: 2 * slotSize - bytes.count)
        var best: (UInt64, PersistedState)?
        var damaged = false
        for slot in 0..<2 {
            let range = (slot * slotSize)..<((slot + 1) * slotSize)
            if let decoded = bytes.withUnsafeBytes({ decode(UnsafeRawBufferPointer(rebasing: $0[range])) }) {
                if best == nil || decoded.0 > best!.0 { best = decoded }
            } else if bytes[range].contains(where: { $0 != 0 }) {
                damaged = true
            }
        }
        // A damaged slot may be the newest write, torn: it may have extended the seq lease once more.
        if damaged, var state = best?.1 {
            state.leaseEndMayBeStale = true
            best!.1 = state
        }
        return (StateFile(path: path, fd: fd, generation: best?.0 ?? 0), best?.1, created)
    }

    /// Writes `state` into the older slot and fdatasyncs it.
    mutating func write(_ state: PersistedState) throws(SystemError) {
        let next = generation &+ 1
        let bytes = Self.encode(state, generation: next)
        try FileIO.pwriteAll(fd, bytes, at: Int64(Int(next % 2) * Self.slotSize), path: path)
        try FileIO.syncData(fd, path: path)
        generation = next
    }

    /// Idempotent: a descriptor number is reused by the next open in any thread, so closing twice would
    /// close another file.
    mutating func close() {
        if fd >= 0 { FileIO.closeFile(fd) }
        fd = -1
    }

    static func encode(_ s: PersistedState, generation: UInt64) -> [UInt8] {
        var out = magic
        out.reserveCapacity(slotSize)
        out.appendLE(generation)
        out.appendLE(s.lowWater)
        out.appendLE(s.leaseEnd)
        out.appendLE(UInt32((s.cleanClose ? 1 : 0) | (s.degraded ? 2 : 0)))
        let acks = s.acked.prefix(maxAcks)
        out.appendLE(UInt32(acks.count))
        var boot = Array(s.bootID.prefix(48))
        boot += [UInt8](repeating: 0, count: 48 - boot.count)
        out += boot
        out.appendLE(s.seqFloor)
        for a in acks { out.appendLE(a) }
        out.appendLE(CRC32C.checksum(out))
        if !s.cursors.isEmpty {
            var block = cursorMagic
            let kept = s.cursors.prefix(maxCursors).filter { $0.name.utf8.count <= maxCursorName }
            block.append(UInt8(kept.count))
            for c in kept {
                block.append(UInt8(c.name.utf8.count))
                block += Array(c.name.utf8)
                block.appendLE(UInt64(bitPattern: c.value))
            }
            block.appendLE(CRC32C.checksum(block))
            out += block
        }
        out += [UInt8](repeating: 0, count: slotSize - out.count)
        return out
    }

    static func decode(_ b: UnsafeRawBufferPointer) -> (UInt64, PersistedState)? {
        guard b.count >= fixedSize + 4, b.prefix(8).elementsEqual(magic) else { return nil }
        let count = Int(b.loadLE(UInt32.self, at: 36))
        guard count <= legacyMaxAcks else { return nil }
        let end = fixedSize + 8 * count
        guard b.loadLE(UInt32.self, at: end) == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: b[0..<end])) else {
            return nil
        }
        let flags = b.loadLE(UInt32.self, at: 32)
        var s = PersistedState()
        s.lowWater = b.loadLE(UInt64.self, at: 16)
        s.leaseEnd = b.loadLE(UInt64.self, at: 24)
        s.cleanClose = flags & 1 != 0
        s.degraded = flags & 2 != 0
        s.bootID = Array(b[40..<88].prefix(while: { $0 != 0 }))
        s.seqFloor = b.loadLE(UInt64.self, at: 88)
        s.acked = (0..<count).map { b.loadLE(UInt64.self, at: fixedSize + 8 * $0) }
        s.cursors = decodeCursors(UnsafeRawBufferPointer(rebasing: b[(end + 4)...]))
        return (b.loadLE(UInt64.self, at: 8), s)
    }

    /// The cursor block at the start of `b`, or none when absent or damaged (its own CRC fails).
    static func decodeCursors(_ b: UnsafeRawBufferPointer) -> [SpoolCursor] {
        guard b.count >= 9, b.prefix(4).elementsEqual(cursorMagic) else { return [] }
        let count = Int(b[4])
        guard count <= maxCursors else { return [] }
        var at = 5
        var out: [SpoolCursor] = []
        for _ in 0..<count {
            guard at < b.count else { return [] }
            let n = Int(b[at])
            guard n <= maxCursorName, at + 1 + n + 8 + 4 <= b.count else { return [] }
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: b[(at + 1)..<(at + 1 + n)]), as: UTF8.self)
            let value = Int64(bitPattern: b.loadLE(UInt64.self, at: at + 1 + n))
            out.append(SpoolCursor(name: name, value: value))
            at += 1 + n + 8
        }
        guard at + 4 <= b.count,
            b.loadLE(UInt32.self, at: at) == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: b[0..<at]))
        else { return [] }
        return out
    }
}
