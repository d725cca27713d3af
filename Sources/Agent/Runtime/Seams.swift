import Platform

// The three parts the agent orchestrates but does not own, seen through the smallest interfaces it needs.
// The real types (MeterLink's session, Uplink's MQTTClient, Spool's Spool) conform through thin adapters;
// tests use fakes.

/// What one poll of a meter produced.
public struct PollResult: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        /// At least one measurement was read; `failures` lists the others.
        case reading(measurements: [MeasurementReading], failures: [MeasurementFailure])
        /// Nothing was read; `message` tells the operator what happened and what to check.
        case failed(message: String)
        /// No attempt was made: the meter is in its reconnect back-off after failures (`message` says until
        /// when, and the last error). Not a failure of its own: a meter goes down after MAX_CONSEC_ERRORS
        /// attempts that failed, not after slots it was left alone.
        case backingOff(message: String)
    }

    public var outcome: Outcome
    /// Link events during this poll.
    public var link: LinkCounters
    /// Mean request/response round trip of this poll, microseconds; nil when nothing came back.
    public var rttMicroseconds: Int64?

    public init(outcome: Outcome, link: LinkCounters = LinkCounters(), rttMicroseconds: Int64? = nil) {
        self.outcome = outcome
        self.link = link
        self.rttMicroseconds = rttMicroseconds
    }
}

/// A meter session (MeterLink). Called only from the meter's own thread.
public protocol MeterReader: AnyObject, Sendable {
    /// Reads the configured measurements once: connects and associates when needed, keeps the association
    /// between polls unless configured otherwise. Each request is bounded by the meter's timeout; between
    /// requests the reader gives up early once `stop` is set.
    func poll(stop: StopSignal) -> PollResult
    /// Between polls: waits until `instant` while keeping the association alive (a cheap read before the
    /// meter's inactivity timeout). Returns false when `stop` was set, or nil when the reader has nothing to
    /// do between polls and the schedule's own clock should wait.
    func idle(until instant: MonotonicInstant, stop: StopSignal) -> Bool?
    /// Releases the association (RLRQ), sends DISC and closes the transport. Bounded by the timeout.
    func close()
    /// After a poll, on the meter's thread: reads the meter's clock at a new association, and at most one
    /// profile request (so a poll is never delayed by more than one request of a backfill). `cursor` gives
    /// a profile's stored position (``ProfileConfiguration/cursorName``).
    func afterPoll(cursor: (String) -> Int64?, wallClock: Int64, stop: StopSignal) -> AfterPollWork
}

extension MeterReader {
    public func idle(until instant: MonotonicInstant, stop: StopSignal) -> Bool? { nil }
}

/// Why the uplink did not take a message.
public struct PublishFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The MQTT connection (Uplink). Thread-safe.
public protocol Publisher: AnyObject, Sendable {
    /// Hands a message to the client; returns the message id that a later delivery (`AgentRuntime.delivered`)
    /// or failure (`AgentRuntime.publishFailed`) names. `qos` nil means the configured MQTT_QOS.
    func publish(topic: String, payload: [UInt8], qos: UInt8?, retain: Bool) throws(PublishFailure) -> Int32
    /// Whether the broker connection is up now.
    var isConnected: Bool { get }
}

/// Why the store could not take or give a reading.
public struct StoreFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A reading kept in the store until the broker acknowledges it.
public struct StoredReading: Sendable, Equatable {
    public var seq: UInt64
    public var payload: [UInt8]
    public init(seq: UInt64, payload: [UInt8]) {
        self.seq = seq
        self.payload = payload
    }
}

/// One meter's durable store (Spool). Thread-safe.
public protocol ReadingStore: AnyObject, Sendable {
    /// Appends the payload `build` makes from the reading's sequence number (never repeated, also across
    /// restarts); returns that number. The reading is durable by the next group commit.
    func append(timestampMilliseconds: Int64, build: (UInt64) -> [UInt8]) throws(StoreFailure) -> UInt64
    /// The broker has the reading: it may go.
    func acknowledge(_ seq: UInt64)
    /// Up to `limit` unacknowledged readings with seq > `after`, in order.
    func pending(after seq: UInt64, limit: Int) throws(StoreFailure) -> [StoredReading]
    /// Group commit when due; called about every second.
    func commitIfDue()
    /// Commits and closes.
    func close()
    var depth: SpoolDepth { get }
    /// A named position kept with the store's state (a profile's cursor), crash-safe.
    func cursor(_ name: String) -> Int64?
    /// Sets it after appending the records it covers: it is persisted only once they are.
    func setCursor(_ name: String, _ value: Int64)
}
