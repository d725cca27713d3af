import COSEM

/// What the payload carries of a measurement: MeterLink's reading value (``ReadingValue``) reduced to what JSON
/// holds. The payload is a thin formatter over it: `value` is the scaled number (``ScaledNumber/value``, an
/// exact integer where it is one, as the prototype's Python printed it), `raw_value` the number as sent.
public enum MeasurementValue: Sendable, Equatable {
    /// A number with its register's scaler.
    case number(ScaledNumber)
    /// Text (serial number, firmware version, the meter's clock in ISO 8601 UTC): `value` and `raw_value` alike.
    case text(String)
    case boolean(Bool)

    /// The scaled number as a Double (the plausibility rule's view); nil for text and booleans.
    var numeric: Double? {
        if case let .number(n) = self { return n.value.doubleValue }
        return nil
    }
}

/// One measurement read in a poll.
public struct MeasurementReading: Sendable, Equatable {
    /// The configured name (`voltage_l1`): the key in the payload's `measurements`.
    public var name: String
    public var obis: ObisCode
    public var value: MeasurementValue
    /// The unit code the meter reported (IEC 62056-6-2); nil for objects without a unit.
    public var unitCode: UInt8?
    /// Human-readable text published as `description`.
    public var description: String
    /// Why the value breaks the plausibility rule (`backwards`, `jump`), published as `implausible`; nil for a
    /// plausible value (the member is then left out). See ``EnergyPlausibility``.
    public var implausible: String? = nil

    public init(name: String, obis: ObisCode, value: MeasurementValue, unitCode: UInt8?, description: String) {
        self.name = name
        self.obis = obis
        self.value = value
        self.unitCode = unitCode
        self.description = description
    }
}

/// A measurement that could not be read in a poll whose other measurements succeeded.
public struct MeasurementFailure: Sendable, Equatable {
    public var name: String
    public var obis: ObisCode?
    /// What went wrong, for the operator (e.g. "object undefined (data-access-result 4)").
    public var reason: String

    public init(name: String, obis: ObisCode?, reason: String) {
        self.name = name
        self.obis = obis
        self.reason = reason
    }
}

/// The outcome of one successful poll of one meter: what becomes one telemetry message.
public struct MeterReading: Sendable, Equatable {
    public var deviceID: String
    /// Wall-clock time of the poll, milliseconds since the Unix epoch (`ts`).
    public var timestampMilliseconds: Int64
    public var measurements: [MeasurementReading]
    public var failures: [MeasurementFailure]

    public init(
        deviceID: String, timestampMilliseconds: Int64, measurements: [MeasurementReading],
        failures: [MeasurementFailure] = []
    ) {
        self.deviceID = deviceID
        self.timestampMilliseconds = timestampMilliseconds
        self.measurements = measurements
        self.failures = failures
    }
}
