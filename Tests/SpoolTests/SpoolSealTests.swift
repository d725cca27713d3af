import Foundation
import Testing
@testable import Spool

/// Sealed segments: a start reads each sealed segment's header and seal, not its records, so the time before
/// the agent is ready does not grow with the backlog; damage in a sealed segment is still found (by replay)
/// and loses exactly what a scan at open would have lost.
@Suite struct SpoolSealTests {
    let config = SpoolConfiguration(maxBytes: 1 << 20, segmentBytes: 4096)

    /// Writes `count` readings, then drops the spool without closing it (a crash in the same boot).
    func filled(_ dir: TempDir, count: Int) throws {
        let spool = try Spool(directory: dir.path, configuration: config)
        for _ in 0..<count { _ = try spool.append { payload(for: $0) } }
        try spool.commit()
    }

    /// The record offsets of one segment file, seals left out.
    func recordOffsets(_ path: String) -> [(seq: UInt64, start: Int)] {
        let bytes = [UInt8](FileManager.default.contents(atPath: path)!)
        var out: [(UInt64, Int)] = []
        var offset = RecordFormat.segmentHeaderSize
        bytes.withUnsafeBytes { raw in
            while let r = RecordFormat.decode(raw, at: offset, maxPayload: 4096) {
                if r.seq != 0 { out.append((r.seq, offset)) }
                offset += r.size
            }
        }
        return out.map { (seq: $0.0, start: $0.1) }
    }

    @Test func sealRoundTripAndRejectsDamage() {
        let seal = RecordFormat.Seal(base: 17, firstSeq: 17, lastSeq: 40, records: 24, lastTimestamp: -5, bodyEnd: 3990)
        let bytes = RecordFormat.encodeSeal(seal)
        #expect(bytes.count == RecordFormat.sealRecordSize)
        #expect(bytes.withUnsafeBytes { RecordFormat.decodeSeal($0, at: 0) } == seal)
        for bit in stride(from: 0, to: bytes.count * 8, by: 7) {
            var bad = bytes
            bad[bit / 8] ^= UInt8(1 << (bit % 8))
            #expect(bad.withUnsafeBytes { RecordFormat.decodeSeal($0, at: 0) } == nil, "bit \(bit)")
        }
        // A reading is never taken for a seal.
        let reading = RecordFormat.encode(seq: 3, timestamp: 0, payload: bytes)
        #expect(reading.withUnsafeBytes { RecordFormat.decodeSeal($0, at: 0) } == nil)
    }

    @Test func everySealedSegmentIsTakenFromItsSealAndReplayIsComplete() throws {
        let dir = TempDir("spool-seal"); defer { dir.remove() }
        try filled(dir, count: 300)
        let files = segmentFiles(dir.path)
        #expect(files.count > 5)
        let spool = try Spool(directory: dir.path, configuration: config)
        #expect(spool.stats.segmentsTakenFromSeals == files.count - 1, "all but the active segment")
        #expect(spool.stats.lostInRecovery == 0 && spool.stats.bytesTruncatedInRecovery == 0)
        #expect(spool.stats.pendingRecords == 300)
        let seqs = try drain(spool).map(\.seq)
        #expect(seqs == Array(1...300))
        #expect(try spool.append { payload(for: $0) }.seq == 301)
    }

    @Test func aSealedSegmentIsNotReadAtOpenButItsDamageIsFoundByReplay() throws {
        let dir = TempDir("spool-seal"); defer { dir.remove() }
        try filled(dir, count: 300)
        let files = segmentFiles(dir.path)
        let target = files[2]
        let records = recordOffsets(target)
        let victim = records[records.count / 2]
        // Flip a bit in the middle of a reading of the third (sealed) segment.
        let handle = FileHandle(forUpdatingAtPath: target)!
        handle.seek(toFileOffset: UInt64(victim.start + RecordFormat.headerSize))
        var byte = handle.readData(ofLength: 1)
        byte[0] ^= 0x10
        handle.seek(toFileOffset: UInt64(victim.start + RecordFormat.headerSize))
        handle.write(byte)
        handle.closeFile()
        let lost = Set(records.map(\.seq).filter { $0 >= victim.seq })

        let seqs: [UInt64]
        do {
            let spool = try Spool(directory: dir.path, configuration: config)
            #expect(spool.stats.lostInRecovery == 0, "the open read only the seal: the damage is not seen yet")
            seqs = try drain(spool).map(\.seq)
            #expect(seqs == (1...300).filter { !lost.contains($0) }, "everything but the damaged record and the rest of its segment")
            #expect(spool.stats.lostInRecovery == UInt64(lost.count))
            #expect(spool.stats.pendingRecords == seqs.count, "the lost readings are a hole, not pending forever")
            // Dropped without a close, as in a crash.
        }
        // The file was cut at the damage (its seal went with it), so the next open scans it and agrees.
        #expect(recordOffsets(target).map(\.seq) == records.map(\.seq).filter { $0 < victim.seq })
        do {
            let spool = try Spool(directory: dir.path, configuration: config)
            #expect(try drain(spool).map(\.seq) == seqs)
            // Everything delivered: the low-water mark steps over the hole.
            for s in seqs { spool.acknowledge(s) }
            #expect(spool.stats.pendingRecords == 0 && spool.stats.acknowledgedThrough == 300)
            try spool.close()
        }
        let again = try Spool(directory: dir.path, configuration: config)
        #expect(try drain(again).isEmpty)
        #expect(try again.append { payload(for: $0) }.seq == 301)
    }

    @Test func aSpoolWithoutSealsIsScannedAsBefore() throws {
        // Segments written before seals existed (or whose seal was torn): cut every seal off.
        let dir = TempDir("spool-seal"); defer { dir.remove() }
        try filled(dir, count: 200)
        for path in segmentFiles(dir.path).dropLast() {
            let records = recordOffsets(path)
            let end = records.last.map { $0.start } ?? 0
            let bytes = [UInt8](FileManager.default.contents(atPath: path)!)
            var size = end
            bytes.withUnsafeBytes { raw in size = end + RecordFormat.decode(raw, at: end, maxPayload: 4096)!.size }
            let handle = FileHandle(forUpdatingAtPath: path)!
            handle.truncateFile(atOffset: UInt64(size))
            handle.closeFile()
        }
        let spool = try Spool(directory: dir.path, configuration: config)
        #expect(spool.stats.segmentsTakenFromSeals == 0)
        #expect(spool.stats.bytesTruncatedInRecovery == 0 && spool.stats.lostInRecovery == 0)
        #expect(try drain(spool).map(\.seq) == Array(1...200))
    }
}
