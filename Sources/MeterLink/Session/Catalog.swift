import COSEM

/// What kind of COSEM object a measurement reads, which decides the attributes fetched and how the value
/// is interpreted.
public enum MeasurementKind: String, Sendable, Hashable, CaseIterable {
    /// Register (class 3): value (attr 2) scaled by scaler_unit (attr 3).
    case register
    /// Extended register (class 4): value, scaler_unit, and capture time (attr 5).
    case extendedRegister = "extended_register"
    /// Demand register (class 5): current average value (attr 2), scaler_unit (attr 4), capture time (attr 6).
    case demandRegister = "demand_register"
    /// Data (class 1): a value without unit (serial number, firmware version).
    case data
    /// Clock (class 8): the meter's date-time (attr 2).
    case clock
    /// Profile generic (class 7): a buffer of rows (load profile, event log), read on request by range.
    case profile

    /// The interface class the object belongs to.
    public var interfaceClass: InterfaceClass {
        switch self {
        case .register: return .register
        case .extendedRegister: return .extendedRegister
        case .demandRegister: return .demandRegister
        case .data: return .data
        case .clock: return .clock
        case .profile: return .profileGeneric
        }
    }

    /// Whether readings of this kind are scaled and carry a unit.
    public var hasScalerUnit: Bool {
        switch self {
        case .register, .extendedRegister, .demandRegister: return true
        case .data, .clock, .profile: return false
        }
    }

    /// The attribute holding the value.
    public var valueAttribute: Int8 { 2 }

    /// The attribute holding scaler_unit, for scaled kinds.
    public var scalerUnitAttribute: Int8? {
        switch self {
        case .register, .extendedRegister: return 3
        case .demandRegister: return 4
        default: return nil
        }
    }

    /// The attribute holding the capture time, for kinds that have one.
    public var captureTimeAttribute: Int8? {
        switch self {
        case .extendedRegister: return 5
        case .demandRegister: return 6
        default: return nil
        }
    }

    /// Parses a kind by name (`register`, `extended_register`, ...) or by class id (`3`, `4`, ...).
    public init?(name: String) {
        if let k = MeasurementKind(rawValue: name.lowercased()) { self = k; return }
        switch name {
        case "1": self = .data
        case "3": self = .register
        case "4": self = .extendedRegister
        case "5": self = .demandRegister
        case "7": self = .profile
        case "8": self = .clock
        default: return nil
        }
    }
}

/// One named measurement: the stable key users put in DLMS_MEASUREMENTS and find in the payload.
public struct Measurement: Sendable, Hashable {
    /// The key (`voltage_l1`): a contract with users, never renamed.
    public var key: String
    /// The object's logical name.
    public var obis: ObisCode
    /// What kind of object it is (class and attributes).
    public var kind: MeasurementKind
    /// Human description, as published in the payload.
    public var description: String
    /// The unit the object is expected to report (a hint for docs and the simulated meter; readings carry
    /// what the meter actually sends).
    public var expectedUnit: UnitCode?
    /// What physical quantity the value is: it decides how dashboards (Home Assistant's device and state
    /// classes) and plausibility checks treat it.
    public var quantity: Quantity

    /// A measurement; `quantity` defaults to what the OBIS code says (``Quantity/inferred(from:kind:)``).
    public init(
        key: String, obis: ObisCode, kind: MeasurementKind, description: String, expectedUnit: UnitCode? = nil,
        quantity: Quantity? = nil
    ) {
        self.key = key
        self.obis = obis
        self.kind = kind
        self.description = description
        self.expectedUnit = expectedUnit
        self.quantity = quantity ?? Quantity.inferred(from: obis, kind: kind)
    }

    /// The value attribute's descriptor.
    public var valueAttribute: AttributeDescriptor {
        kind.interfaceClass.attribute(kind.valueAttribute, of: obis)
    }

    /// The scaler_unit attribute's descriptor, for scaled kinds.
    public var scalerUnitAttribute: AttributeDescriptor? {
        kind.scalerUnitAttribute.map { kind.interfaceClass.attribute($0, of: obis) }
    }

