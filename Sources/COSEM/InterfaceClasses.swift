// The COSEM interface classes the meters use (Blue Book): attribute numbers and the decoding of their
// structured attributes into typed values.

/// The class ids this agent reads.
public enum InterfaceClass: UInt16, Sendable, CaseIterable {
    case data = 1
    case register = 3
    case extendedRegister = 4
    case demandRegister = 5
    case profileGeneric = 7
    case clock = 8

    /// `class <id>` attribute `index` of object `obis`.
    public func attribute(_ index: Int8, of obis: ObisCode) -> AttributeDescriptor {
        AttributeDescriptor(classId: rawValue, obis: obis, attribute: index)
    }

    public var name: String {
        switch self {
        case .data: return "Data"
        case .register: return "Register"
        case .extendedRegister: return "Extended register"
        case .demandRegister: return "Demand register"
        case .profileGeneric: return "Profile generic"
        case .clock: return "Clock"
        }
    }
}

/// Attribute indices per class (attribute 1 is always the logical name).
public enum Attribute {
    public static let logicalName: Int8 = 1
    /// Data (1): value.
    public enum Data { public static let value: Int8 = 2 }
    /// Register (3).
    public enum Register {
        public static let value: Int8 = 2
        public static let scalerUnit: Int8 = 3
    }
    /// Extended register (4).
    public enum ExtendedRegister {
        public static let value: Int8 = 2
        public static let scalerUnit: Int8 = 3
        public static let status: Int8 = 4
        public static let captureTime: Int8 = 5
    }
    /// Demand register (5).
    public enum DemandRegister {
        public static let currentAverageValue: Int8 = 2
        public static let lastAverageValue: Int8 = 3
        public static let scalerUnit: Int8 = 4
        public static let status: Int8 = 5
        public static let captureTime: Int8 = 6
        public static let startTimeCurrent: Int8 = 7
        public static let period: Int8 = 8
        public static let numberOfPeriods: Int8 = 9
    }
    /// Profile generic (7).
    public enum ProfileGeneric {
        public static let buffer: Int8 = 2
        public static let captureObjects: Int8 = 3
        public static let capturePeriod: Int8 = 4
        public static let sortMethod: Int8 = 5
        public static let sortObject: Int8 = 6
        public static let entriesInUse: Int8 = 7
        public static let profileEntries: Int8 = 8
    }
    /// Clock (8).
    public enum Clock {
        public static let time: Int8 = 2
        public static let timeZone: Int8 = 3
        public static let status: Int8 = 4
        public static let daylightSavingsBegin: Int8 = 5
        public static let daylightSavingsEnd: Int8 = 6
        public static let daylightSavingsDeviation: Int8 = 7
        public static let daylightSavingsEnabled: Int8 = 8
        public static let clockBase: Int8 = 9
    }
}

/// A register's scaler_unit: `structure { integer scaler, enum unit }`. Value = raw × 10^scaler.
public struct ScalerUnit: Hashable, Sendable, CustomStringConvertible {
    public var scaler: Int8
    public var unit: UnitCode

    public init(scaler: Int8, unit: UnitCode) {
        self.scaler = scaler
        self.unit = unit
    }

    /// Interprets an attribute value; throws when it is not `structure { integer, enum }`.
    public init(_ value: DataValue) throws(COSEMError) {
        guard case let .structure(e) = value, e.count == 2, let scaler = e[0].integerValue,
            scaler >= -128, scaler <= 127, case let .enumerated(unit) = e[1]
        else {
            throw COSEMError.unexpectedValueShape(expected: "scaler_unit structure {integer, enum}", found: value.typeName)
        }
        self.init(scaler: Int8(scaler), unit: UnitCode(unit))
    }

    /// `structure { integer scaler, enum unit }`.
    public var dataValue: DataValue { .structure([.integer(scaler), .enumerated(unit.rawValue)]) }

    /// `10^-1 V`.
    public var description: String { "10^\(scaler) \(unit.symbol)" }

    /// `raw × 10^scaler` as a Double; nil when `raw` is not numeric (``ScaledNumber/doubleValue``).
    public func scale(_ raw: DataValue) -> Double? { ScaledNumber(raw, scaler: scaler)?.doubleValue }

    /// `value × 10^scaler`, dividing for negative scalers so that 2301 × 10^-1 is exactly 230.1.
    public static func scale(_ value: Double, by scaler: Int8) -> Double {
        var power = 1.0
        var n = scaler < 0 ? -Int(scaler) : Int(scaler)
        var base = 10.0
        while n > 0 {  // exact for 10^0 ... 10^22
            if n & 1 == 1 { power *= base }
            base *= base
            n >>= 1
        }
        return scaler < 0 ? value / power : value * power
    }
}

/// Profile generic (class 7) helpers.
public enum ProfileGeneric {
    /// The capture objects (attribute 3): an array of capture object definitions.
    public static func captureObjects(_ value: DataValue) throws(COSEMError) -> [CaptureObjectDefinition] {
        guard case let .array(items) = value else {
            throw COSEMError.unexpectedValueShape(expected: "an array of capture object definitions", found: value.typeName)
        }
        var out: [CaptureObjectDefinition] = []
        out.reserveCapacity(items.count)
        for item in items { out.append(try CaptureObjectDefinition(item)) }
        return out
    }

    /// The buffer (attribute 2): an array of rows, each a structure with one value per capture object.
    /// A compact-array buffer is not expanded (throws).
    public static func rows(_ value: DataValue) throws(COSEMError) -> [[DataValue]] {
        guard case let .array(items) = value else {
            throw COSEMError.unexpectedValueShape(expected: "an array of buffer rows", found: value.typeName)
        }
        var rows: [[DataValue]] = []
        rows.reserveCapacity(items.count)
        for item in items {
            guard case let .structure(cells) = item else {
                throw COSEMError.unexpectedValueShape(expected: "a buffer row structure", found: item.typeName)
            }
            rows.append(cells)
        }
        return rows
    }
}

/// Clock (class 8) helpers.
public enum Clock {
    /// The clock's time attribute (an octet-string(12) or a date-time).
    public static func time(_ value: DataValue) throws(COSEMError) -> CosemDateTime {
        switch value {
        case let .dateTime(v): return v
        case let .octetString(b) where b.count == 12: return try CosemDateTime(bytes: b)
        default:
            throw COSEMError.unexpectedValueShape(expected: "a 12-byte date-time", found: value.typeName)
        }
    }
}
