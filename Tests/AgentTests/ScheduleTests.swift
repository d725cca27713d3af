import Platform
import Synchronization
import Testing

@testable import Agent

/// A clock that moves only when told: `sleep` jumps to the deadline, polls advance it by their duration.
final class FakeClock: ScheduleClock, Sendable {
    let state = Mutex<(now: UInt64, sleeps: [UInt64])>((1_000_000_000, []))
    func now() -> MonotonicInstant { MonotonicInstant(nanoseconds: state.withLock { $0.now }) }
    func sleep(until instant: MonotonicInstant, stop: StopSignal) -> Bool {
        if stop.isSet { return false }
        state.withLock {
            $0.sleeps.append(instant.nanoseconds)
            $0.now = max($0.now, instant.nanoseconds)
        }
        return true
    }
    func advance(milliseconds: UInt64) { state.withLock { $0.now += milliseconds * 1_000_000 } }
    var milliseconds: UInt64 { state.withLock { ($0.now - 1_000_000_000) / 1_000_000 } }
}

@Suite struct ScheduleTests {
    /// Runs `durations.count` polls, poll i taking durations[i] ms; returns the start time of each poll (ms).
    private func run(periodMs: Int64, durations: [UInt64]) -> (starts: [UInt64], ticks: [Tick], final: FixedRateSchedule) {
        let clock = FakeClock()
        let stop = StopSignal()
        var starts: [UInt64] = []
        var ticks: [Tick] = []
        let final = ScheduleRunner(periodMilliseconds: periodMs, clock: clock, stop: stop).run { tick in
            starts.append(clock.milliseconds)
            ticks.append(tick)
            clock.advance(milliseconds: durations[ticks.count - 1])
            if ticks.count == durations.count { stop.set() }
        }
        return (starts, ticks, final)
    }

    @Test func slowPollsDoNotShiftTheSchedule() {
        // Polls of varying length, all shorter than the period: every poll starts on the grid.
        let r = run(periodMs: 5000, durations: [10, 4900, 3000, 4999, 1, 2500])
        #expect(r.starts == [0, 5000, 10000, 15000, 20000, 25000])
        #expect(r.ticks.map(\.index) == [0, 1, 2, 3, 4, 5])
        #expect(r.final.skippedSlots == 0)
    }

    /// A gateway's meters are spread over the period, in configuration order, and keep their place.
    @Test func metersArePhasedAcrossThePeriod() {
        #expect((0..<4).map { ScheduleRunner.phase(ofMeter: $0, of: 4, periodMilliseconds: 10_000) } == [0, 2500, 5000, 7500])
        #expect(ScheduleRunner.phase(ofMeter: 0, of: 1, periodMilliseconds: 10_000) == 0)
        #expect(ScheduleRunner.phase(ofMeter: 999, of: 1000, periodMilliseconds: 5000) == 4995)
        let clock = FakeClock()
        let stop = StopSignal()
        var starts: [UInt64] = []
        ScheduleRunner(periodMilliseconds: 10_000, phaseMilliseconds: 7500, clock: clock, stop: stop).run { _ in
            starts.append(clock.milliseconds)
            clock.advance(milliseconds: 100)
            if starts.count == 3 { stop.set() }
        }
        #expect(starts == [7500, 17_500, 27_500])
    }

    @Test func noDriftOverAThousandPolls() {
        let durations = (0..<1000).map { UInt64($0 * 7 % 990) }
        let r = run(periodMs: 1000, durations: durations)
        #expect(r.starts.last == 999_000)
        #expect(r.starts == (0..<1000).map { UInt64($0) * 1000 })
    }

    @Test func anOverrunSkipsAndCountsTheMissedSlots() {
        // The second poll takes 12.5 s of a 5 s period: slots at 10 s and 15 s are skipped, the next runs at 20 s.
        let r = run(periodMs: 5000, durations: [100, 12_500, 100, 100])
        #expect(r.starts == [0, 5000, 20000, 25000])
        #expect(r.ticks.map(\.index) == [0, 1, 4, 5])
        #expect(r.ticks.map(\.skippedSlots) == [0, 0, 2, 2])
        #expect(r.final.skippedSlots == 2)
    }

    @Test func aPollEndingExactlyOnTheNextSlotSkipsNothing() {
        let r = run(periodMs: 5000, durations: [5000, 5001, 1])
        #expect(r.starts == [0, 5000, 15000])
        #expect(r.ticks.map(\.skippedSlots) == [0, 0, 1])
    }

    @Test func stopIsHonouredWithinTheBoundWhileWaiting() throws {
        // Real clock, one-hour period: the runner waits for slot 1; stop must end it at once.
        let stop = StopSignal()
        let polled = Mutex(0)
        let done = StopSignal()
        let thread = try ScheduleRunner(periodMilliseconds: 3_600_000, stop: stop).spawn(name: "meter") { _ in
            polled.withLock { $0 += 1 }
        }
        let watcher = try PlatformThread.spawn(name: "join") { thread.join(); done.set() }
        // Wait (with a deadline) for the first poll, then stop.
        let deadline = MonotonicInstant.now().advanced(byMilliseconds: 5000)
        while polled.withLock({ $0 }) == 0 && MonotonicInstant.now() < deadline { _ = done.wait(until: .now().advanced(byMilliseconds: 5)) }
        let stoppedAt = MonotonicInstant.now()
        stop.set()
        #expect(done.wait(until: stoppedAt.advanced(byMilliseconds: 2000)), "the runner did not stop within 2 s")
        #expect(MonotonicInstant.now().milliseconds(since: stoppedAt) < 2000)
        #expect(polled.withLock { $0 } == 1)
        watcher.join()
    }

    @Test func aStuckMeterDoesNotDelayAnother() throws {
        let stop = StopSignal()
        let release = StopSignal()
        let fastTicks = Mutex(0)
        let fastDone = StopSignal()
        // Meter A hangs in its first poll until released; meter B polls every 10 ms meanwhile.
        let a = try ScheduleRunner(periodMilliseconds: 10, stop: stop).spawn(name: "meter-a") { _ in
            _ = release.wait(until: .now().advanced(byMilliseconds: 30_000))
        }
        let b = try ScheduleRunner(periodMilliseconds: 10, stop: stop).spawn(name: "meter-b") { _ in
            if fastTicks.withLock({ $0 += 1; return $0 }) == 20 { fastDone.set() }
        }
        #expect(fastDone.wait(until: .now().advanced(byMilliseconds: 10_000)), "meter B was held up by meter A")
        stop.set()
        release.set()
        a.join()
        b.join()
        #expect(fastTicks.withLock { $0 } >= 20)
    }
}
