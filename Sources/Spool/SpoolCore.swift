import CLibc
import Platform

/// One segment file as known in memory: the records themselves stay on flash.
struct Segment {
    var base: UInt64
    var path: String
    var size: Int64
    var records: Int
    var firstSeq: UInt64?
    var lastSeq: UInt64?
    var lastTimestamp: Int64
    /// False for a sealed segment taken from its seal at open: its records are checked when replay reads
    /// them (damage found then loses the rest of the segment, as a scan at open would have).
    var verified = true
}

/// The spool's logic without locking (`Spool` wraps it in a lock). Not thread-safe.
struct SpoolCore {
    let directory: String
    let config: SpoolConfiguration
    let bootID: [UInt8]
    var dirFD: Int32 = -1
    var stateFile: StateFile
    var leaseEnd: UInt64 = 0
    /// The last seq before this process started (persisted as `PersistedState.seqFloor`).
    var seqFloor: UInt64 = 0
    var segments: [Segment] = []
    /// Write descriptor of `segments.last`.
    var activeFD: Int32 = -1
    var nextSeq: UInt64 = 1
    /// Every seq <= lowWater is acknowledged or no longer exists.
    var lowWater: UInt64 = 0
    /// Acknowledged seqs above lowWater.
    var acked: Set<UInt64> = []
    /// Seqs above lowWater that exist nowhere (lost in recovery, dropped from memory, skipped after a
    /// reboot), sorted and disjoint: lowWater steps over them.
    var holes: [ClosedRange<UInt64>] = []
    /// Readings waiting in memory for the flash to become writable again, in seq order.
    var memory: [SpoolRecord] = []
    var memoryBytes = 0
    var uncommittedRecords = 0
    var dirtySince: MonotonicInstant?
    var stateDirty = false
    /// Cursors as set by the client, and as last written to the state file.
    var cursors: [SpoolCursor] = []
    var persistedCursors: [SpoolCursor] = []
    /// When the oldest acknowledgement not yet written arrived.
    var acksDirtySince: MonotonicInstant?
    var persistedDegraded = false
    var lastRetry = MonotonicInstant(nanoseconds: 0)
    /// Where the last `pending` call stopped, so a replay loop reads each segment once.
    var cursor: (after: UInt64, base: UInt64, offset: Int64)?
    var stats = SpoolStats()
    var closed = false
    /// Highest seq whose record was fdatasync'ed (or found on flash at open).
    var durableThrough: UInt64 = 0
    /// Opened on a read-only file system: records are read from flash, new readings stay in memory until
    /// the process restarts on a repaired file system.
    var readOnly = false
    /// The per-boot note of seqs handed out for readings that exist only in memory (nil: disabled).
    var notePath: String?

    // MARK: Appending

    mutating func append(timestamp: Int64, build: (UInt64) -> [UInt8]) throws(SpoolError) -> AppendReceipt {
        guard !closed else { throw .closed(directory: directory) }
        let seq = nextSeq
        let payload = build(seq)
        guard payload.count <= config.maxPayloadBytes else {
            throw .recordTooLarge(bytes: payload.count, limit: config.maxPayloadBytes)
        }
        nextSeq += 1
        stats.recordsAppended += 1
        if seq > leaseEnd {
            // Reserve the next block of seqs on flash before handing this one out.
            leaseEnd = seq - 1 + config.seqLease
            do { try persistState() } catch { enterDegraded(error) }
        }
        if !memory.isEmpty { flushMemory(force: false) }
        if memory.isEmpty {
            do {
                try writeRecord(SpoolRecord(seq: seq, timestamp: timestamp, payload: payload))
                enforceLimits()
                try commitIfDue()
                return AppendReceipt(seq: seq, onFlash: true, problem: nil)
            } catch {
                enterDegraded(error)
                if segmentsContain(seq) {
                    // Written, only the commit failed: the record is in the page cache.
                    return AppendReceipt(seq: seq, onFlash: true, problem: error)
                }
            }
        }
        keepInMemory(SpoolRecord(seq: seq, timestamp: timestamp, payload: payload))
        return AppendReceipt(seq: seq, onFlash: false, problem: stats.problem)
    }

    func segmentsContain(_ seq: UInt64) -> Bool {
        guard let last = segments.last?.lastSeq else { return false }
        return seq <= last
    }

