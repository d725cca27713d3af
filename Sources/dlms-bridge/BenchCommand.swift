import Agent
import Platform

import CLibc

/// `dlms-bridge bench`: times the codec's hot paths in this process so a user can size a gateway.
///
/// Each operation is one `@inline(never)` function (`benchParseFrameOnce`, ...) called once per iteration on
/// an input laundered through ``benchOpaque(_:)`` so the optimiser cannot hoist the work out of the loop.
/// `make bench-check` counts the instructions of exactly those functions with callgrind's
/// `--toggle-collect`, so keep their names stable. Nothing inside them allocates.
struct BenchCommand {
    static let spec = CommandSpec(
        name: "bench",
        abstract: "Time the codec's hot paths on this machine (ns per operation).",
        discussion: """
            Operations (the inputs of `make bench-check` and the Benchmarks/ suite too):
              parse-frame          parse and check a 26-byte I-frame (GET-Response)
              decode-get-response  that frame's bytes to a typed value
              build-get-request    a GET-Request-Normal I-frame into a buffer
              crc                  CRC-16/X.25 over 64 KiB
              poll-cycle           a steady-state poll of 12 registers against the in-process simulated meter
                                   over loopback TCP, answering at once and after --reply-delay-ms per reply
                                   (run only with --op poll-cycle; prints latency and round trips per poll)

            Each run times --iterations calls; the median of --runs runs is reported. Use a release
            build (`swift build -c release`): a debug build is many times slower.
            """,
        options: [
            .value("op", "name", "Run only this operation: " + BenchOperation.allCases.map { $0.rawValue }.joined(separator: ", ") + "."),
            .value("iterations", "n", "Calls per timed run (default: sized so one run lasts about 50 ms)."),
            .value("runs", "n", "Timed runs per operation; the median is reported.", default: "5"),
            .flag("json", "Print the results as JSON."),
            .values("reply-delay-ms", "ms", "poll-cycle: the simulated meter's delay per reply (default: 0 20)."),
            .value("polls", "n", "poll-cycle: polls per delay.", default: "50"),
        ]
    )

    var op: BenchOperation?
    var iterations: Int?
    var runs: Int
    var json: Bool

    static func main(_ arguments: [String]) -> Never {
        runCommand(spec, arguments[...]) { args throws(UsageError) in
            var op: BenchOperation? = nil
            if args.string("op") == "poll-cycle" {
                var delays: [Int] = []
                for text in args.strings("reply-delay-ms") {
                    guard let d = Int(text), d >= 0, d <= 10_000 else {
                        throw UsageError(message: "--reply-delay-ms \(text) is not a whole number of milliseconds")
                    }
                    delays.append(d)
                }
                let polls = try args.integer("polls", Int.self, default: 50, in: 1...100_000) ?? 50
                runPollCycle(delays: delays.isEmpty ? [0, 20] : delays, polls: polls, json: args.flag("json"))
                return
            }
            if let name = args.string("op") {
                guard let known = BenchOperation(rawValue: name) else {
                    throw UsageError(message: "unknown operation '\(name)' (the operations are "
                        + BenchOperation.allCases.map { $0.rawValue }.joined(separator: ", ") + ", poll-cycle)")
                }
                op = known
            }
            let command = BenchCommand(
                op: op,
                iterations: try args.integer("iterations", Int.self, in: 1...(1 << 30)),  // Int is 32 bits on armv7
                runs: try args.integer("runs", Int.self, default: 5, in: 1...1_000) ?? 5,
                json: args.flag("json"))
            command.run()
        }
    }

    func run() {
        let fixture = BenchFixture()
        let ops = op.map { [$0] } ?? BenchOperation.allCases
        var results: [BenchResult] = []
        for op in ops {
            results.append(measure(op, fixture: fixture))
        }
        if json {
            printJSON(results)
        } else {
            printTable(results)
        }
    }

