import MeterLink
import Platform

/// Whether a meter answers.
public enum MeterState: String, Sendable, Equatable {
    /// No poll has finished yet.
    case starting
    /// The last poll succeeded.
    case up
    /// `MAX_CONSEC_ERRORS` polls in a row failed.
    case down
    /// Some recent polls failed, fewer than `MAX_CONSEC_ERRORS` in a row.
    case degraded
}

/// Link-level events of one poll, reported by the meter session.
public struct LinkCounters: Sendable, Equatable {
    public var crcErrors: UInt64
    public var retransmissions: UInt64
    public var associationFailures: UInt64
    /// Protected replies refused (tag, replayed or stale counter), failed HLS, invocation-counter errors.
    public var securityFaults: UInt64

    public init(crcErrors: UInt64 = 0, retransmissions: UInt64 = 0, associationFailures: UInt64 = 0,
                securityFaults: UInt64 = 0) {
        self.crcErrors = crcErrors
        self.retransmissions = retransmissions
        self.associationFailures = associationFailures
        self.securityFaults = securityFaults
    }

    static func += (lhs: inout LinkCounters, rhs: LinkCounters) {
        lhs.crcErrors += rhs.crcErrors
        lhs.retransmissions += rhs.retransmissions
        lhs.associationFailures += rhs.associationFailures
        lhs.securityFaults += rhs.securityFaults
    }
}

/// How full the spool is.
public struct SpoolDepth: Sendable, Equatable {
    /// Readings stored and not yet acknowledged by the broker.
    public var pendingReadings: UInt64
    public var bytes: UInt64
    /// Readings dropped (oldest first) because the spool hit its size or age cap.
    public var droppedReadings: UInt64

    public init(pendingReadings: UInt64 = 0, bytes: UInt64 = 0, droppedReadings: UInt64 = 0) {
        self.pendingReadings = pendingReadings
        self.bytes = bytes
        self.droppedReadings = droppedReadings
    }
}

/// A meter's counters at one moment.
public struct MeterHealthSnapshot: Sendable {
    public var deviceID: String
    /// The failed attempts in a row, the one record of them (the poller's back-off reads it too).
    public var streak: FailureStreak
    public var polls: UInt64 = 0
    public var failedPolls: UInt64 = 0
    /// Schedule slots skipped because a poll overran them.
    public var skippedSlots: UInt64 = 0
    /// Polls not attempted because the meter was in its reconnect back-off (also counted in `failedPolls`:
    /// the slot has no reading).
    public var backoffPolls: UInt64 = 0
    /// Measurements that failed within otherwise successful polls.
    public var measurementErrors: UInt64 = 0
    public var link = LinkCounters()
    /// Round-trip time of the last successful poll's requests, microseconds (mean per request).
    public var lastRTTMicroseconds: Int64?
    /// Wall-clock milliseconds of the last successful poll.
    public var lastSuccessMilliseconds: Int64?
    /// The last failure's message, for the operator.
    public var lastError: String?
    /// Profile rows stored, and the profile collection's counters (`profile_gaps`, ...), by name.
    public var profileRows: UInt64 = 0
    public var profileCounters: [(String, UInt64)] = []
    /// The meter's clock minus the gateway's UTC at the last association, milliseconds (nil: not read).
    public var clockDriftMilliseconds: Int64?
    /// Clock counters (`clock_sets`, `clock_set_refusals`, ...), by name.
    public var clockCounters: [(String, UInt64)] = []
    /// Energy values published with the `implausible` flag (``EnergyPlausibility``).
    public var implausibleReadings: UInt64 = 0

    public init(deviceID: String, maxConsecutiveErrors: Int) {
        self.deviceID = deviceID
        streak = FailureStreak(limit: maxConsecutiveErrors)
    }

    /// `starting` until an attempt ends, then what the streak says.
    public var state: MeterState {
        if polls == backoffPolls { return .starting }
        if streak.count == 0 { return .up }
        return streak.isDown ? .down : .degraded
    }