    /// Writes one record at the end of the active segment (rolling to a new segment when full).
    mutating func writeRecord(_ record: SpoolRecord) throws(SpoolError) {
        if readOnly, let problem = stats.problem { throw problem }
        let bytes = RecordFormat.encode(seq: record.seq, timestamp: record.timestamp, payload: record.payload)
        // Room is kept for the seal, so that a sealed segment stays within segmentBytes (the cap counts files).
        if let active = segments.last, active.records > 0,
            active.size + Int64(bytes.count + RecordFormat.sealRecordSize) > Int64(config.segmentBytes)
        {
            if uncommittedRecords > 0 { try syncActive() }
            sealActive()
            try createSegment(base: record.seq)
        }
        let index = segments.count - 1
        let at = segments[index].size
        do {
            try FileIO.pwriteAll(activeFD, bytes, at: at, path: segments[index].path)
        } catch {
            // Undo a partial write so the file ends on a record boundary (recovery would cut it anyway).
            try? FileIO.truncate(activeFD, to: at, path: segments[index].path)
            throw Self.classify(error, path: segments[index].path, directory: directory, budget: config.memoryBudgetBytes)
        }
        segments[index].size += Int64(bytes.count)
        segments[index].records += 1
        if segments[index].firstSeq == nil { segments[index].firstSeq = record.seq }
        segments[index].lastSeq = record.seq
        segments[index].lastTimestamp = record.timestamp
        stats.bytesWritten += UInt64(bytes.count)
        uncommittedRecords += 1
        if dirtySince == nil { dirtySince = .now() }
    }

    /// Ends the active segment with its seal, after its records are durable (a seal on flash never announces
    /// records that are not). Only a segment without holes is sealed; any failure leaves it unsealed, which
    /// costs a scan at the next start and nothing else.
    mutating func sealActive() {
        guard let index = segments.indices.last, let first = segments[index].firstSeq,
            let last = segments[index].lastSeq, UInt64(segments[index].records) == last - first + 1
        else { return }
        let segment = segments[index]
        let seal = RecordFormat.encodeSeal(RecordFormat.Seal(
            base: segment.base, firstSeq: first, lastSeq: last, records: UInt64(segment.records),
            lastTimestamp: segment.lastTimestamp, bodyEnd: UInt64(segment.size)))
        do {
            try FileIO.pwriteAll(activeFD, seal, at: segment.size, path: segment.path)
            try FileIO.syncData(activeFD, path: segment.path)
        } catch {
            try? FileIO.truncate(activeFD, to: segment.size, path: segment.path)
            return
        }
        segments[index].size += Int64(seal.count)
        stats.bytesWritten += UInt64(seal.count)
        stats.syncs += 1
    }

    /// Creates `<base>.seg` with its header, makes its directory entry durable, and makes it active.
    mutating func createSegment(base: UInt64) throws(SpoolError) {
        let path = directory + "/" + RecordFormat.segmentName(base: base)
        let header = RecordFormat.segmentHeader(base: base)
        let fd: Int32
        do {
            fd = try FileIO.openFile(path, O_RDWR | O_CREAT | O_TRUNC, mode: 0o640)
        } catch {
            throw Self.classify(error, path: path, directory: directory, budget: config.memoryBudgetBytes)
        }
        do {
            try FileIO.pwriteAll(fd, header, at: 0, path: path)
        } catch {
            FileIO.closeFile(fd)
            _ = try? FileIO.removeFile(path)
            throw Self.classify(error, path: path, directory: directory, budget: config.memoryBudgetBytes)
        }
        stats.bytesWritten += UInt64(header.count)
        if activeFD >= 0 { FileIO.closeFile(activeFD) }
        activeFD = fd
        segments.append(Segment(base: base, path: path, size: Int64(header.count), records: 0,
                                firstSeq: nil, lastSeq: nil, lastTimestamp: 0))
        try syncDirectory()
    }

    // MARK: Degraded mode

    mutating func enterDegraded(_ error: SpoolError) {
        stats.problem = error
        if !persistedDegraded {
            // Best effort: tells the next start that seqs in memory may have been published.
            persistedDegraded = true
            try? persistState()
        }
    }

