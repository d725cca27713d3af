import CLibc
import Platform

/// Opening a spool directory: recovery of the segments (sealed ones from their seal) and the state.
extension SpoolCore {

    init(directory: String, config: SpoolConfiguration, bootID: [UInt8]? = nil) throws(SpoolError) {
        try config.validate()
        self.directory = directory
        self.config = config
        do {
            try FileIO.makeDirectories(directory)
            dirFD = try FileIO.openFile(directory, O_RDONLY | O_DIRECTORY)
        } catch {
            throw .cannotOpen(directory: directory, underlying: error)
        }
        self.bootID = bootID ?? FileIO.instanceID(directory: directory)
        notePath = config.volatileDirectory.map { FileIO.volatileNotePath(directory: directory, in: $0) }
        var opened: (StateFile, PersistedState?, created: Bool)
        do {
            opened = try StateFile.open(directory: directory)
        } catch {
            if error.isReadOnlyFileSystem, let ro = try? StateFile.open(directory: directory, writable: false) {
                opened = ro
                readOnly = true
            } else {
                FileIO.closeFile(dirFD)
                throw Self.classify(error, path: directory + "/state", directory: directory, budget: config.memoryBudgetBytes)
            }
        }
        stateFile = opened.0
        do {
            try recover(persisted: opened.1)
            if readOnly {
                stats.problem = .readOnly(
                    directory: directory, memoryBudgetBytes: config.memoryBudgetBytes,
                    underlying: SystemError("open(\(directory)/state)", code: EROFS))
                return
            }
            if opened.created { try syncDirectory() }
            try openActiveSegment()
            try persistState()
            // The floor just persisted covers what the note protected.
            if let notePath { _ = try? FileIO.removeFile(notePath) }
        } catch {
            closeDescriptors()
            throw error
        }
        enforceLimits()
        deleteAcknowledgedSegments()
    }

    mutating func recover(persisted: PersistedState?) throws(SpoolError) {
        let names: [String]
        do { names = try FileIO.list(directory) } catch { throw .cannotOpen(directory: directory, underlying: error) }
        let bases = names.compactMap(RecordFormat.segmentBase(fromName:)).sorted()
        var previous: UInt64 = 0  // last valid seq seen, across segments
        var found: [Segment] = []
        for (index, base) in bases.enumerated() {
            let path = directory + "/" + RecordFormat.segmentName(base: base)
            let isLast = index == bases.count - 1
            // A sealed segment is known from its header and seal; the newest one (and any without a valid
            // seal) is scanned record by record.
            if !isLast, let segment = try sealedSegment(path: path, base: base, after: &previous) {
                found.append(segment)
                continue
            }
            if var segment = try scanSegment(path: path, base: base, after: &previous, isLast: isLast) {
                if segment.records == 0 && !isLast {
                    if !readOnly { try removeFile(path) }
                    continue
                }
                segment.path = path
                found.append(segment)
            }
        }
        segments = found
        if !segments.isEmpty && !readOnly { try syncDirectory() }

        let state = persisted ?? PersistedState()
        cursors = state.cursors
        persistedCursors = state.cursors
        let firstSeq = segments.lazy.compactMap { $0.firstSeq }.first
        let lastRecordSeq = segments.last(where: { $0.lastSeq != nil })?.lastSeq ?? 0
        lowWater = state.lowWater
        if let firstSeq { lowWater = max(lowWater, firstSeq - 1) } else { lowWater = max(lowWater, lastRecordSeq) }
        acked = Set(state.acked.filter { s in s > lowWater && s <= lastRecordSeq && !holes.contains { $0.contains(s) } })
        var maxSeen = max(lastRecordSeq, lowWater, state.seqFloor)
        if let notePath, let escaped = FileIO.readNote(notePath) { maxSeen = max(maxSeen, escaped) }
        if let last = segments.last, last.base > 0 { maxSeen = max(maxSeen, last.base - 1) }
        // After a process crash in the same boot, every record written is in the page cache and the
        // segments show the last seq handed out. After a reboot, records written since the last commit may
        // be gone although they were published: continue after the persisted lease so no seq repeats.
        // Read-only: the previous process may have held readings in memory it could not mark on flash.
        let sameBoot = !bootID.isEmpty && state.bootID == bootID && !state.degraded && !readOnly
        if persisted != nil && (state.cleanClose || !sameBoot) {
            let lease = state.leaseEnd
            maxSeen = max(maxSeen, state.leaseEndMayBeStale ? lease &+ config.seqLease : lease)
        }
        nextSeq = maxSeen + 1
        seqFloor = maxSeen
        durableThrough = maxSeen
        leaseEnd = maxSeen + config.seqLease
        let lastExisting = max(lastRecordSeq, lowWater)
        if maxSeen > lastExisting { addHole(lastExisting + 1...maxSeen) }
        advanceLowWater()
    }