    /// The capture-time attribute's descriptor, for kinds that have one.
    public var captureTimeAttribute: AttributeDescriptor? {
        kind.captureTimeAttribute.map { kind.interfaceClass.attribute($0, of: obis) }
    }

    /// The measurement as a definition `key=OBIS:class:description` (what ``MeasurementCatalog/parseDefinition(_:)``
    /// reads back).
    public var definitionText: String { "\(key)=\(obis.fullDescription):\(kind.rawValue):\(description)" }

    /// The OBIS code as the prototype published it: `1-1:32.7.0`, with `.255` only when F is not 255.
    public var obisText: String { obis.description }
}

/// The catalog of measurements a meter reader knows by key: the standard set (the seed's keys and every
/// object of the Microstar notes) plus any the user adds by OBIS code and class.
public struct MeasurementCatalog: Sendable {
    public private(set) var measurements: [Measurement]

    public init(_ measurements: [Measurement]) { self.measurements = measurements }

    /// The measurement for `key`, if known.
    public subscript(key: String) -> Measurement? { measurements.first { $0.key == key } }

    /// All keys, in catalog order.
    public var keys: [String] { measurements.map { $0.key } }

    /// Adds or replaces a measurement.
    public mutating func add(_ measurement: Measurement) {
        if let i = measurements.firstIndex(where: { $0.key == measurement.key }) {
            measurements[i] = measurement
        } else {
            measurements.append(measurement)
        }
    }

    /// Looks up `keys`, failing with a message naming the unknown ones and the known ones.
    public func resolve(_ keys: [String]) throws(MeterError) -> [Measurement] {
        var out: [Measurement] = []
        var unknown: [String] = []
        for key in keys {
            if let m = self[key] { out.append(m) } else { unknown.append(key) }
        }
        if !unknown.isEmpty {
            throw MeterError(.configuration,
                "unknown measurement \(unknown.joined(separator: ", ")): known keys are \(self.keys.joined(separator: ", ")); "
                + "add others with a custom definition `name=OBIS:class` (e.g. `voltage_l2=1-1:52.7.0:register`)")
        }
        return out
    }

    /// Parses a user's definition `key=OBIS:kind[:description]`, e.g.
    /// `voltage_l2=1-1:52.7.0:register:Phase B voltage` or `temp=0-0:96.9.0.255:3`.
    public static func parseDefinition(_ text: String) throws(MeterError) -> Measurement {
        guard let eq = text.firstIndex(of: "=") else {
            throw MeterError(.configuration, "custom measurement \"\(text)\" has no `=`: write it as key=OBIS:class, e.g. voltage_l2=1-1:52.7.0:register")
        }
        let key = String(text[..<eq]).trimmingSpaces
        let rest = String(text[text.index(after: eq)...])
        // The OBIS code itself contains a colon (`1-1:52.7.0`): split after it.
        var parts = rest.split(separator: ":", omittingEmptySubsequences: false).map { String($0).trimmingSpaces }
        guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
            throw MeterError(.configuration, "custom measurement key \"\(key)\" must be letters, digits, `_` or `-`")
        }
        var obisText = ""
        if parts.count >= 2, parts[0].contains("-") {
            obisText = parts[0] + ":" + parts[1]
            parts.removeFirst(2)
        } else if !parts.isEmpty {
            obisText = parts.removeFirst()
        }
        let obis: ObisCode
        do { obis = try ObisCode(parsing: obisText) } catch {
            throw MeterError(.configuration, "custom measurement \(key): \(error.description)")
        }
        guard let kindName = parts.first, let kind = MeasurementKind(name: kindName) else {
            throw MeterError(.configuration,
                "custom measurement \(key): give the class after the OBIS code: one of "
                + MeasurementKind.allCases.map { $0.rawValue }.joined(separator: ", ") + " (or 1, 3, 4, 5, 7, 8)")
        }
        let description = parts.count > 1 ? parts[1...].joined(separator: ":") : key
        return Measurement(key: key, obis: obis, kind: kind, description: description)
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return String(s)
    }
}