    mutating func keepInMemory(_ record: SpoolRecord) {
        // This seq may be published and then die with the process: note it where a restart will look.
        if let notePath { FileIO.writeNote(notePath, record.seq) }
        memory.append(record)
        memoryBytes += record.payload.count + RecordFormat.overhead
        var dropped = 0
        var kept = memoryBytes
        while kept > config.memoryBudgetBytes, dropped < memory.count {
            kept -= memory[dropped].payload.count + RecordFormat.overhead
            dropped += 1
        }
        if dropped > 0 {
            for r in memory.prefix(dropped) {
                memoryBytes -= r.payload.count + RecordFormat.overhead
                if r.seq > lowWater && !acked.contains(r.seq) { stats.droppedFromMemory += 1 }
                acked.remove(r.seq)
                addHole(r.seq...r.seq)
            }
            memory.removeFirst(dropped)
            advanceLowWater()
        }
    }

    /// Tries to write the readings held in memory to flash, in order (at most every retry interval unless
    /// forced).
    mutating func flushMemory(force: Bool) {
        guard !memory.isEmpty else { return }
        let now = MonotonicInstant.now()
        if !force && now.milliseconds(since: lastRetry) < config.retryMilliseconds { return }
        lastRetry = now
        var written = 0
        for record in memory {
            do { try writeRecord(record) } catch {
                stats.problem = error
                break
            }
            written += 1
        }
        for r in memory.prefix(written) { memoryBytes -= r.payload.count + RecordFormat.overhead }
        memory.removeFirst(written)
        if memory.isEmpty {
            stats.problem = nil
            stateDirty = true
            enforceLimits()
        }
    }

    // MARK: Cursors

    /// Sets cursor `name`; persisted with the state at the next commit that writes it, after the records
    /// appended before this call are synced. False when the name is too long or there are too many cursors.
    mutating func setCursor(_ name: String, _ value: Int64) -> Bool {
        guard name.utf8.count <= StateFile.maxCursorName else { return false }
        if let i = cursors.firstIndex(where: { $0.name == name }) {
            guard cursors[i].value != value else { return true }
            cursors[i].value = value
        } else {
            guard cursors.count < StateFile.maxCursors else { return false }
            cursors.append(SpoolCursor(name: name, value: value))
        }
        stateDirty = true
        if acksDirtySince == nil { acksDirtySince = .now() }
        return true
    }

    // MARK: Acknowledgement

    /// Marks `seq` delivered. False when it is unknown or already acknowledged.
    mutating func acknowledge(_ seq: UInt64) -> Bool {
        guard seq > lowWater, seq < nextSeq, !isHole(seq), !acked.contains(seq) else { return false }
        if let i = memory.firstIndex(where: { $0.seq == seq }) {
            memoryBytes -= memory[i].payload.count + RecordFormat.overhead
            memory.remove(at: i)
        }
        acked.insert(seq)
        PowerLossTrace.mark("ack \(directory) \(seq)")
        advanceLowWater()
        stateDirty = true
        if acksDirtySince == nil { acksDirtySince = .now() }
        return true
    }

    mutating func advanceLowWater() {
        while lowWater + 1 < nextSeq {
            let next = lowWater + 1
            if acked.remove(next) != nil {
                lowWater = next
            } else if let hole = holes.first(where: { $0.contains(next) }) {
                lowWater = hole.upperBound
            } else {
                break
            }
        }
        holes.removeAll { $0.upperBound <= lowWater }
    }

    func isHole(_ seq: UInt64) -> Bool { holes.contains { $0.contains(seq) } }

    mutating func addHole(_ range: ClosedRange<UInt64>) {
        holes.append(range)
        holes.sort { $0.lowerBound < $1.lowerBound }
        var merged: [ClosedRange<UInt64>] = []
        for h in holes {
            if let last = merged.last, h.lowerBound <= last.upperBound + 1 {
                merged[merged.count - 1] = last.lowerBound...max(last.upperBound, h.upperBound)
            } else {
                merged.append(h)
            }
        }
        holes = merged
    }

    // MARK: Commit

    mutating func commitIfDue() throws(SpoolError) {
        if !memory.isEmpty { flushMemory(force: false) }
        let now = MonotonicInstant.now()
        let recordsDue = dirtySince.map {
            uncommittedRecords >= config.commit.everyRecords
                || now.milliseconds(since: $0) >= config.commit.everyMilliseconds
        } ?? false
        let acksDue = acksDirtySince.map {
            now.milliseconds(since: $0) >= config.commit.acknowledgementsEveryMilliseconds
        } ?? false
        if recordsDue || acksDue { try commit(includingAcknowledgements: acksDue) }
    }

