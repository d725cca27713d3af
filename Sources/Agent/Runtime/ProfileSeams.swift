import Platform

// What a meter reader hands the runtime after a poll (issue 11): at most one profile slice, and what it
// learnt about the meter's clock. The runtime stores the rows through the spool and moves the cursor.

/// Rows and issues of one profile request.
public struct ProfileCollection: Sendable {
    public var profile: ProfileConfiguration
    /// New rows after the cursor, in capture-time order.
    public var rows: [ProfileRowReading]
    /// Gaps, loss windows, dropped rows, header changes: the health counter and the log line of each.
    public var issues: [ProfileNote]
    /// Why the request failed (the collection goes on at the next slot), nil when it did not.
    public var failure: ProfileNote?

    public init(profile: ProfileConfiguration, rows: [ProfileRowReading] = [], issues: [ProfileNote] = [],
                failure: ProfileNote? = nil) {
        self.profile = profile
        self.rows = rows
        self.issues = issues
        self.failure = failure
    }
}

/// A counted, logged event of the profile collection or the clock.
public struct ProfileNote: Sendable, Equatable {
    /// The health counter (`profile_gaps`, `profile_read_failures`, ...).
    public var counter: String
    public var message: String
    /// Worth a warning (something was lost, dropped or refused), else a notice.
    public var warning: Bool

    public init(counter: String, message: String, warning: Bool = true) {
        self.counter = counter
        self.message = message
        self.warning = warning
    }
}

/// What the reader learnt about the meter's clock at an association.
public struct ClockObservation: Sendable, Equatable {
    /// The meter's clock minus the gateway's UTC, milliseconds (after a correction: the new drift).
    public var driftMilliseconds: Int64?
    /// The clock was set (DLMS_CLOCK_SYNC=set) in this observation.
    public var corrected: Bool
    /// Set, read or refusal events to count and log (a refusal is logged once per process).
    public var notes: [ProfileNote]

    public init(driftMilliseconds: Int64?, corrected: Bool = false, notes: [ProfileNote] = []) {
        self.driftMilliseconds = driftMilliseconds
        self.corrected = corrected
        self.notes = notes
    }
}

/// The work a reader did after a poll.
public struct AfterPollWork: Sendable {
    public var clock: ClockObservation?
    public var collection: ProfileCollection?

    public init(clock: ClockObservation? = nil, collection: ProfileCollection? = nil) {
        self.clock = clock
        self.collection = collection
    }
}

extension MeterReader {
    /// Readers without profile collection (tests' fakes) do nothing after a poll.
    public func afterPoll(cursor: (String) -> Int64?, wallClock: Int64, stop: StopSignal) -> AfterPollWork {
        AfterPollWork()
    }
}

extension ReadingStore {
    /// Stores without cursors (tests' fakes) keep none: a restart reads the backfill window again.
    public func cursor(_ name: String) -> Int64? { nil }
    public func setCursor(_ name: String, _ value: Int64) {}
}
