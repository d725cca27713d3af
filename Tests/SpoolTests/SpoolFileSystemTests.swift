import Foundation
import Testing
@testable import Spool

/// A full file system (a 256 KiB tmpfs) and a file system that turns read-only under the spool (ext4 on a
/// loop device with errors=remount-ro, failed through its trigger_fs_error knob, the way an SD card fails).
/// Mounting needs root (CAP_SYS_ADMIN), as the test suite has on CI and on the developers' machines: these
/// tests run always (a full disk and a read-only file system are too important to leave out quietly).
@Suite(.serialized)
struct SpoolFileSystemTests {
    @discardableResult
    static func mustRun(_ args: [String]) -> String {
        let r = run(args)
        #expect(r.status == 0, "\(args.joined(separator: " ")) failed (\(r.status)): \(r.output) — these tests need root to mount")
        return r.output
    }

    @Test func fullFileSystemKeepsReadingsInMemoryThenRecovers() throws {
        let dir = TempDir("spool-enospc"); defer { dir.remove() }
        let mnt = dir.path + "/mnt"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        Self.mustRun(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt])
        defer { run(["umount", "-l", mnt]) }
        let config = SpoolConfiguration(
            maxBytes: 8 << 20, segmentBytes: 32 << 10, commit: .init(everyRecords: 10),
            memoryBudgetBytes: 8 << 10, retryMilliseconds: 0)
        let spool = try Spool(directory: mnt + "/meter-1", configuration: config)
        var lastOnFlash: UInt64 = 0
        var firstInMemory: AppendReceipt?
        for _ in 0..<5000 {
            let r = try spool.append { payload(for: $0, size: 200) }
            if !r.onFlash { firstInMemory = r; break }
            lastOnFlash = r.seq
        }
        let receipt = try #require(firstInMemory, "a 256 KiB file system must fill up")
        guard case .noSpace = receipt.problem else {
            Issue.record("expected noSpace, got \(String(describing: receipt.problem))")
            return
        }
        let message = receipt.problem!.description
        #expect(message.contains("full file system") && message.contains("SPOOL_MAX_BYTES")
            && message.contains("kept in memory up to 8192 bytes"), "\(message)")
        print("spool ENOSPC: \(message)")
        for _ in 0..<100 { #expect(try !spool.append { payload(for: $0, size: 200) }.onFlash) }
        var st = spool.stats
        #expect(st.memoryBytes <= 8 << 10 && st.memoryRecords > 0)
        #expect(st.droppedFromMemory == UInt64(101 - st.memoryRecords), "memory drops are counted")
        let pending = try drain(spool)
        #expect(pending.count == st.pendingRecords)
        #expect(pending.map(\.seq) == pending.map(\.seq).sorted())
        let kept = pending.filter { $0.seq > lastOnFlash }.map(\.seq)
        #expect(kept == Array((lastOnFlash + 102 - UInt64(st.memoryRecords))...(lastOnFlash + 101)),
                "the newest readings are kept in memory, the oldest dropped")

        // The broker acknowledges the backlog: segments are deleted, space comes back, memory drains to flash.
        for s in 1...lastOnFlash { spool.acknowledge(s) }
        try spool.commit()
        try spool.commitIfDue()
        st = spool.stats
        #expect(st.memoryRecords == 0 && st.problem == nil, "recovered by itself: \(String(describing: st.problem))")
        #expect(try spool.append { payload(for: $0, size: 200) }.onFlash)
        try spool.close()
        let reopened = try Spool(directory: mnt + "/meter-1", configuration: config)
        #expect(try drain(reopened).map(\.seq) == kept + [lastOnFlash + 102])
        try reopened.close()
    }

    @Test func fileSystemTurningReadOnlyIsReportedAndSurvived() throws {
        let dir = TempDir("spool-erofs"); defer { dir.remove() }
        let image = dir.path + "/flash.img", mnt = dir.path + "/mnt"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        Self.mustRun(["truncate", "-s", "16M", image])
        Self.mustRun(["mkfs.ext4", "-q", "-F", image])
        Self.mustRun(["mount", "-o", "loop,errors=remount-ro", image, mnt])
        defer { run(["umount", mnt]) }
        let device = Self.mustRun(["findmnt", "-n", "-o", "SOURCE", mnt]).trimmingCharacters(in: .whitespacesAndNewlines)
        let config = SpoolConfiguration(maxBytes: 4 << 20, segmentBytes: 64 << 10, retryMilliseconds: 0)
        let spoolDir = mnt + "/meter-1"
        do {
            let spool = try Spool(directory: spoolDir, configuration: config)
            for _ in 0..<20 { #expect(try spool.append { payload(for: $0) }.onFlash) }
            try spool.commit()
            // What the kernel does when an SD card returns I/O errors under errors=remount-ro.
            let knob = "/sys/fs/ext4/\(device.split(separator: "/").last!)/trigger_fs_error"
            try Data("dlms-bridge spool test\n".utf8).write(to: URL(fileURLWithPath: knob))
            for _ in 0..<10 {
                let r = try spool.append { payload(for: $0) }
                #expect(!r.onFlash)
                guard case .readOnly = r.problem else {
                    Issue.record("expected readOnly, got \(String(describing: r.problem))")
                    return
                }
            }
            let message = spool.stats.problem!.description
            #expect(message.contains("read-only file system") && message.contains("remount"), "\(message)")
            print("spool EROFS: \(message)")
            #expect(try drain(spool).map(\.seq) == Array(1...30), "flash and memory readings replay in order")
            _ = try? spool.commit()
            #expect(throws: SpoolError.self, "closing with readings only in memory reports it") { try spool.close() }
        }
        do {
            // Restart while still read-only: opens in read-only mode, replays what is on flash.
            let spool = try Spool(directory: spoolDir, configuration: config)
            guard case .readOnly = spool.stats.problem else {
                Issue.record("expected readOnly mode, got \(String(describing: spool.stats.problem))")
                return
            }
            #expect(try drain(spool).map(\.seq) == Array(1...20))
            let r = try spool.append { payload(for: $0) }
            #expect(!r.onFlash && r.seq > 30, "seq \(r.seq) continues past the readings held in memory before")
        }
        // The operator repairs the file system.
        Self.mustRun(["umount", mnt])
        let fsck = run(["e2fsck", "-f", "-y", image])
        #expect(fsck.status <= 1, "e2fsck: \(fsck.output)")
        Self.mustRun(["mount", "-o", "loop,errors=remount-ro", image, mnt])
        let spool = try Spool(directory: spoolDir, configuration: config)
        #expect(spool.stats.problem == nil)
        #expect(try drain(spool).map(\.seq) == Array(1...20))
        let r = try spool.append { payload(for: $0) }
        #expect(r.onFlash && r.seq > 30)
        try spool.close()
    }

    @Test func readOnlyDirectoryAtStartIsExplained() throws {
        let dir = TempDir("spool-ro"); defer { dir.remove() }
        let mnt = dir.path + "/mnt"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        Self.mustRun(["mount", "-t", "tmpfs", "-o", "size=64k,ro", "tmpfs", mnt])
        defer { run(["umount", mnt]) }
        #expect {
            _ = try Spool(directory: mnt + "/meter-1")
        } throws: { error in
            "\(error)".contains("cannot open the spool directory") && "\(error)".contains("Read-only file system")
        }
    }
}
