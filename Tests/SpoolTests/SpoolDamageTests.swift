import Foundation
import Testing
@testable import Spool

/// Torn writes and flash bit rot, simulated: a spool is written, one of its files is cut at a random offset
/// and/or has a random bit flipped, and it is reopened as after a power loss (another boot id).
@Suite struct SpoolDamageTests {
    struct Layout {
        /// Per segment file: its records as (seq, start offset, end offset).
        var segments: [String: [(seq: UInt64, start: Int, end: Int)]] = [:]
    }

    static func layout(of dir: String, maxPayload: Int) -> Layout {
        var layout = Layout()
        for path in segmentFiles(dir) {
            let bytes = [UInt8](FileManager.default.contents(atPath: path)!)
            var records: [(UInt64, Int, Int)] = []
            var offset = RecordFormat.segmentHeaderSize
            bytes.withUnsafeBytes { raw in
                while let r = RecordFormat.decode(raw, at: offset, maxPayload: maxPayload) {
                    // Seq 0 is a segment's seal, not a reading.
                    if r.seq != 0 { records.append((r.seq, offset, offset + r.size)) }
                    offset += r.size
                }
            }
            #expect(offset == bytes.count, "an undamaged segment holds only whole records")
            layout.segments[path] = records.map { (seq: $0.0, start: $0.1, end: $0.2) }
        }
        return layout
    }

    @Test(arguments: 0..<40)
    func damagedSpoolRecoversToAConsistentPrefix(batch: Int) throws {
        for seed in UInt64(batch * 10)..<UInt64(batch * 10 + 10) { try checkOne(seed: seed) }
    }

    func checkOne(seed: UInt64) throws {
        var rng = SplitMix(seed: seed)
        let dir = TempDir("spool-damage"); defer { dir.remove() }
        let config = SpoolConfiguration(
            maxBytes: 1 << 20, segmentBytes: 2048,
            commit: CommitPolicy(
                everyRecords: Int.random(in: 1...20, using: &rng),
                everyMilliseconds: Bool.random(using: &rng) ? 0 : 3_600_000),
            seqLease: UInt64.random(in: 1...64, using: &rng))
        let count = UInt64.random(in: 1...160, using: &rng)
        var acked = Set<UInt64>()
        do {
            let spool = try Spool(directory: dir.path, configuration: config)
            for _ in 0..<count {
                let seq = try spool.append { payload(for: $0) }.seq
                if Int.random(in: 0..<10, using: &rng) < 3 {
                    // Ack something recent, not necessarily this one: out of order.
                    let target = seq - UInt64.random(in: 0...min(seq - 1, 5), using: &rng)
                    if spool.acknowledge(target) { acked.insert(target) }
                }
                if Int.random(in: 0..<100, using: &rng) < 4 { try spool.commit() }  // a commit the timer would make
            }
            try spool.commit()
            if Bool.random(using: &rng) { try spool.close() }
        }
        let layout = Self.layout(of: dir.path, maxPayload: config.maxPayloadBytes)
        var survivors = Set(layout.segments.values.flatMap { $0.map(\.seq) })

        // Damage one file: a segment (usually the newest) or the state file.
        let segments = segmentFiles(dir.path)
        let roll = Int.random(in: 0..<100, using: &rng)
        let target = roll < 15 ? dir.path + "/state"
            : roll < 60 ? segments.last! : segments.randomElement(using: &rng)!
        let handle = FileHandle(forUpdatingAtPath: target)!
        let size = Int(handle.seekToEndOfFile())
        var damageAt = size
        let mode = Int.random(in: 0..<3, using: &rng)
        if size > 0 && (mode == 0 || mode == 2) {
            damageAt = Int.random(in: 0..<size, using: &rng)
            handle.truncateFile(atOffset: UInt64(damageAt))
        }
        let sizeNow = Int(handle.seekToEndOfFile())
        if sizeNow > 0 && (mode == 1 || mode == 2) {
            let at = Int.random(in: 0..<sizeNow, using: &rng)
            handle.seek(toFileOffset: UInt64(at))
            var byte = handle.readData(ofLength: 1)
            byte[0] ^= UInt8(1 << Int.random(in: 0..<8, using: &rng))
            handle.seek(toFileOffset: UInt64(at))
            handle.write(byte)
            damageAt = min(damageAt, at)
        }
        handle.closeFile()
        if let records = layout.segments[target] {
            let keep = damageAt < RecordFormat.segmentHeaderSize ? [] : records.filter { $0.end <= damageAt }
            for r in records where !keep.contains(where: { $0.seq == r.seq }) { survivors.remove(r.seq) }
        }

        let context = "seed \(seed), \(count) records, damage in \(target.split(separator: "/").last!) at \(damageAt)"
        let spool = try Spool(directory: dir.path, configuration: config, bootID: Array("reboot-\(seed)".utf8))
        let pending = try drain(spool)
        let seqs = pending.map(\.seq)
        #expect(seqs == seqs.sorted() && Set(seqs).count == seqs.count, "in order, once each: \(context)")
        #expect(pending.allSatisfy { $0.payload == payload(for: $0.seq) }, "payloads intact: \(context)")
        #expect(Set(seqs).isSubset(of: survivors), "nothing after a bad record is returned: \(context)")
        #expect(survivors.subtracting(acked).isSubset(of: Set(seqs)), "every record before the damage survives: \(context)")
        #expect(spool.stats.pendingRecords == seqs.count, "pending count: \(context)")
        let again = try Spool(directory: dir.path, configuration: config, bootID: Array("reboot-\(seed)".utf8))
        let seqs2 = try drain(again).map(\.seq)
        #expect(seqs2 == seqs, "a second open sees the same state: \(context) first \(seqs) second \(seqs2) acked \(acked.sorted())")
        let next = try again.append { payload(for: $0) }.seq
        #expect(next > count, "seq \(next) never repeats: \(context)")
    }
}
