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

struct Fixture {
    let client = try! HDLCAddress.client(sap: 32)
    let server = try! HDLCAddress(logical: 1, physical: 1234, width: .four)
    let responseFrame: [UInt8]
    let request: GetRequest
    let crcInput: [UInt8]
    /// 40 response frames back to back, cut into 64-byte chunks as a socket would deliver them.
    let streamChunks: [[UInt8]]
    /// A register's scaler_unit plus a value and a clock: `structure { structure { integer, enum },
    /// double-long-unsigned, octet-string(12) }`.
    let structure: [UInt8]

    init() {
        let apdu = GetResponse.normal(invoke: InvokeIdAndPriority(invokeId: 1),
                                      result: .data(.doubleLongUnsigned(123_456))).encode()
        responseFrame = try! HDLCFrame.encode(destination: client, source: server,
                                              control: .information(send: 0, receive: 1, poll: true),
                                              llc: .response, info: apdu)
        request = .normal(invoke: InvokeIdAndPriority(invokeId: 1),
                          attribute: AttributeDescriptor(classId: 3, obis: ObisCode(1, 1, 1, 8, 0), attribute: 2),
                          access: nil)
        var x: UInt32 = 0x2545_F491
        crcInput = (0..<65_536).map { _ in
            x ^= x << 13; x ^= x >> 17; x ^= x << 5
            return UInt8(truncatingIfNeeded: x)
        }
        var stream: [UInt8] = []
        for _ in 0..<40 { stream += responseFrame }
        streamChunks = stride(from: 0, to: stream.count, by: 64).map { Array(stream[$0..<min($0 + 64, stream.count)]) }
        structure = DataValue.structure([
            .structure([.integer(-1), .enumerated(35)]),
            .doubleLongUnsigned(2301),
            .octetString([0x07, 0xEA, 0x0B, 0x16, 0x07, 0x04, 0x1F, 0x07, 0x00, 0x00, 0x00, 0x00]),
        ]).encoded
    }
}

/// From the frame's bytes to the typed value, as the agent does for a scalar register.
@inline(__always)
func decodeScalar(_ frame: [UInt8]) -> UInt64 {
    let apdu: Range<Int>? = frame.withUnsafeBytes { raw in
        guard let parsed = try? HDLCFrame.parse(raw) else { return nil }
        let info = parsed.infoRange
        guard info.count > LLCHeader.count,
              LLCHeader.detect(UnsafeRawBufferPointer(rebasing: raw[info])) == .response
        else { return nil }
        return (info.lowerBound + LLCHeader.count)..<info.upperBound
    }
    guard let apdu else { return 0 }
    var reader = ByteReader(frame, range: apdu)
    guard let response = try? GetResponse.decode(from: &reader), reader.isAtEnd,
          case let .normal(_, .data(value)) = response, let number = value.unsignedValue
    else { return 0 }
    return number
}

let benchmarks: @Sendable () -> Void = {
    let metrics: [BenchmarkMetric] = [.wallClock, .throughput, .mallocCountTotal]
    Benchmark.defaultConfiguration = .init(
        metrics: metrics, timeUnits: .nanoseconds, warmupIterations: 10, scalingFactor: .kilo,
        maxDuration: .seconds(1), maxIterations: 2_000)

    Benchmark("parse-frame") { benchmark in
        let f = Fixture()
        f.responseFrame.withUnsafeBytes { raw in
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(try? HDLCFrame.parse(raw))
            }
        }
    }

    Benchmark("decode-get-response") { benchmark in
        let f = Fixture()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(decodeScalar(f.responseFrame))
        }
    }

    Benchmark("build-get-request") { benchmark in
        let f = Fixture()
        var out = [UInt8](repeating: 0, count: 256)
        out.withUnsafeMutableBytes { buffer in
            // The APDU is written in place after the LLC header, then framed around (as `dlms-bridge bench`).
            let at = HDLCFrame.infoOffset(destination: f.server, source: f.client, llc: .request)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                var n = -1
                if let count = f.request.write(into: UnsafeMutableRawBufferPointer(rebasing: buffer[at...])) {
                    n = (try? HDLCFrame.encode(into: buffer, destination: f.server, source: f.client,
                                               control: .information(send: 0, receive: 0, poll: true),
                                               llc: .request, infoInPlace: count)) ?? -1
                }
                blackHole(n)
            }
        }
    }

    Benchmark("crc-64KiB") { benchmark in
        let f = Fixture()
        f.crcInput.withUnsafeBytes { raw in
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(CRC16.checksum(raw))
            }
        }
    }

    // Not pinned to zero mallocs: the deframer's buffer is allocated once per Deframer (here per iteration).
    Benchmark("deframer-stream-40-frames") { benchmark in
        let f = Fixture()
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
        let f = Fixture()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try? DataValue.decode(f.structure))
        }
    }
}
