import COSEM

/// A value as the meter sent it, before the scaler.
public enum RawValue: Sendable, Equatable {
    case integer(Int64)
    case unsigned(UInt64)
    case float(Double)
    case text(String)
    case boolean(Bool)
}

/// What the payload's `value` holds: the raw value with the register's scaler applied.
public enum PayloadValue: Sendable, Equatable {
    /// An exact integer (scaler >= 0 on an integer): printed without `.0`, as the prototype's Python did.
    case integer(Int64)
    case unsigned(UInt64)
    case number(Double)
    case text(String)
    case boolean(Bool)

    /// `raw × 10^scaler`: exact integers where the result is one, otherwise COSEM's `ScalerUnit.scale` (the
    /// one scaling of the code base: a negative scaler divides by the exact power of ten, so 13540 with
    /// scaler -2 is exactly `135.4`, never `135.40000000000001`).
    public init(raw: RawValue, scaler: Int8) {
        switch raw {
        case .integer(let v):
            if scaler >= 0, let p = Self.powerOfTen(Int(scaler)) {
                let (r, overflow) = v.multipliedReportingOverflow(by: p)
                self = overflow ? .number(ScalerUnit.scale(Double(v), by: scaler)) : .integer(r)
            } else {
                self = .number(ScalerUnit.scale(Double(v), by: scaler))
            }
        case .unsigned(let v):
            if scaler >= 0, let p = Self.powerOfTen(Int(scaler)) {
                let (r, overflow) = v.multipliedReportingOverflow(by: UInt64(p))
                self = overflow ? .number(ScalerUnit.scale(Double(v), by: scaler)) : .unsigned(r)
            } else {
                self = .number(ScalerUnit.scale(Double(v), by: scaler))
            }
        case .float(let v): self = .number(ScalerUnit.scale(v, by: scaler))
        case .text(let s): self = .text(s)
        case .boolean(let b): self = .boolean(b)
        }
    }

    private static func powerOfTen(_ n: Int) -> Int64? {
        guard n <= 18 else { return nil }
        var p: Int64 = 1
        for _ in 0..<n { p *= 10 }
        return p
    }
}

/// One measurement read in a poll.
public struct MeasurementReading: Sendable, Equatable {
    /// The configured name (`voltage_l1`): the key in the payload's `measurements`.
    public var name: String
    public var obis: ObisCode
    public var raw: RawValue
    /// The register's scaler (power of ten); 0 for objects without scaler_unit.
    public var scaler: Int8
    /// The unit code the meter reported (IEC 62056-6-2); nil for objects without a unit.
    public var unitCode: UInt8?
    /// Human-readable text published as `description`.
    public var description: String
    /// Why the value breaks the plausibility rule (`backwards`, `jump`), published as `implausible`; nil for a
    /// plausible value (the member is then left out). See ``EnergyPlausibility``.
    public var implausible: String? = nil

    public init(name: String, obis: ObisCode, raw: RawValue, scaler: Int8, unitCode: UInt8?, description: String) {
        self.name = name
        self.obis = obis
        self.raw = raw
        self.scaler = scaler
        self.unitCode = unitCode
        self.description = description
    }

    public var value: PayloadValue { PayloadValue(raw: raw, scaler: scaler) }
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
