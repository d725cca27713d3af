import Platform

/// A flag that stops the agent's loops; waits on it end as soon as it is set, so a stop is honoured within
/// the time of the poll in flight (itself bounded by `DLMS_TIMEOUT_MS`), never a whole poll period.
public final class StopSignal: Sendable {
    private let lock = ConditionLock()
    private nonisolated(unsafe) var stopped = false

    public init() {}

    public var isSet: Bool { lock.withLock { stopped } }

    /// Sets the flag and wakes every waiter.
    public func set() {
        lock.withLock {
            stopped = true
            lock.broadcast()
        }
    }

    /// Waits until `instant` or until the flag is set; true when it was set.
    public func wait(until instant: MonotonicInstant) -> Bool {
        lock.withLock { lock.wait(until: { stopped }, deadline: Deadline(instant)) }
    }
}

/// The time source of a schedule: the monotonic clock in production, a fake in tests (no test sleeps).
/// Class-bound, so that the runtime can hold one as an existential in Embedded Swift too.
public protocol ScheduleClock: AnyObject, Sendable {
    func now() -> MonotonicInstant
    /// Returns at `instant`, or earlier when `stop` is set; false when stopped.
    func sleep(until instant: MonotonicInstant, stop: StopSignal) -> Bool
}

/// CLOCK_MONOTONIC: immune to NTP steps of the wall clock on a gateway that booted without network.
public final class MonotonicScheduleClock: ScheduleClock {
    public init() {}
    public func now() -> MonotonicInstant { .now() }
    public func sleep(until instant: MonotonicInstant, stop: StopSignal) -> Bool { !stop.wait(until: instant) }
}

/// One slot of a schedule, handed to the poll.
public struct Tick: Sendable, Equatable {
    /// The slot number k: the poll was due at `start + k × period`.
    public var index: UInt64
    public var scheduled: MonotonicInstant
    /// Slots skipped so far because polls overran them.
    public var skippedSlots: UInt64
}

/// Fixed-rate slots without drift: slot k is due at `start + k × period` on the monotonic clock, so a slow poll
/// never shifts the ones after it. A poll that ends after later slots were due skips them (counted in
/// `skippedSlots`) and the next poll runs at the first slot not yet past: readings stay on the grid, and the
/// count tells the operator that `POLL_PERIOD_S` is shorter than a poll takes.
public struct FixedRateSchedule: Sendable, Equatable {
    public let start: MonotonicInstant
    public let periodNanoseconds: UInt64
    /// The next slot to run.
    public private(set) var nextIndex: UInt64 = 0
    public private(set) var skippedSlots: UInt64 = 0

    public init(start: MonotonicInstant, periodMilliseconds: Int64) {
        self.start = start
        self.periodNanoseconds = UInt64(max(1, periodMilliseconds)) * 1_000_000
    }

    /// When slot `index` is due.
    public func instant(ofSlot index: UInt64) -> MonotonicInstant {
        MonotonicInstant(nanoseconds: start.nanoseconds &+ index &* periodNanoseconds)
    }

    /// The slot to run now, advancing past it.
    public mutating func take() -> Tick {
        let tick = Tick(index: nextIndex, scheduled: instant(ofSlot: nextIndex), skippedSlots: skippedSlots)
        nextIndex += 1
        return tick
    }

    /// After a poll that ended at `now`: skips (and counts) every slot already past. A slot due exactly at
    /// `now` is not past.
    public mutating func finished(at now: MonotonicInstant) {
        guard now > instant(ofSlot: nextIndex) else { return }
        let elapsed = now.nanoseconds - start.nanoseconds
        let firstNotPast = (elapsed + periodNanoseconds - 1) / periodNanoseconds  // ceil(elapsed / period)
        skippedSlots += firstNotPast - nextIndex
        nextIndex = firstNotPast
    }
}

/// Runs a body on a fixed-rate schedule until stopped. One runner per meter, each on its own thread, so a
/// slow or dead meter never delays the others.
public struct ScheduleRunner: Sendable {
    public let periodMilliseconds: Int64
    /// Where in the period this runner's slots fall (its first poll is this long after the start).
    public let phaseMilliseconds: Int64
    public let clock: any ScheduleClock
    public let stop: StopSignal

    public init(
        periodMilliseconds: Int64, phaseMilliseconds: Int64 = 0, clock: any ScheduleClock = MonotonicScheduleClock(),
        stop: StopSignal
    ) {
        self.periodMilliseconds = periodMilliseconds
        self.phaseMilliseconds = phaseMilliseconds
        self.clock = clock
        self.stop = stop
    }

    /// The phase of meter `index` of `count` sharing a period: spread evenly over it (meter i at i/count of the
    /// period), so that a gateway's meters, their sockets and their spool writes do not all wake together.
    public static func phase(ofMeter index: Int, of count: Int, periodMilliseconds: Int64) -> Int64 {
        count > 1 ? periodMilliseconds * Int64(index) / Int64(count) : 0
    }

    /// Polls at once, then at every slot, on the calling thread; returns when `stop` is set (within the poll
    /// in flight). Returns the final schedule for inspection.
    /// `idle`, when given, waits until the next slot instead of the clock (to keep a meter's association alive
    /// meanwhile); it returns false when stopped, or nil to let the clock wait.
    @discardableResult
    public func run(idle: ((MonotonicInstant) -> Bool?)? = nil, _ body: (Tick) -> Void) -> FixedRateSchedule {
        var schedule = FixedRateSchedule(
            start: clock.now().advanced(byMilliseconds: phaseMilliseconds), periodMilliseconds: periodMilliseconds)
        while !stop.isSet {
            let next = schedule.instant(ofSlot: schedule.nextIndex)
            let goOn = idle?(next) ?? clock.sleep(until: next, stop: stop)
            guard goOn else { break }
            body(schedule.take())
            schedule.finished(at: clock.now())
        }
        return schedule
    }

    /// `run` on a new thread named after the meter.
    public func spawn(
        name: String, idle: (@Sendable (MonotonicInstant) -> Bool?)? = nil, _ body: @escaping @Sendable (Tick) -> Void
    ) throws(SystemError) -> PlatformThread {
        let runner = self
        return try PlatformThread.spawn(name: name) { runner.run(idle: idle, body) }
    }
}