    private func measure(_ op: BenchOperation, fixture: BenchFixture) -> BenchResult {
        // One untimed call first: lazy globals (the CRC tables) and page faults stay out of the numbers.
        var sink = op.run(fixture, iterations: 1)
        let n = iterations ?? calibrate(op, fixture: fixture, sink: &sink)
        var samples: [UInt64] = []
        samples.reserveCapacity(runs)
        for _ in 0..<runs {
            let start = monotonicNanoseconds()
            sink &+= op.run(fixture, iterations: n)
            samples.append(monotonicNanoseconds() &- start)
        }
        samples.sort()
        let median = samples[samples.count / 2]
        return BenchResult(op: op, iterations: n, runs: runs, medianNanoseconds: median,
                           bytesPerOperation: op.bytesPerOperation(fixture), checksum: sink)
    }

    /// Doubles the iteration count until one run lasts at least 50 ms.
    private func calibrate(_ op: BenchOperation, fixture: BenchFixture, sink: inout UInt64) -> Int {
        var n = 16
        while n < 1 << 30 {
            let start = monotonicNanoseconds()
            sink &+= op.run(fixture, iterations: n)
            let elapsed = monotonicNanoseconds() &- start
            if elapsed >= 50_000_000 { break }
            n &*= elapsed < 5_000_000 ? 8 : 2
        }
        return n
    }

    private func printTable(_ results: [BenchResult]) {
        #if DEBUG
        print("note: this is a debug build; build with -c release for representative numbers")
        #endif
        print(pad("op", 21) + pad("iterations", 12) + pad("ns/op", 12) + pad("ops/s", 14) + "MB/s")
        for r in results {
            let mbps = r.megabytesPerSecond.map { fixed($0, 1) } ?? "-"
            print(pad(r.op.rawValue, 21) + pad("\(r.iterations)", 12) + pad(fixed(r.nanosecondsPerOperation, 1), 12)
                + pad(fixed(r.operationsPerSecond, 0), 14) + mbps)
        }
        print("median of \(results.first?.runs ?? runs) runs; \(BenchOperation.inputSummary)")
    }

    private func printJSON(_ results: [BenchResult]) {
        var w = JSONWriter()
        w.beginObject()
        #if DEBUG
        w.member("build", "debug")
        #else
        w.member("build", "release")
        #endif
        w.key("results")
        w.beginArray()
        for r in results {
            w.beginObject()
            w.member("op", r.op.rawValue)
            w.member("iterations", r.iterations)
            w.member("runs", r.runs)
            w.member("median_ns", r.medianNanoseconds)
            w.member("ns_per_op", r.nanosecondsPerOperation)
            w.member("ops_per_s", r.operationsPerSecond)
            w.member("bytes_per_op", r.bytesPerOperation)
            w.key("mb_per_s")
            if let mbps = r.megabytesPerSecond { w.number(mbps) } else { w.null() }
            w.member("checksum", r.checksum)
            w.endObject()
        }
        w.endArray()
        w.endObject()
        print(w.output)
    }
}

struct BenchResult {
    let op: BenchOperation
    let iterations: Int
    let runs: Int
    let medianNanoseconds: UInt64
    let bytesPerOperation: Int
    let checksum: UInt64

    var nanosecondsPerOperation: Double { Double(medianNanoseconds) / Double(iterations) }
    var operationsPerSecond: Double { 1e9 / max(nanosecondsPerOperation, 1e-9) }
    /// Throughput, shown for the CRC (the others are per-frame costs).
    var megabytesPerSecond: Double? {
        op == .crc ? Double(bytesPerOperation) * operationsPerSecond / 1e6 : nil
    }
}

// MARK: - Small helpers (no Foundation)

/// Now on the monotonic clock, in nanoseconds.
func monotonicNanoseconds() -> UInt64 { MonotonicInstant.now().nanoseconds }

/// `value` with `decimals` digits after the point (no Foundation, no `String(format:)`).
func fixed(_ value: Double, _ decimals: Int) -> String {
    guard value.isFinite else { return "0" }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    guard scaled < 9.0e18 else { return "\(value)" }
    let n = UInt64(scaled)
    let unit = UInt64(scale)
    var text = (value < 0 && n > 0 ? "-" : "") + "\(n / unit)"
    if decimals > 0 {
        var fraction = "\(n % unit)"
        while fraction.count < decimals { fraction = "0" + fraction }
        text += "." + fraction
    }
    return text
}
