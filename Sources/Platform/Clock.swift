import CLibc

/// A point on the monotonic clock (CLOCK_MONOTONIC), in nanoseconds. Timeouts, schedules and round-trip
/// times use it because the wall clock jumps when NTP corrects a gateway that booted without network.
public struct MonotonicInstant: Comparable, Hashable, Sendable {
    public var nanoseconds: UInt64

    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    /// Now, on the monotonic clock.
    public static func now() -> MonotonicInstant {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return MonotonicInstant(nanoseconds: UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec))
    }

    /// This instant moved by `milliseconds` (negative moves back, saturating at zero).
    public func advanced(byMilliseconds milliseconds: Int64) -> MonotonicInstant {
        if milliseconds >= 0 { return MonotonicInstant(nanoseconds: nanoseconds &+ UInt64(milliseconds) &* 1_000_000) }
        let back = UInt64(-milliseconds) &* 1_000_000
        return MonotonicInstant(nanoseconds: back > nanoseconds ? 0 : nanoseconds - back)
    }

    /// Milliseconds from `earlier` to this instant (negative when `earlier` is later).
    public func milliseconds(since earlier: MonotonicInstant) -> Int64 {
        if nanoseconds >= earlier.nanoseconds { return Int64((nanoseconds - earlier.nanoseconds) / 1_000_000) }
        return -Int64((earlier.nanoseconds - nanoseconds) / 1_000_000)
    }

    /// Microseconds from `earlier` to this instant, for round-trip times.
    public func microseconds(since earlier: MonotonicInstant) -> Int64 {
        if nanoseconds >= earlier.nanoseconds { return Int64((nanoseconds - earlier.nanoseconds) / 1_000) }
        return -Int64((earlier.nanoseconds - nanoseconds) / 1_000)
    }

    public static func < (lhs: MonotonicInstant, rhs: MonotonicInstant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }
}

/// A moment by which an operation must be done, on the monotonic clock.
public struct Deadline: Sendable, Hashable {
    public var instant: MonotonicInstant

    public init(_ instant: MonotonicInstant) { self.instant = instant }

    /// A deadline `milliseconds` from now.
    public static func after(milliseconds: Int64) -> Deadline {
        Deadline(MonotonicInstant.now().advanced(byMilliseconds: milliseconds))
    }

    /// Milliseconds left, zero once passed; clamped to Int32 for poll(2).
    public var remainingMilliseconds: Int32 {
        let left = instant.milliseconds(since: .now())
        if left <= 0 { return 0 }
        return left > Int64(Int32.max) ? Int32.max : Int32(left)
    }

    public var hasPassed: Bool { MonotonicInstant.now() >= instant }
}

/// The wall clock (CLOCK_REALTIME): only for timestamps that leave the process (payload `ts`, logs).
public enum WallClock {
    /// Milliseconds since the Unix epoch. Int64 so that 32-bit ARM does not overflow.
    public static func milliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}
