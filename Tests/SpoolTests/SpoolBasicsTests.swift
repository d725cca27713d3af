import Foundation
import Testing
@testable import Spool

@Suite struct SpoolBasicsTests {
    @Test func crc32cCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
    }

    @Test func recordRoundTripAndRejectsEveryDamage() {
        let rec = RecordFormat.encode(seq: 42, timestamp: 1_700_000_000_123, payload: payload(for: 42))
        rec.withUnsafeBytes { raw in
            let r = RecordFormat.decode(raw, at: 0, maxPayload: 4096)
            #expect(r?.seq == 42)
            #expect(r?.timestamp == 1_700_000_000_123)
            #expect(r.map { Array(raw[$0.payload]) } == payload(for: 42))
        }
        // Every single-bit flip and every cut is detected (CRC-32C catches all 1-bit errors).
        for bit in 0..<(rec.count * 8) {
            var bad = rec
            bad[bit / 8] ^= UInt8(1 << (bit % 8))
            #expect(bad.withUnsafeBytes { RecordFormat.decode($0, at: 0, maxPayload: 4096) } == nil, "bit \(bit)")
        }
        for cut in 0..<rec.count {
            #expect(Array(rec.prefix(cut)).withUnsafeBytes { RecordFormat.decode($0, at: 0, maxPayload: 4096) } == nil)
        }
    }

    @Test func appendAcknowledgeReplayInOrder() throws {
        let dir = TempDir(); defer { dir.remove() }
        let spool = try Spool(directory: dir.path, configuration: .init(maxBytes: 1 << 20, segmentBytes: 4096))
        var seqs: [UInt64] = []
        for _ in 0..<100 { seqs.append(try spool.append { payload(for: $0) }.seq) }
        #expect(seqs == Array(1...100))
        // Acks out of order, as QoS 1 with an in-flight window delivers them.
        for s: UInt64 in [3, 1, 2, 10, 7, 5] { #expect(spool.acknowledge(s)) }
        #expect(!spool.acknowledge(3), "a repeated ack is refused")
        #expect(!spool.acknowledge(500), "an unknown seq is refused")
        let pending = try drain(spool)
        let expected = (1...100).filter { ![1, 2, 3, 5, 7, 10].contains($0) }.map(UInt64.init)
        #expect(pending.map(\.seq) == expected)
        #expect(pending.allSatisfy { $0.payload == payload(for: $0.seq) })
        let st = spool.stats
        #expect(st.acknowledgedThrough == 3)
        #expect(st.pendingRecords == expected.count)
        #expect(st.oldestPendingSeq == 4)
        #expect(st.newestPendingSeq == 100)
        #expect(st.segments > 1, "100 records of ~130 bytes span several 4 KiB segments")
        try spool.close()
    }

    @Test func durableThroughFollowsTheCommitPolicy() throws {
        let dir = TempDir(); defer { dir.remove() }
        let spool = try Spool(
            directory: dir.path,
            configuration: .init(maxBytes: 1 << 20, segmentBytes: 4096, commit: .init(everyRecords: 5, everyMilliseconds: 3_600_000)))
        for _ in 0..<4 { _ = try spool.append { payload(for: $0) } }
        #expect(spool.stats.durableThrough == 0)
        _ = try spool.append { payload(for: $0) }
        #expect(spool.stats.durableThrough == 5, "the fifth record triggers the commit")
        for _ in 0..<3 { _ = try spool.append { payload(for: $0) } }
        #expect(spool.stats.durableThrough == 5)
        try spool.commit()
        #expect(spool.stats.durableThrough == 8)
    }

    @Test func acknowledgedSegmentsAreDeleted() throws {
        let dir = TempDir(); defer { dir.remove() }
        let spool = try Spool(directory: dir.path, configuration: .init(maxBytes: 1 << 20, segmentBytes: 4096))
        for _ in 0..<200 { _ = try spool.append { payload(for: $0) } }
        let before = segmentFiles(dir.path).count
        for s in (1...150).reversed() { spool.acknowledge(UInt64(s)) }
        try spool.commit()
        let after = segmentFiles(dir.path).count
        #expect(before > 3 && after < before)
        #expect(try drain(spool).map(\.seq) == Array(151...200))
        try spool.close()
    }

    @Test func reopenKeepsPendingAndAcksAndNeverRepeatsSeq() throws {
        let dir = TempDir(); defer { dir.remove() }
        let config = SpoolConfiguration(maxBytes: 1 << 20, segmentBytes: 4096)
        do {
            let spool = try Spool(directory: dir.path, configuration: config)
            for _ in 0..<50 { _ = try spool.append { payload(for: $0) } }
            for s: UInt64 in [1, 2, 4, 40] { spool.acknowledge(s) }
            try spool.close()
        }
        do {
            let spool = try Spool(directory: dir.path, configuration: config)
            #expect(try drain(spool).map(\.seq) == (3...50).filter { $0 != 4 && $0 != 40 }.map(UInt64.init))
            #expect(try spool.append { payload(for: $0) }.seq == 51, "a clean close continues with no gap")
            // Everything acknowledged and deleted: the seq still continues.
            for s in 1...51 { spool.acknowledge(UInt64(s)) }
            try spool.close()
        }
        do {
            let spool = try Spool(directory: dir.path, configuration: config)
            #expect(try drain(spool).isEmpty)
            #expect(spool.stats.pendingRecords == 0)
            #expect(try spool.append { payload(for: $0) }.seq == 52)
            // No close: a crash in the same boot. The page cache holds every record.
        }
        do {
            let spool = try Spool(directory: dir.path, configuration: config)
            #expect(try drain(spool).map(\.seq) == [52])
            #expect(try spool.append { payload(for: $0) }.seq == 53)
        }
    }

    @Test func afterRebootSeqContinuesPastTheLease() throws {
        let dir = TempDir(); defer { dir.remove() }
        let config = SpoolConfiguration(maxBytes: 1 << 20, segmentBytes: 4096, seqLease: 100)
        do {
            let spool = try Spool(directory: dir.path, configuration: config)
            for _ in 0..<130 { _ = try spool.append { payload(for: $0) } }
            // No commit, no close: then a power loss takes the last records (simulated by cutting them).
        }
        let last = segmentFiles(dir.path).last!
        let size = try FileManager.default.attributesOfItem(atPath: last)[.size] as! Int
        truncate(last, off_t(size - 300))
        let spool = try Spool(directory: dir.path, configuration: config, bootID: Array("another-boot".utf8))
        let survivors = try drain(spool).map(\.seq)
        #expect(survivors.last! < 130)
        let next = try spool.append { payload(for: $0) }.seq
        #expect(next > 130, "seq \(next) must not reuse one handed out before the power loss")
        #expect(spool.stats.pendingRecords == survivors.count + 1, "the skipped seqs are not counted as pending")
        // Acknowledging everything that exists reaches the end despite the gap.
        for s in survivors { spool.acknowledge(s) }
        spool.acknowledge(next)
        #expect(spool.stats.acknowledgedThrough == next)
    }

    @Test func sizeCapDropsOldestAndCounts() throws {
        let dir = TempDir(); defer { dir.remove() }
        let spool = try Spool(directory: dir.path, configuration: .init(maxBytes: 16 << 10, segmentBytes: 4096))
        for _ in 0..<1000 { #expect(try spool.append { payload(for: $0, size: 200) }.onFlash) }
        let st = spool.stats
        #expect(st.flashBytes <= 16 << 10)
        let left = try drain(spool)
        #expect(left.last?.seq == 1000)
        #expect(st.droppedByCap + UInt64(left.count) == 1000, "every reading is either kept or counted as dropped")
        #expect(left.map(\.seq) == Array(left.first!.seq...1000), "the oldest are dropped, the rest kept in order")
        #expect(st.pendingRecords == left.count)
        try spool.close()
        let reopened = try Spool(directory: dir.path, configuration: .init(maxBytes: 16 << 10, segmentBytes: 4096))
        #expect(try drain(reopened).map(\.seq) == left.map(\.seq))
        #expect(try reopened.append { payload(for: $0) }.seq == 1001)
    }

    @Test func ageLimitDropsOldSegments() throws {
        let dir = TempDir(); defer { dir.remove() }
        let spool = try Spool(
            directory: dir.path,
            configuration: .init(maxBytes: 1 << 20, segmentBytes: 4096, maxAgeMilliseconds: 60_000))
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        for _ in 0..<100 { _ = try spool.append(timestamp: now - 3_600_000) { payload(for: $0, size: 200) } }
        for _ in 0..<100 { _ = try spool.append(timestamp: now) { payload(for: $0, size: 200) } }
        let left = try drain(spool)
        #expect(left.allSatisfy { $0.seq > 80 }, "segments holding only hour-old readings are dropped")
        #expect(spool.stats.droppedByCap + UInt64(left.count) == 200)
    }

    @Test func oversizedRecordIsRefusedWithoutConsumingASeq() throws {
        let dir = TempDir(); defer { dir.remove() }
        let spool = try Spool(directory: dir.path, configuration: .init(maxBytes: 1 << 20, segmentBytes: 4096))
        #expect(throws: SpoolError.recordTooLarge(bytes: 5000, limit: 4096 - 40)) {
            try spool.append([UInt8](repeating: 1, count: 5000))
        }
        #expect(try spool.append([1]).seq == 1)
        #expect(SpoolError.recordTooLarge(bytes: 5000, limit: 4056).description.contains("DLMS_MEASUREMENTS"))
    }

    @Test func invalidConfigurationIsExplained() {
        #expect(throws: SpoolError.self) {
            _ = try Spool(directory: TempDir().path, configuration: .init(maxBytes: 4096, segmentBytes: 4096))
        }
        let e = SpoolError.invalidConfiguration("x")
        #expect(e.description.hasPrefix("invalid spool configuration"))
    }

    /// Regression: deinit after close() closed the state file's descriptor a second time; by then the
    /// number belonged to another file of the process (found by the damage test under parallel load).
    @Test func closeThenDeinitClosesNoForeignDescriptor() throws {
        let dir = TempDir(); defer { dir.remove() }
        var spool: Spool? = try Spool(directory: dir.path)
        _ = try spool!.append([1, 2, 3])
        try spool!.close()
        // The lowest free numbers now: the ones the spool just released.
        let mine = (0..<4).map { _ in open(dir.path + "/state", O_RDONLY) }
        #expect(mine.allSatisfy { $0 >= 0 })
        spool = nil
        #expect(mine.allSatisfy { fcntl($0, F_GETFD) >= 0 }, "the spool's deinit closed a descriptor it no longer owned")
        for fd in mine { close(fd) }
    }

    @Test func perMeterDirectoryCannotEscapeTheRoot() {
        #expect(Spool.directory(root: "/var/lib/dlms-bridge/spool", deviceID: "microstar-01")
            == "/var/lib/dlms-bridge/spool/microstar-01")
        #expect(Spool.directory(root: "/s/", deviceID: "../etc/passwd") == "/s/.._etc_passwd")
        #expect(Spool.directory(root: "/s", deviceID: "..") == "/s/_..")
        #expect(Spool.directory(root: "/s", deviceID: "") == "/s/_")
        #expect(Spool.directory(root: "/s", deviceID: "medidor ñ") == "/s/medidor__")
    }

    @Test func concurrentAppendsAndAcksFromThreads() throws {
        let dir = TempDir(); defer { dir.remove() }
        let spool = try Spool(directory: dir.path, configuration: .init(maxBytes: 4 << 20, segmentBytes: 16 << 10))
        let group = DispatchGroup()
        let seqs = NSLock()
        nonisolated(unsafe) var all: [UInt64] = []
        for _ in 0..<4 {
            group.enter()
            Thread {
                for _ in 0..<250 {
                    let s = try! spool.append { payload(for: $0) }.seq
                    seqs.lock(); all.append(s); seqs.unlock()
                    spool.acknowledge(s)
                }
                group.leave()
            }.start()
        }
        group.wait()
        #expect(all.sorted() == Array(1...1000))
        #expect(spool.stats.pendingRecords == 0)
        #expect(spool.stats.acknowledgedThrough == 1000)
    }
}