    /// Forces appended records (and acknowledgements unless told otherwise) to flash now, then deletes
    /// fully acknowledged segments.
    mutating func commit(includingAcknowledgements: Bool = true) throws(SpoolError) {
        guard !closed else { throw .closed(directory: directory) }
        if readOnly { return }
        let persist = (stateDirty && includingAcknowledgements) || persistedDegraded != !memory.isEmpty
        // Negative control only: the state (with the newest cursors) is synced before the rows they cover.
        if PowerLossTrace.settings.cursorBeforeRows && persist { try persistState() }
        if uncommittedRecords > 0 { try syncActive() }
        if persist && !PowerLossTrace.settings.cursorBeforeRows { try persistState() }
        dirtySince = nil
        if memory.isEmpty { stats.problem = nil }
        deleteAcknowledgedSegments()
    }

    mutating func syncActive() throws(SpoolError) {
        let path = segments.last?.path ?? directory
        // The checker's marker: these records are durable. The negative control marks it too early.
        let through = segments.last?.lastSeq ?? 0
        if PowerLossTrace.settings.commitBeforeSync { PowerLossTrace.mark("sync \(directory) \(through)") }
        do { try FileIO.syncData(activeFD, path: path) } catch {
            throw Self.classify(error, path: path, directory: directory, budget: config.memoryBudgetBytes)
        }
        if !PowerLossTrace.settings.commitBeforeSync { PowerLossTrace.mark("sync \(directory) \(through)") }
        stats.syncs += 1
        uncommittedRecords = 0
        if let last = segments.last?.lastSeq { durableThrough = max(durableThrough, last) }
    }

    mutating func persistState(cleanClose: Bool = false) throws(SpoolError) {
        if readOnly, let problem = stats.problem { throw problem }
        var s = PersistedState()
        s.lowWater = lowWater
        s.acked = acked.sorted()
        s.leaseEnd = cleanClose ? nextSeq - 1 : leaseEnd
        s.cleanClose = cleanClose
        s.degraded = !memory.isEmpty || persistedDegraded && stats.problem != nil
        s.bootID = bootID
        s.seqFloor = seqFloor
        // Cursors cover the records appended before them: while some are not synced yet (a lease extension
        // writes the state between commits) or held in memory, the previous cursors are written instead.
        s.cursors = memory.isEmpty && uncommittedRecords == 0 || PowerLossTrace.settings.cursorBeforeRows
            ? cursors : persistedCursors
        if PowerLossTrace.settings.cursorBeforeSync { markCursors(s.cursors) }  // negative control only
        do { try stateFile.write(s) } catch {
            throw Self.classify(error, path: stateFile.path, directory: directory, budget: config.memoryBudgetBytes)
        }
        PowerLossTrace.mark("state \(directory) \(s.lowWater) \(s.leaseEnd) \(s.acked.prefix(StateFile.maxAcks).map { String($0) }.joined(separator: ","))")
        if !PowerLossTrace.settings.cursorBeforeSync { markCursors(s.cursors) }
        persistedDegraded = s.degraded
        persistedCursors = s.cursors
        stateDirty = false
        acksDirtySince = nil
        if s.cursors != cursors {
            stateDirty = true  // the newer cursors go with the next commit
            acksDirtySince = .now()
        }
        stats.syncs += 1
        stats.bytesWritten += UInt64(StateFile.slotSize)
    }

    /// The checker's markers: these cursors are durable (a name's spaces as `+`, so a line splits on spaces).
    func markCursors(_ written: [SpoolCursor]) {
        guard PowerLossTrace.enabled else { return }
        for c in written.prefix(StateFile.maxCursors) where c.name.utf8.count <= StateFile.maxCursorName {
            PowerLossTrace.mark("cursor \(directory) \(Self.markerName(c.name)) \(c.value)")
        }
    }

    static func markerName(_ name: String) -> String {
        String(decoding: name.utf8.map { $0 == UInt8(ascii: " ") ? UInt8(ascii: "+") : $0 }, as: UTF8.self)
    }

    mutating func syncDirectory() throws(SpoolError) {
        if PowerLossTrace.settings.skipDirectorySync { return }  // negative control only
        do { try FileIO.syncDirectory(dirFD, path: directory) } catch {
            throw Self.classify(error, path: directory, directory: directory, budget: config.memoryBudgetBytes)
        }
        stats.syncs += 1
    }