    /// Failed attempts since the last success.
    public var consecutiveErrors: UInt64 { UInt64(streak.count) }
}

extension MeterHealthSnapshot: Equatable {
    public static func == (a: MeterHealthSnapshot, b: MeterHealthSnapshot) -> Bool {
        a.deviceID == b.deviceID && a.streak == b.streak && a.polls == b.polls && a.failedPolls == b.failedPolls
            && a.skippedSlots == b.skippedSlots
            && a.backoffPolls == b.backoffPolls && a.implausibleReadings == b.implausibleReadings
            && a.measurementErrors == b.measurementErrors && a.link == b.link && a.lastRTTMicroseconds == b.lastRTTMicroseconds
            && a.lastSuccessMilliseconds == b.lastSuccessMilliseconds && a.lastError == b.lastError
            && a.profileRows == b.profileRows && a.profileCounters.elementsEqual(b.profileCounters, by: { $0 == $1 })
            && a.clockDriftMilliseconds == b.clockDriftMilliseconds
            && a.clockCounters.elementsEqual(b.clockCounters, by: { $0 == $1 })
    }
}

func bump(_ counters: inout [(String, UInt64)], _ name: String) {
    if let i = counters.firstIndex(where: { $0.0 == name }) { counters[i].1 += 1 } else { counters.append((name, 1)) }
}

/// Thread-safe counters of one meter: its poll thread writes, the health publisher reads. The one keeper of the
/// meter's failure streak: the meter's poller reads it for its back-off (``FailureStreakSource``).
public final class MeterHealthRecorder: FailureStreakSource, Sendable {
    /// `MAX_CONSEC_ERRORS`.
    public let maxConsecutiveErrors: UInt64
    private let state: Locked<MeterHealthSnapshot>

    public init(deviceID: String, maxConsecutiveErrors: Int) {
        let snapshot = MeterHealthSnapshot(deviceID: deviceID, maxConsecutiveErrors: maxConsecutiveErrors)
        self.maxConsecutiveErrors = UInt64(snapshot.streak.limit)
        state = Locked(snapshot)
    }

    /// The recorder of a configured meter (`MAX_CONSEC_ERRORS`).
    public convenience init(_ meter: MeterConfiguration) {
        self.init(deviceID: meter.deviceID, maxConsecutiveErrors: meter.maxConsecutiveErrors)
    }

    public var snapshot: MeterHealthSnapshot { state.withLock { $0 } }

    public var failureStreak: FailureStreak { state.withLock { $0.streak } }

    /// A poll that produced a reading. Returns true when the meter came back from `down`.
    @discardableResult
    public func recordSuccess(
        atMilliseconds ts: Int64, rttMicroseconds: Int64?, failedMeasurements: Int, link: LinkCounters,
        skippedSlots: UInt64
    ) -> Bool {
        state.withLock { h in
            let recovered = h.streak.succeeded()
            h.polls += 1
            h.measurementErrors += UInt64(failedMeasurements)
            h.link += link
            h.lastRTTMicroseconds = rttMicroseconds ?? h.lastRTTMicroseconds
            h.lastSuccessMilliseconds = ts
            h.skippedSlots = skippedSlots
            return recovered
        }
    }

    /// Values of a poll flagged as implausible.
    public func recordImplausible(_ count: Int) {
        guard count > 0 else { return }
        state.withLock { $0.implausibleReadings += UInt64(count) }
    }

    /// A slot left without an attempt because the meter is in its reconnect back-off: no reading, but not a
    /// failure in a row either (the meter's state stays what the last attempt made it).
    public func recordBackOff(link: LinkCounters, skippedSlots: UInt64) {
        state.withLock { h in
            h.polls += 1
            h.failedPolls += 1
            h.backoffPolls += 1
            h.link += link
            h.skippedSlots = skippedSlots
        }
    }

    /// Profile rows stored and the collection's counted events.
    public func recordProfile(rows: UInt64, notes: [ProfileNote]) {
        state.withLock { h in
            h.profileRows += rows
            for n in notes { bump(&h.profileCounters, n.counter) }
        }
    }

