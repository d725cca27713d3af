// The protocol core's hot paths under package-benchmark, with malloc counters (MallocInterposer trait).
//
// The inputs are those of `dlms-bridge bench` and `make bench-check`: a 26-byte I-frame (client SAP 32,
// server logical 1 / physical 1234 with a 4-byte address) carrying GET-Response-Normal with a
// double-long-unsigned, a GET-Request-Normal for 1-1:1.8.0.255 attribute 2, and 64 KiB for the CRC.
//
// Static thresholds in Thresholds/*.p90.json pin `mallocCountTotal` to 0 for parse-frame,
// decode-get-response, build-get-request and crc-64KiB: `make bench-malloc-check` fails on any allocation.
import Benchmark
import COSEM
import HDLC

// The inputs and the measured operations are `dlms-bridge bench`'s own (BenchOps.swift, linked here), so the
// CLI, callgrind (`make bench-check`) and this suite measure one piece of code.

/// What only this suite measures besides the four hot paths.
struct StreamFixture {
    /// 40 response frames back to back, cut into 64-byte chunks as a socket would deliver them.
    let streamChunks: [[UInt8]]
    /// A register's scaler_unit plus a value and a clock: `structure { structure { integer, enum },
    /// double-long-unsigned, octet-string(12) }`.
    let structure: [UInt8]

    init(_ f: BenchFixture) {
        var stream: [UInt8] = []
        for _ in 0..<40 { stream += f.responseFrame }
        streamChunks = stride(from: 0, to: stream.count, by: 64).map { Array(stream[$0..<min($0 + 64, stream.count)]) }
        structure = DataValue.structure([
            .structure([.integer(-1), .enumerated(35)]),
            .doubleLongUnsigned(2301),
            .octetString([0x07, 0xEA, 0x0B, 0x16, 0x07, 0x04, 0x1F, 0x07, 0x00, 0x00, 0x00, 0x00]),
        ]).encoded
    }
}

let benchmarks: @Sendable () -> Void = {
    let metrics: [BenchmarkMetric] = [.wallClock, .throughput, .mallocCountTotal]
    Benchmark.defaultConfiguration = .init(
        metrics: metrics, timeUnits: .nanoseconds, warmupIterations: 10, scalingFactor: .kilo,
        maxDuration: .seconds(1), maxIterations: 2_000)

    Benchmark("parse-frame") { benchmark in
        let f = BenchFixture()
        f.responseFrame.withUnsafeBytes { raw in
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(benchParseFrameOnce(raw))
            }
        }
    }

    Benchmark("decode-get-response") { benchmark in
        let f = BenchFixture()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(benchDecodeGetResponseOnce(f.responseFrame))
        }
    }

    Benchmark("build-get-request") { benchmark in
        let f = BenchFixture()
        var out = [UInt8](repeating: 0, count: 256)
        out.withUnsafeMutableBytes { buffer in
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(benchBuildGetRequestOnce(buffer, request: f.request, destination: f.server, source: f.client))
            }
        }
    }

    Benchmark("crc-64KiB") { benchmark in
        let f = BenchFixture()
        f.crcInput.withUnsafeBytes { raw in
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(benchCRCOnce(raw))
            }
        }
    }

    // Not pinned to zero mallocs: the deframer's buffer is allocated once per Deframer (here per iteration).
    Benchmark("deframer-stream-40-frames") { benchmark in
        let f = StreamFixture(BenchFixture())
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            var deframer = Deframer()
            var frames = 0
            for chunk in f.streamChunks {
                deframer.feed(chunk) { _, _ in frames += 1 }
            }
            blackHole(frames)
        }
    }

    // A structure allocates its element arrays; measured, not pinned.
    Benchmark("axdr-decode-structure") { benchmark in
        let f = StreamFixture(BenchFixture())
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try? DataValue.decode(f.structure))
        }
    }
}
