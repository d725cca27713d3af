import CLibc
import Platform

/// Replay: reading un-acknowledged records back from flash in seq order, resuming where the last call stopped.
extension SpoolCore {

    /// Up to `limit` un-acknowledged records with seq > `after`, in seq order, flash first then memory.
    mutating func pending(after: UInt64, limit: Int) throws(SpoolError) -> [SpoolRecord] {
        guard !closed else { throw .closed(directory: directory) }
        var out: [SpoolRecord] = []
        let from = max(after, lowWater)
        var startOffset: Int64? = nil
        if let c = cursor, c.after == from { startOffset = c.offset }
        for (index, segment) in segments.enumerated() where out.count < limit {
            guard let last = segment.lastSeq, last > from else { continue }
            var offset = Int64(RecordFormat.segmentHeaderSize)
            // The last reading before `offset` in this segment (for a segment taken from its seal).
            var lastDecoded: UInt64? = nil
            if let c = cursor, let s = startOffset, c.base == segment.base {
                offset = s
                lastDecoded = c.after
                startOffset = nil
            }
            let isActive = segment.base == segments.last?.base && activeFD >= 0
            let fd: Int32
            do { fd = isActive ? activeFD : try FileIO.openFile(segment.path, O_RDONLY) } catch {
                throw Self.classify(error, path: segment.path, directory: directory, budget: config.memoryBudgetBytes)
            }
            defer { if !isActive { FileIO.closeFile(fd) } }
            while offset < segment.size && out.count < limit {
                let chunk = Int(min(Int64(64 << 10), segment.size - offset))
                var bytes: [UInt8]
                do { bytes = try FileIO.readAt(fd, count: chunk, at: offset, path: segment.path) } catch {
                    throw Self.classify(error, path: segment.path, directory: directory, budget: config.memoryBudgetBytes)
                }
                if bytes.count >= RecordFormat.headerSize {
                    let length = Int(bytes.withUnsafeBytes { $0.loadLE(UInt32.self, at: 0) })
                    if length + RecordFormat.overhead > bytes.count && length <= config.maxPayloadBytes {
                        // One record larger than the chunk: read exactly that record.
                        do {
                            bytes = try FileIO.readAt(fd, count: length + RecordFormat.overhead, at: offset, path: segment.path)
                        } catch {
                            throw Self.classify(error, path: segment.path, directory: directory, budget: config.memoryBudgetBytes)
                        }
                    }
                }
                var consumed = 0
                let before = out.count
                bytes.withUnsafeBytes { raw in
                    while out.count < limit,
                        let r = RecordFormat.decode(raw, at: consumed, maxPayload: config.maxPayloadBytes)
                    {
                        consumed += r.size
                        if r.seq != 0 { lastDecoded = r.seq }
                        // lowWater, not just `from`: a hole found in a sealed segment may have moved it.
                        if r.seq > from && r.seq > lowWater && !acked.contains(r.seq) {
                            out.append(SpoolRecord(seq: r.seq, timestamp: r.timestamp, payload: Array(raw[r.payload])))
                        }
                    }
                }
                if consumed == 0 {
                    if !segment.verified {
                        // Taken from its seal at open, read for the first time now: damage loses the rest of
                        // the segment, exactly as a scan at open would have decided.
                        try truncateSealed(at: index, offset: offset, lastGood: lastDecoded)
                        break
                    }
                    // Damaged after it was verified at open (flash failing under us): skip the segment's rest.
                    stats.problem = .io(path: segment.path, underlying: SystemError("read(\(segment.path))", code: EIO))
                    break
                }
                offset += Int64(consumed)
                if out.count > before, let lastOut = out.last { cursor = (lastOut.seq, segment.base, offset) }
            }
        }
        for record in memory where out.count < limit && record.seq > max(from, lowWater) && !acked.contains(record.seq) {
            out.append(record)
        }
        return out
    }

    /// Damage found by replay in a segment taken from its seal: cut the file at the first bad record (the
    /// seal goes with it, so the next open scans it), and the readings after it, which exist nowhere now,
    /// become a hole counted as lost in recovery. The seal vouched for contiguous seqs, so they are known.
    mutating func truncateSealed(at index: Int, offset: Int64, lastGood: UInt64?) throws(SpoolError) {
        let segment = segments[index]
        guard let first = segment.firstSeq, let last = segment.lastSeq else { return }
        let good = lastGood.map { max($0, first - 1) } ?? first - 1
        if !readOnly {
            do {
                let fd = try FileIO.openFile(segment.path, O_RDWR)
                defer { FileIO.closeFile(fd) }
                try FileIO.truncate(fd, to: offset, path: segment.path)
                try FileIO.syncData(fd, path: segment.path)
                stats.syncs += 1
            } catch {
                throw Self.classify(error, path: segment.path, directory: directory, budget: config.memoryBudgetBytes)
            }
        }
        stats.bytesTruncatedInRecovery += segment.size - offset
        segments[index].size = offset
        segments[index].verified = true
        segments[index].records = Int(good + 1 - first)
        segments[index].lastSeq = good >= first ? good : nil
        if segments[index].lastSeq == nil { segments[index].firstSeq = nil }
        // Readings at or below the low-water mark were delivered already: not lost.
        if max(good, lowWater) < last {
            let lost = max(good, lowWater) + 1...last
            var count = UInt64(lost.count)
            for s in acked where lost.contains(s) { count -= 1 }
            acked = acked.filter { !lost.contains($0) }
            stats.lostInRecovery += count
            addHole(lost)
            advanceLowWater()
            stateDirty = true
        }
        if cursor?.base == segment.base { cursor = nil }
    }
}