    mutating func removeFile(_ path: String) throws(SpoolError) {
        do { try FileIO.removeFile(path) } catch {
            throw Self.classify(error, path: path, directory: directory, budget: config.memoryBudgetBytes)
        }
    }

    // MARK: Deletion and limits

    /// Removes sealed segments whose every record is acknowledged (oldest first).
    mutating func deleteAcknowledgedSegments() {
        var removed = false
        while segments.count > 1, (segments[0].lastSeq ?? 0) <= lowWater {
            guard (try? removeFile(segments[0].path)) != nil else { break }
            if cursor?.base == segments[0].base { cursor = nil }
            segments.removeFirst()
            removed = true
        }
        if removed { try? syncDirectory() }
    }

    /// Drops the oldest segments while the spool is over its size cap or they are too old.
    mutating func enforceLimits() {
        var total = segments.reduce(Int64(0)) { $0 + $1.size }
        let oldestAllowed = config.maxAgeMilliseconds.map { WallClock.milliseconds() - $0 }
        var removed = false
        while segments.count > 1 {
            let oldest = segments[0]
            let tooOld = oldestAllowed.map { oldest.records > 0 && oldest.lastTimestamp < $0 } ?? false
            guard total > config.maxBytes || tooOld else { break }
            // Before the unlink: from here on the checker no longer requires these readings.
            if let first = oldest.firstSeq, let last = oldest.lastSeq { PowerLossTrace.mark("evict \(directory) \(first) \(last)") }
            guard (try? removeFile(oldest.path)) != nil else { break }
            if let first = oldest.firstSeq, let last = oldest.lastSeq, last > lowWater {
                let lo = max(first, lowWater + 1)
                var lost = last - lo + 1
                for s in acked where s >= lo && s <= last { lost -= 1 }
                for h in holes {
                    let a = max(h.lowerBound, lo), b = min(h.upperBound, last)
                    if a <= b { lost -= b - a + 1 }
                }
                stats.droppedByCap += lost
                lowWater = last
                acked = acked.filter { $0 > last }
                advanceLowWater()
                stateDirty = true
            }
            if cursor?.base == oldest.base { cursor = nil }
            total -= oldest.size
            segments.removeFirst()
            removed = true
        }
        if removed { try? syncDirectory() }
    }

    // MARK: Stats and closing

    func currentStats() -> SpoolStats {
        var s = stats
        s.lastSeq = nextSeq - 1
        s.acknowledgedThrough = lowWater
        s.durableThrough = durableThrough
        s.flashBytes = segments.reduce(0) { $0 + $1.size }
        s.segments = segments.count
        s.memoryRecords = memory.count
        s.memoryBytes = memoryBytes
        var existing = nextSeq - 1 - lowWater
        for h in holes {
            let a = max(h.lowerBound, lowWater + 1), b = min(h.upperBound, nextSeq - 1)
            if a <= b { existing -= b - a + 1 }
        }
        s.pendingRecords = Int(existing) - acked.count
        if s.pendingRecords > 0 {
            var seq = lowWater + 1
            while acked.contains(seq) || isHole(seq) { seq += 1 }
            s.oldestPendingSeq = seq
            seq = nextSeq - 1
            while acked.contains(seq) || isHole(seq) { seq -= 1 }
            s.newestPendingSeq = seq
        }
        return s
    }

    mutating func close() throws(SpoolError) {
        guard !closed else { return }
        defer {
            closed = true
            closeDescriptors()
        }
        if readOnly {
            if !memory.isEmpty, let problem = stats.problem { throw problem }
            return
        }
        if !memory.isEmpty { flushMemory(force: true) }
        if uncommittedRecords > 0 { try syncActive() }
        // leaseEnd = the last seq handed out: the next start continues right after it, with no gap.
        try persistState(cleanClose: true)
    }

    mutating func closeDescriptors() {
        if activeFD >= 0 { FileIO.closeFile(activeFD) }
        activeFD = -1
        stateFile.close()
        if dirFD >= 0 { FileIO.closeFile(dirFD) }
        dirFD = -1
        closed = true
    }

    static func classify(_ e: SystemError, path: String, directory: String, budget: Int) -> SpoolError {
        if e.isNoSpace || e.code == EFBIG { return .noSpace(directory: directory, memoryBudgetBytes: budget, underlying: e) }
        if e.isReadOnlyFileSystem { return .readOnly(directory: directory, memoryBudgetBytes: budget, underlying: e) }
        return .io(path: path, underlying: e)
    }
}
