import Agent
import MeterLink
import MeterSimulator
import Platform

/// The steady-state poll of 12 registers against the in-process simulated meter over loopback TCP, as
/// `bench --op poll-cycle` reports it: latency per poll (median and spread) and round trips per poll, with
/// the meter answering at once or after `replyDelayMilliseconds` per reply (a slow meter or a radio link).
struct PollCycleResult {
    var polls: Int
    var replyDelayMilliseconds: Int
    var roundTripsPerPoll: Double
    /// Poll latencies in microseconds, sorted.
    var latencies: [Int64]

    var median: Int64 { latencies[latencies.count / 2] }
    var p90: Int64 { latencies[min(latencies.count - 1, latencies.count * 9 / 10)] }
    var minimum: Int64 { latencies[0] }
}

enum PollCycleBench {
    /// The twelve registers of the catalog: voltage, current, frequency, four powers, apparent power and
    /// four energies.
    static let registers = Array(MeasurementCatalog.standard.measurements.filter { $0.kind == .register }.prefix(12))

    static func run(polls: Int, replyDelayMilliseconds: Int) throws(MeterError) -> PollCycleResult {
        let server = SimulatorServer(configuration: SimulatorConfiguration(),
                                     faults: SimulatorFaults(replyDelayMilliseconds: replyDelayMilliseconds))
        defer { server.stop() }
        let listener: TCPListener
        do { listener = try server.listen(host: "127.0.0.1", port: 0) } catch {
            throw MeterError(.transport, "poll-cycle: the simulator cannot listen: \(error)", link: error)
        }
        var settings = MeterSettings(endpoint: .tcp(host: "127.0.0.1", port: listener.port), profile: .microstar,
                                     password: Secret("22222222"))
        settings.responseTimeoutMilliseconds = Int64(2000 + replyDelayMilliseconds * 4)
        let session = MeterSession(settings: settings)
        defer { session.close() }
        try session.open()
        _ = try session.read(registers)  // scaler_unit once per association: not part of the steady state
        var latencies: [Int64] = []
        var roundTrips = 0
        latencies.reserveCapacity(polls)
        for _ in 0..<polls {
            let start = MonotonicInstant.now()
            let results = try session.read(registers)
            latencies.append(MonotonicInstant.now().microseconds(since: start))
            roundTrips += session.counters.lastPollRoundTrips
            for case let .failed(m, error) in results {
                throw MeterError(.protocolError, "poll-cycle: \(m.key) failed: \(error)")
            }
        }
        latencies.sort()
        return PollCycleResult(polls: polls, replyDelayMilliseconds: replyDelayMilliseconds,
                               roundTripsPerPoll: Double(roundTrips) / Double(polls), latencies: latencies)
    }
}

/// `bench --op poll-cycle`: prints latency and round trips per steady-state poll for each reply delay.
func runPollCycle(delays: [Int], polls: Int, json: Bool) {
    var results: [PollCycleResult] = []
    for delay in delays {
        do { results.append(try PollCycleBench.run(polls: polls, replyDelayMilliseconds: delay)) } catch {
            fail("poll-cycle with \(delay) ms per reply: \(error)", code: 1)
        }
    }
    func ms(_ micros: Int64) -> String {
        let hundredths = (micros + 5) / 10
        let frac = hundredths % 100
        return "\(hundredths / 100)." + (frac < 10 ? "0" : "") + "\(frac)"
    }
    if json {
        var w = JSONWriter(style: .pretty)
        w.beginArray()
        for r in results {
            w.beginObject()
            w.member("reply_delay_ms", r.replyDelayMilliseconds)
            w.member("polls", r.polls)
            w.member("registers", PollCycleBench.registers.count)
            w.member("round_trips_per_poll", r.roundTripsPerPoll)
            w.member("median_us", r.median)
            w.member("p90_us", r.p90)
            w.member("min_us", r.minimum)
            w.endObject()
        }
        w.endArray()
        print(w.output)
        return
    }
    print("poll-cycle: \(PollCycleBench.registers.count) registers per poll, steady state (scaler/unit cached), "
        + "simulated Microstar on loopback TCP")
    print(pad("reply delay", 14) + pad("polls", 8) + pad("round trips/poll", 19) + pad("median ms", 12)
        + pad("p90 ms", 10) + "min ms")
    for r in results {
        print(pad("\(r.replyDelayMilliseconds) ms", 14) + pad("\(r.polls)", 8) + pad("\(r.roundTripsPerPoll)", 19)
            + pad(ms(r.median), 12) + pad(ms(r.p90), 10) + ms(r.minimum))
    }
}