    /// The clock's drift at an association and its counted events.
    public func recordClock(driftMilliseconds: Int64?, notes: [ProfileNote]) {
        state.withLock { h in
            if let driftMilliseconds { h.clockDriftMilliseconds = driftMilliseconds }
            for n in notes { bump(&h.clockCounters, n.counter) }
        }
    }

    /// A poll that produced nothing. Returns true when this failure took the meter `down`.
    @discardableResult
    public func recordFailure(_ message: String, link: LinkCounters, skippedSlots: UInt64) -> Bool {
        state.withLock { h in
            h.polls += 1
            h.failedPolls += 1
            h.link += link
            h.lastError = message
            h.skippedSlots = skippedSlots
            return h.streak.failed()
        }
    }
}

/// The health message published on `MQTT_HEALTH_TOPIC` (`meters/{device_id}/health`) every `HEALTH_INTERVAL_S`.
/// The retained `.../status` topic stays `online`/`offline` (the last will), as consumers expect.
///
/// ```json
/// {"device_id":"microstar-001","ts":1728564123456,"state":"up","polls":120,"failed_polls":2,
///  "consecutive_errors":0,"skipped_slots":0,"backoff_polls":0,"measurement_errors":0,"crc_errors":1,"retransmissions":1,
///  "association_failures":0,"security_faults":0,"implausible_readings":0,"last_rtt_ms":41.2,"last_success_ts":1728564120000,"last_error":null,
///  "spool":{"pending":0,"bytes":0,"dropped":0},"uptime_s":600}
/// ```
public enum HealthPayload {
    public static func render(
        _ h: MeterHealthSnapshot, spool: SpoolDepth, timestampMilliseconds: Int64, uptimeSeconds: Int64,
        style: JSONWriter.Style = .compact
    ) -> [UInt8] {
        var json = JSONWriter(style: style, reservingCapacity: 512)
        json.beginObject()
        json.member("device_id", h.deviceID)
        json.member("ts", timestampMilliseconds)
        json.member("state", h.state.rawValue)
        json.member("polls", h.polls)
        json.member("failed_polls", h.failedPolls)
        json.member("consecutive_errors", h.consecutiveErrors)
        json.member("skipped_slots", h.skippedSlots)
        json.member("backoff_polls", h.backoffPolls)
        json.member("measurement_errors", h.measurementErrors)
        json.member("crc_errors", h.link.crcErrors)
        json.member("retransmissions", h.link.retransmissions)
        json.member("association_failures", h.link.associationFailures)
        json.member("security_faults", h.link.securityFaults)
        json.member("implausible_readings", h.implausibleReadings)
        json.key("last_rtt_ms")
        if let rtt = h.lastRTTMicroseconds { json.number(Double(rtt) / 1000) } else { json.null() }
        json.key("last_success_ts")
        if let ts = h.lastSuccessMilliseconds { json.integer(ts) } else { json.null() }
        json.member("last_error", h.lastError)
        json.key("spool")
        json.beginObject()
        json.member("pending", spool.pendingReadings)
        json.member("bytes", spool.bytes)
        json.member("dropped", spool.droppedReadings)
        json.endObject()
        json.member("uptime_s", uptimeSeconds)
        // Only for meters that collect profiles or check the clock: the others' message is unchanged.
        if h.profileRows > 0 || !h.profileCounters.isEmpty {
            json.key("profiles")
            json.beginObject()
            json.member("rows", h.profileRows)
            for (name, count) in h.profileCounters { json.member(name, count) }
            json.endObject()
        }
        if h.clockDriftMilliseconds != nil || !h.clockCounters.isEmpty {
            json.key("clock")
            json.beginObject()
            json.key("drift_ms")
            if let d = h.clockDriftMilliseconds { json.integer(d) } else { json.null() }
            for (name, count) in h.clockCounters { json.member(name, count) }
            json.endObject()
        }
        json.endObject()
        return json.bytes
    }
}
