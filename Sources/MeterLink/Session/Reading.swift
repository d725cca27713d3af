import COSEM

/// A measurement's value in the form users see it: the one interpretation of a value read from a meter, which
/// `read` prints and the agent's payload publishes (each a thin formatter over it).
public enum ReadingValue: Sendable, Equatable {
    /// A number with the register's scaler (plain numeric data: scaler 0).
    case number(ScaledNumber)
    /// A boolean, as sent.
    case boolean(Bool)
    /// Text (serial number, firmware version); bytes that are not printable ASCII as hex.
    case text(String)
    /// A date-time (the clock), with its Unix milliseconds when it is a complete date-time.
    case dateTime(CosemDateTime, unixMilliseconds: Int64?)
    /// Anything else, as decoded.
    case other(DataValue)
}

/// One successful read of a measurement.
public struct Reading: Sendable, Equatable {
    public var measurement: Measurement
    /// The value exactly as the meter sent it.
    public var raw: DataValue
    /// The scaler and unit (registers), read once per association.
    public var scalerUnit: ScalerUnit?
    /// The capture time of extended and demand registers (max demand).
    public var captureTime: CosemDateTime?
    /// The value for publishing.
    public var value: ReadingValue

    public init(measurement: Measurement, raw: DataValue, scalerUnit: ScalerUnit?, captureTime: CosemDateTime?) {
        self.measurement = measurement
        self.raw = raw
        self.scalerUnit = scalerUnit
        self.captureTime = captureTime
        self.value = Reading.interpret(raw, kind: measurement.kind, scalerUnit: scalerUnit)
    }

    /// The raw integer when the meter sent an integer type (the payload's `raw_value`).
    public var rawInteger: Int64? { raw.integerValue }

    /// The unit code the meter reported, if any.
    public var unit: UnitCode? { scalerUnit?.unit }

    static func interpret(_ raw: DataValue, kind: MeasurementKind, scalerUnit: ScalerUnit?) -> ReadingValue {
        if case let .boolean(b) = raw { return .boolean(b) }
        if let number = ScaledNumber(raw, scaler: scalerUnit?.scaler ?? 0) { return .number(number) }
        switch raw {
        case let .octetString(bytes) where bytes.count == CosemDateTime.byteCount && kind == .clock:
            if let dt = try? CosemDateTime(bytes: bytes) { return .dateTime(dt, unixMilliseconds: try? dt.unixMilliseconds()) }
            return .other(raw)
        case let .dateTime(dt):
            return .dateTime(dt, unixMilliseconds: try? dt.unixMilliseconds())
        case let .octetString(bytes), let .visibleString(bytes), let .utf8String(bytes):
            if bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return .text(String(decoding: bytes, as: UTF8.self)) }
            return .text(hexString(bytes))
        default:
            return .other(raw)
        }
    }
}

/// The outcome of reading one measurement within a poll: a poll goes on when one object fails.
public enum MeasurementResult: Sendable, Equatable {
    case reading(Reading)
    case failed(Measurement, MeterError)

    public var measurement: Measurement {
        switch self {
        case let .reading(r): return r.measurement
        case let .failed(m, _): return m
        }
    }
}

/// A load profile or event log read by range.
public struct ProfileReading: Sendable, Equatable {
    /// The columns (capture objects).
    public var columns: [CaptureObjectDefinition]
    /// Scaler and unit per column, for register columns.
    public var scalers: [ScalerUnit?]
    /// The rows, one value per column.
    public var rows: [[DataValue]]
    /// What was wrong or notable in the meter's answers (gaps, dropped rows, a header change).
    public var issues: [ProfileIssue] = []
}

/// What a meter link has done, for the health topic and the `read` command.
public struct MeterCounters: Sendable, Equatable {
    public var polls = 0
    public var failedPolls = 0
    public var associations = 0
    public var associationFailures = 0
    public var reconnects = 0
    /// Request frames sent that wait for an answer (I-frames and RRs).
    public var roundTrips = 0
    public var retransmissions = 0
    public var timeouts = 0
    /// Frames discarded for a bad HCS or FCS.
    public var crcErrors = 0
    /// Other discards: garbage bytes between frames, truncated or malformed frames, out-of-sequence frames.
    public var framingErrors = 0
    /// Objects the meter refused (data-access-result).
    public var objectErrors = 0
    public var keepAlives = 0
    /// Protected replies refused (tag, replayed or stale counter, too weak), failed HLS-GMAC, and
    /// invocation-counter errors from the meter.
    public var securityFaults = 0
    public var bytesIn = 0
    public var bytesOut = 0
    /// Round trips of the last poll.
    public var lastPollRoundTrips = 0
    /// Duration of the last poll, microseconds.
    public var lastPollMicroseconds: Int64 = 0
    /// Last request/response round-trip time, microseconds.
    public var lastRTTMicroseconds: Int64 = 0

    public init() {}
}
