/// A meter's poll attempts that failed in a row, measured against `MAX_CONSEC_ERRORS`: the one record of
/// whether a meter answers. The agent's health recorder keeps it and reports it (`consecutive_errors`, `state`);
/// the poller reads it for its reconnect back-off (``FailureStreakSource``). Slots left alone during a back-off
/// are not attempts and do not count.
public struct FailureStreak: Sendable, Equatable {
    /// `MAX_CONSEC_ERRORS`: the failures in a row that make the meter down.
    public let limit: Int
    /// Failed attempts since the last one that succeeded.
    public private(set) var count = 0

    public init(limit: Int) { self.limit = max(1, limit) }

    /// `limit` attempts in a row failed, and none has succeeded since.
    public var isDown: Bool { count >= limit }

    /// Counts a failed attempt; true when it is the one that makes the meter down.
    @discardableResult
    public mutating func failed() -> Bool {
        count += 1
        return count == limit
    }

    /// Ends the streak with a successful attempt; true when the meter was down.
    @discardableResult
    public mutating func succeeded() -> Bool {
        defer { count = 0 }
        return isDown
    }
}

/// Where a poller reads its meter's ``FailureStreak``: whoever keeps it (the agent's health recorder). Class-bound,
/// so that Embedded Swift can hold one.
public protocol FailureStreakSource: AnyObject, Sendable {
    var failureStreak: FailureStreak { get }
}
