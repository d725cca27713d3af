// The operations `dlms-bridge bench` times and `make bench-check` counts with callgrind: their inputs and
// the measured functions. This file imports only the protocol core, so that Benchmarks/Tools/CallgrindOps (a
// symlink to it) builds it in the benchmark package's release build too, without the rest of the agent.
import COSEM
import HDLC

/// One of the timed operations.
enum BenchOperation: String, CaseIterable, Sendable {
    case parseFrame = "parse-frame"
    case decodeGetResponse = "decode-get-response"
    case buildGetRequest = "build-get-request"
    case crc

    static let inputSummary = "inputs: 26-byte I-frame (server 1/1234, 4-byte address) carrying "
        + "GET-Response-Normal double-long-unsigned; GET-Request-Normal for 1-1:1.8.0.255 attr 2; CRC over 64 KiB"

    /// Calls the operation `iterations` times and folds the results into a number the caller keeps.
    func run(_ f: BenchFixture, iterations: Int) -> UInt64 {
        var sink: UInt64 = 0
        switch self {
        case .parseFrame:
            f.responseFrame.withUnsafeBytes { raw in
                for _ in 0..<iterations { sink &+= benchParseFrameOnce(benchOpaque(raw)) }
            }
        case .decodeGetResponse:
            for _ in 0..<iterations { sink &+= benchDecodeGetResponseOnce(benchOpaque(f.responseFrame)) }
        case .buildGetRequest:
            var out = f.output
            out.withUnsafeMutableBytes { buffer in
                for _ in 0..<iterations {
                    sink &+= UInt64(truncatingIfNeeded: benchBuildGetRequestOnce(
                        benchOpaque(buffer), request: f.request, destination: f.server, source: f.client))
                }
            }
        case .crc:
            f.crcInput.withUnsafeBytes { raw in
                for _ in 0..<iterations { sink &+= UInt64(benchCRCOnce(benchOpaque(raw))) }
            }
        }
        return sink
    }

    func bytesPerOperation(_ f: BenchFixture) -> Int {
        switch self {
        case .parseFrame, .decodeGetResponse: return f.responseFrame.count
        case .buildGetRequest: return f.requestFrameCount
        case .crc: return f.crcInput.count
        }
    }
}

/// The inputs, built once before timing.
struct BenchFixture {
    let client: HDLCAddress
    let server: HDLCAddress
    /// `7E A0 18 41 00 02 12 A5 30 HCS E6 E7 00 C4 01 C1 00 06 00 01 E2 40 FCS 7E` (26 bytes).
    let responseFrame: [UInt8]
    let request: GetRequest
    let requestFrameCount: Int
    let output: [UInt8]
    let crcInput: [UInt8]

    init() {
        // Constant, valid addresses: these cannot throw.
        client = try! HDLCAddress.client(sap: 32)
        server = try! HDLCAddress(logical: 1, physical: 1234, width: .four)
        let apdu = GetResponse.normal(invoke: InvokeIdAndPriority(invokeId: 1),
                                      result: .data(.doubleLongUnsigned(123_456))).encode()
        responseFrame = try! HDLCFrame.encode(destination: client, source: server,
                                              control: .information(send: 0, receive: 1, poll: true),
                                              llc: .response, info: apdu)
        request = .normal(invoke: InvokeIdAndPriority(invokeId: 1),
                          attribute: AttributeDescriptor(classId: 3, obis: ObisCode(1, 1, 1, 8, 0), attribute: 2),
                          access: nil)
        let requestAPDU = request.encode()
        requestFrameCount = HDLCFrame.encodedCount(destination: server, source: client,
                                                   infoCount: requestAPDU.count + LLCHeader.count)
        output = [UInt8](repeating: 0, count: 256)
        // Deterministic, non-trivial bytes.
        var x: UInt32 = 0x2545_F491
        crcInput = (0..<65_536).map { _ in
            x ^= x << 13; x ^= x >> 17; x ^= x << 5
            return UInt8(truncatingIfNeeded: x)
        }
    }
}

// MARK: - The measured functions (callgrind counts these by name: see mk/bench.mk)

/// Hides a value from the optimiser, so work on it is redone every iteration.
@inline(never) @_optimize(none)
func benchOpaque<T>(_ value: T) -> T { value }

/// Parses and validates one frame; returns a fold of every field it yields, so that none of the work of
/// decoding them can be dropped by the optimiser once parsing is inlined here.
@inline(never)
func benchParseFrameOnce(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
    do {
        let f = try HDLCFrame.parse(bytes)
        // Shifts and XORs: the cheapest fold that still needs every field, in 64 bits on every CPU (Int is
        // 32 bits on armv7); below 2^63 (Tests/system/test_bench.py recomputes it from the frame).
        return UInt64(f.infoRange.lowerBound) ^ UInt64(f.infoRange.upperBound) &<< 11 ^ UInt64(f.controlByte) &<< 22
            ^ UInt64(f.destination.logical) &<< 30 ^ UInt64(f.destination.physical) &<< 44
            ^ UInt64(f.source.logical) &<< 4 ^ UInt64(f.source.physical) &<< 18
            ^ UInt64(f.destination.byteCount) &<< 58 ^ UInt64(f.source.byteCount) &<< 60
            ^ (f.segmented ? 1 &<< 62 : 0)
    } catch {
        return UInt64.max
    }
}

/// From the frame's bytes to the typed value: frame checks, LLC, GET-Response-Normal, A-XDR scalar.
@inline(never)
func benchDecodeGetResponseOnce(_ frame: [UInt8]) -> UInt64 {
    // A named, always-inlined body rather than a closure: whether the optimiser inlines a closure this size
    // differs between builds, and the count should not.
    @inline(__always) func apduRange(_ raw: UnsafeRawBufferPointer) -> Range<Int>? {
        guard let parsed = try? HDLCFrame.parse(raw) else { return nil }
        let info = parsed.infoRange
        guard info.count > LLCHeader.count,
              LLCHeader.detect(UnsafeRawBufferPointer(rebasing: raw[info])) == .response
        else { return nil }
        return (info.lowerBound + LLCHeader.count)..<info.upperBound
    }
    let apdu = frame.withUnsafeBytes(apduRange)
    guard let apdu else { return 0 }
    var reader = ByteReader(frame, range: apdu)
    guard let response = try? GetResponse.decode(from: &reader), reader.isAtEnd,
          case let .normal(_, .data(value)) = response, let number = value.unsignedValue
    else { return 0 }
    return number
}

/// Builds a GET-Request-Normal I-frame into `buffer`: the APDU written in place after the LLC header, then
/// the frame (header, HCS, FCS, flags) written around it; returns the frame length.
@inline(never)
func benchBuildGetRequestOnce(
    _ buffer: UnsafeMutableRawBufferPointer, request: GetRequest, destination: HDLCAddress, source: HDLCAddress
) -> Int {
    let at = HDLCFrame.infoOffset(destination: destination, source: source, llc: .request)
    guard at <= buffer.count,
          let count = request.write(into: UnsafeMutableRawBufferPointer(rebasing: buffer[at...]))
    else { return -1 }
    return (try? HDLCFrame.encode(into: buffer, destination: destination, source: source,
                                  control: .information(send: 0, receive: 0, poll: true),
                                  llc: .request, infoInPlace: count)) ?? -1
}

/// CRC-16/X.25 of `bytes`.
@inline(never)
func benchCRCOnce(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
    CRC16.checksum(bytes)
}