    /// The segment as its seal describes it, reading only its header and seal; nil (scan it instead) when
    /// it has no valid seal or the seal does not fit what came before.
    mutating func sealedSegment(path: String, base: UInt64, after previous: inout UInt64) throws(SpoolError)
        -> Segment?
    {
        let header = RecordFormat.segmentHeader(base: base)
        let sealSize = RecordFormat.sealRecordSize
        let head: [UInt8]
        let tail: [UInt8]
        let size: Int64
        do {
            let fd = try FileIO.openFile(path, O_RDONLY)
            defer { FileIO.closeFile(fd) }
            size = try FileIO.fileSize(fd, path: path)
            guard size >= Int64(header.count + RecordFormat.overhead + sealSize) else { return nil }
            head = try FileIO.readAt(fd, count: header.count, at: 0, path: path)
            tail = try FileIO.readAt(fd, count: sealSize, at: size - Int64(sealSize), path: path)
        } catch {
            throw Self.classify(error, path: path, directory: directory, budget: config.memoryBudgetBytes)
        }
        guard head == header, let seal = tail.withUnsafeBytes({ RecordFormat.decodeSeal($0, at: 0) }),
            seal.base == base, seal.bodyEnd == UInt64(size) - UInt64(sealSize),
            seal.firstSeq >= base, seal.firstSeq > previous, seal.lastSeq >= seal.firstSeq,
            seal.records == seal.lastSeq - seal.firstSeq + 1
        else { return nil }
        if previous > 0 && seal.firstSeq > previous + 1 { holes.append(previous + 1...seal.firstSeq - 1) }
        previous = seal.lastSeq
        stats.segmentsTakenFromSeals += 1
        return Segment(base: base, path: path, size: size, records: Int(seal.records), firstSeq: seal.firstSeq,
                       lastSeq: seal.lastSeq, lastTimestamp: seal.lastTimestamp, verified: false)
    }

    /// Reads one segment, verifies every record, truncates it at the first bad one. Nil when the segment
    /// is unusable and was removed.
    mutating func scanSegment(path: String, base: UInt64, after previous: inout UInt64, isLast: Bool)
        throws(SpoolError) -> Segment?
    {
        let fd: Int32
        let bytes: [UInt8]
        do {
            fd = try FileIO.openFile(path, readOnly ? O_RDONLY : O_RDWR)
            defer { FileIO.closeFile(fd) }
            let size = try FileIO.fileSize(fd, path: path)
            bytes = try FileIO.readAt(fd, count: Int(size), at: 0, path: path)
        } catch {
            throw Self.classify(error, path: path, directory: directory, budget: config.memoryBudgetBytes)
        }
        var segment = Segment(base: base, path: path, size: 0, records: 0, firstSeq: nil, lastSeq: nil, lastTimestamp: 0)
        let header = RecordFormat.segmentHeader(base: base)
        guard bytes.count >= header.count, bytes.prefix(header.count).elementsEqual(header) else {
            // A torn creation (header not yet on flash) or a damaged header: nothing in it can be trusted.
            stats.bytesTruncatedInRecovery += Int64(bytes.count)
            if readOnly { return nil }
            if !isLast {
                try removeFile(path)
                return nil
            }
            try rewrite(path: path, with: header)
            segment.size = Int64(header.count)
            return segment
        }
        var offset = header.count
        bytes.withUnsafeBytes { raw in
            while let r = RecordFormat.decode(raw, at: offset, maxPayload: config.maxPayloadBytes) {
                if r.seq == 0 {
                    // A seal (the segment rolled, then a restart appended to it again): not a reading.
                    offset += r.size
                    continue
                }
                guard r.seq > previous, r.seq >= base else { break }
                if segment.firstSeq == nil { segment.firstSeq = r.seq }
                // A gap: readings dropped from memory, lost to damage, or skipped after a reboot.
                if previous > 0 && r.seq > previous + 1 { holes.append(previous + 1...r.seq - 1) }
                segment.lastSeq = r.seq
                segment.lastTimestamp = r.timestamp
                segment.records += 1
                previous = r.seq
                offset += r.size
            }
        }
        if offset < bytes.count {
            // Damage or a torn tail: keep the valid prefix, count what is lost.
            stats.bytesTruncatedInRecovery += Int64(bytes.count - offset)
            if !isLast, let next = nextSegmentBase(after: base) {
                let lastGood = segment.lastSeq ?? (base > 0 ? base - 1 : 0)
                if next > lastGood + 1 { stats.lostInRecovery += next - lastGood - 1 }
            }
            if !readOnly {
                do {
                let fd = try FileIO.openFile(path, O_RDWR)
                defer { FileIO.closeFile(fd) }
                try FileIO.truncate(fd, to: Int64(offset), path: path)
                try FileIO.syncData(fd, path: path)
                stats.syncs += 1
                } catch {
                throw Self.classify(error, path: path, directory: directory, budget: config.memoryBudgetBytes)
                }
            }
        }
        segment.size = Int64(offset)
        return segment
    }

    func nextSegmentBase(after base: UInt64) -> UInt64? {
        guard let names = try? FileIO.list(directory) else { return nil }
        return names.compactMap(RecordFormat.segmentBase(fromName:)).filter { $0 > base }.min()
    }

    mutating func rewrite(path: String, with header: [UInt8]) throws(SpoolError) {
        do {
            let fd = try FileIO.openFile(path, O_RDWR)
            defer { FileIO.closeFile(fd) }
            try FileIO.truncate(fd, to: 0, path: path)
            try FileIO.pwriteAll(fd, header, at: 0, path: path)
            try FileIO.syncData(fd, path: path)
            stats.syncs += 1
            stats.bytesWritten += UInt64(header.count)
        } catch {
            throw Self.classify(error, path: path, directory: directory, budget: config.memoryBudgetBytes)
        }
    }

    mutating func openActiveSegment() throws(SpoolError) {
        if let last = segments.last {
            do { activeFD = try FileIO.openFile(last.path, O_RDWR) } catch {
                throw Self.classify(error, path: last.path, directory: directory, budget: config.memoryBudgetBytes)
            }
        } else {
            try createSegment(base: nextSeq)
        }
    }
}
