// The invocation counter rules of suite 0: a sender never uses the same IV twice under a key (GCM's one hard
// requirement), and a receiver accepts only counters that increase (replay protection).

/// The sending invocation counter. It hands out each value once, and never beyond `leasedUpTo`: the I/O
/// layer persists a lease (a value ahead of use, as the spool does for `seq`) and extends it before it runs
/// out, so a restart or a power cut resumes above every counter ever used.
public struct InvocationCounter: Hashable, Sendable, CustomStringConvertible {
    // UInt64 so that "all 2^32 values used" is representable.
    var nextValue: UInt64
    /// The highest value that may be used before a new lease is persisted.
    public private(set) var leasedUpTo: UInt32

    /// Starts at `next` (e.g. the meter's frame counter + 1, or the persisted lease); `leasedUpTo` is the
    /// persisted upper bound (the default: no lease, for tests and tools that never restart).
    public init(next: UInt32, leasedUpTo: UInt32 = .max) {
        nextValue = UInt64(next)
        self.leasedUpTo = leasedUpTo
    }

    /// The value the next `take()` returns; nil once all 2^32 values were used.
    public var next: UInt32? { nextValue > UInt64(UInt32.max) ? nil : UInt32(nextValue) }

    /// Returns the next counter and moves past it.
    public mutating func take() throws(SecurityError) -> UInt32 {
        guard let value = next else { throw SecurityError.counterExhausted }
        guard value <= leasedUpTo else { throw SecurityError.counterLeaseExhausted(next: value, leasedUpTo: leasedUpTo) }
        nextValue += 1
        return value
    }

    /// Records that counters up to `bound` are now persisted as used. A lease never shrinks.
    public mutating func extendLease(to bound: UInt32) {
        if bound > leasedUpTo { leasedUpTo = bound }
    }

    /// Jumps forward to `value` (a meter's exception-response invocation-counter-error names the counter it
    /// expects). Never moves back: an IV is never reused.
    public mutating func advance(to value: UInt32) {
        if UInt64(value) > nextValue { nextValue = UInt64(value) }
    }

    /// `next 19088744, leased up to 19089000`.
    public var description: String {
        (next.map { "next \($0)" } ?? "exhausted") + ", leased up to \(leasedUpTo)"
    }
}

/// The receiving side: remembers the last counter accepted from one sender under one key, and refuses any
/// counter that does not increase.
public struct ReplayGuard: Hashable, Sendable, CustomStringConvertible {
    /// The last counter accepted; nil before the first.
    public private(set) var lastAccepted: UInt32?

    /// Starts empty, or from a counter accepted earlier (persisted, or read from the meter).
    public init(lastAccepted: UInt32? = nil) {
        self.lastAccepted = lastAccepted
    }

    /// Throws `.replayedCounter` unless `counter` is above the last accepted one. Does not record it: call
    /// `accept` only after the APDU's tag verified, so a forged APDU cannot move the guard.
    public func check(_ counter: UInt32) throws(SecurityError) {
        if let last = lastAccepted, counter <= last {
            throw SecurityError.replayedCounter(received: counter, lastAccepted: last)
        }
    }

    /// Records `counter` as accepted (after `check` and the tag verification).
    public mutating func accept(_ counter: UInt32) {
        if lastAccepted.map({ counter > $0 }) ?? true { lastAccepted = counter }
    }

    public var description: String { lastAccepted.map { "last accepted \($0)" } ?? "nothing accepted yet" }
}
