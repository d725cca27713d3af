/// A number as exact as it can be kept: an integer while it is one, else a Double.
public enum ExactNumber: Sendable, Hashable, CustomStringConvertible {
    case integer(Int64)
    /// Beyond `Int64.max` (a `long64-unsigned` register near its top).
    case unsigned(UInt64)
    case double(Double)

    /// The nearest Double.
    public var doubleValue: Double {
        switch self {
        case let .integer(v): return Double(v)
        case let .unsigned(v): return Double(v)
        case let .double(v): return v
        }
    }

    /// Integers without a fraction (`13540`); Doubles in Swift's shortest round-trip form (`135.4`, `5.0`,
    /// `1e-05`), which is also what Python's `json.dumps` prints for the same double.
    public var description: String {
        switch self {
        case let .integer(v): return String(v)
        case let .unsigned(v): return String(v)
        case let .double(v): return v.description
        }
    }
}

/// A numeric value read from a meter with its register's scaler: the one interpretation of a register value
/// (the scaling itself is ``ScalerUnit/scale(_:by:)``). `read` shows ``doubleValue``; the payload publishes
/// ``value`` and ``raw``.
public struct ScaledNumber: Sendable, Hashable {
    /// The number exactly as the meter sent it.
    public var raw: ExactNumber
    /// The power of ten of the register's scaler_unit; 0 for plain numeric data.
    public var scaler: Int8

    public init(raw: ExactNumber, scaler: Int8) {
        self.raw = raw
        self.scaler = scaler
    }

    /// The numeric data types (those with a `DataValue.doubleValue`, booleans as 0 and 1); nil for others.
    public init?(_ value: DataValue, scaler: Int8) {
        switch value {
        case let .float32(f): raw = .double(Double(f))
        case let .float64(d): raw = .double(d)
        case let .long64Unsigned(u) where u > UInt64(Int64.max): raw = .unsigned(u)
        default:
            guard let i = value.integerValue else { return nil }
            raw = .integer(i)
        }
        self.scaler = scaler
    }

    /// `raw × 10^scaler` as a Double (``ScalerUnit/scale(_:by:)``): 2301 with scaler -1 is exactly 230.1.
    public var doubleValue: Double { ScalerUnit.scale(raw.doubleValue, by: scaler) }

    /// `raw × 10^scaler`, an exact integer where the result is one (an integer raw, a scaler >= 0, no
    /// overflow), otherwise ``doubleValue``.
    public var value: ExactNumber {
        guard scaler >= 0, let p = Self.powerOfTen(Int(scaler)) else { return .double(doubleValue) }
        switch raw {
        case let .integer(v):
            let (r, overflow) = v.multipliedReportingOverflow(by: p)
            return overflow ? .double(doubleValue) : .integer(r)
        case let .unsigned(v):
            let (r, overflow) = v.multipliedReportingOverflow(by: UInt64(p))
            return overflow ? .double(doubleValue) : .unsigned(r)
        case .double:
            return .double(doubleValue)
        }
    }

    private static func powerOfTen(_ n: Int) -> Int64? {
        guard n <= 18 else { return nil }
        var p: Int64 = 1
        for _ in 0..<n { p *= 10 }
        return p
    }
}
