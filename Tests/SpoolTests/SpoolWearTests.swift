import Foundation
import Testing
@testable import Spool

/// Flash wear: bytes written per 200-byte reading (append + broker acknowledgement) at commit batch sizes
/// 1, 10 and 50, from the spool's own counters and from the kernel's per-thread write_bytes (pages dirtied:
/// what reaches the flash, journal excluded). Numbers are printed for docs/spool.md; only the spool's own
/// deterministic counters are asserted, never a time.
@Suite struct SpoolWearTests {
    /// write_bytes of the calling thread (/proc/thread-self/io): other tests running in parallel threads
    /// of this process do not count.
    static func threadWriteBytes() -> UInt64? {
        guard let text = try? String(contentsOfFile: "/proc/thread-self/io", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("write_bytes:") {
            return UInt64(line.split(separator: " ").last!)
        }
        return nil
    }

    struct Measurement {
        var counterBytesPerReading: Double
        var kernelBytesPerReading: Double?
        var syncsPerReading: Double
        var appendsPerSecond: Double
    }

    static func measure(batch: Int, readings: Int = 2000) throws -> Measurement {
        let dir = TempDir("spool-wear"); defer { dir.remove() }
        let spool = try Spool(
            directory: dir.path,
            configuration: .init(maxBytes: 64 << 20, commit: .init(everyRecords: batch, everyMilliseconds: 3_600_000)))
        let before = spool.stats
        let kernelBefore = threadWriteBytes()
        let start = Date()
        for _ in 0..<readings {
            let seq = try spool.append { payload(for: $0, size: 200) }.seq
            spool.acknowledge(seq)  // the broker's PUBACK, persisted with the next commit
        }
        try spool.commit()
        let elapsed = Date().timeIntervalSince(start)
        let kernelAfter = threadWriteBytes()
        let after = spool.stats
        let n = Double(readings)
        return Measurement(
            counterBytesPerReading: Double(after.bytesWritten - before.bytesWritten) / n,
            kernelBytesPerReading: kernelBefore.flatMap { b in kernelAfter.map { Double($0 - b) / n } },
            syncsPerReading: Double(after.syncs - before.syncs) / n,
            appendsPerSecond: n / elapsed)
    }

    @Test func bytesWrittenPerReadingByBatchSize() throws {
        var results: [Int: Measurement] = [:]
        for batch in [1, 10, 50] {
            let m = try Self.measure(batch: batch, readings: batch == 1 ? 300 : 2000)
            results[batch] = m
            print(
                "spool wear: batch \(batch): \(Int(m.counterBytesPerReading)) B/reading written by the spool, "
                    + "\(m.kernelBytesPerReading.map { "\(Int($0))" } ?? "n/a") B/reading dirtied (kernel write_bytes), "
                    + "\(String(format: "%.3f", m.syncsPerReading)) syncs/reading, ~\(Int(m.appendsPerSecond)) appends/s (informational)")
        }
        // Replay of a backlog as the agent does it (pages of 100), informational.
        let dir = TempDir("spool-replay"); defer { dir.remove() }
        let spool = try Spool(directory: dir.path, configuration: .init(maxBytes: 64 << 20))
        for _ in 0..<20_000 { _ = try spool.append { payload(for: $0, size: 200) } }
        let start = Date()
        let replayed = try drain(spool, page: 100)
        let rate = Double(replayed.count) / Date().timeIntervalSince(start)
        #expect(replayed.map(\.seq) == Array(1...20_000))
        print("spool replay: \(replayed.count) readings read back in order at ~\(Int(rate)) readings/s (informational)")
        // The spool's own counters are exact: 224 B per record (200 + 24 of framing), a handful of state
        // slots and segment headers; one data sync per commit, acknowledgements on their own 10 s clock.
        for m in results.values { #expect(m.counterBytesPerReading >= 224 && m.counterBytesPerReading < 240) }
        #expect(results[1]!.syncsPerReading >= 1 && results[1]!.syncsPerReading < 1.01)
        #expect(results[50]!.syncsPerReading <= 1.0 / 50 + 0.005)
    }
}
