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

    static func run(polls: Int, replyDelayMilliseconds: Int) throws -> PollCycleResult {
        let server = SimulatorServer(configuration: SimulatorConfiguration(),
                                     faults: SimulatorFaults(replyDelayMilliseconds: replyDelayMilliseconds))
        defer { server.stop() }
        let listener = try server.listen(host: "127.0.0.1", port: 0)
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
