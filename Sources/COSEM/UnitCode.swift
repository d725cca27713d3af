/// A physical unit from the IEC 62056-6-2 / Blue Book unit enumeration, as carried in a scaler_unit.
///
/// A struct over the raw code, so a meter's code outside the table is kept (and reported as unknown), not
/// rejected. The table follows the standard: 35 is volt, 33 ampere, 44 hertz, 32 varh. (The Python
/// prototype's table was wrong about voltage; publish these codes, not its numbers.)
public struct UnitCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public init(_ rawValue: UInt8) { self.rawValue = rawValue }

    /// True when the code is in the standard's table.
    public var isKnown: Bool { Self.entry(rawValue) != nil }

    /// The unit's symbol (`V`, `Wh`, `m³`), or `unit <code>` when the code is not in the table.
    public var symbol: String { Self.entry(rawValue)?.symbol ?? "unit \(rawValue)" }

    /// What the unit measures (`voltage`, `active energy`), or `unknown unit <code>`.
    public var name: String { Self.entry(rawValue)?.name ?? "unknown unit \(rawValue)" }

    /// The symbol; unknown codes print as `unit <code>`.
    public var description: String { symbol }

    /// 5: h (hour).
    public static let hour = UnitCode(5)
    /// 6: min (minute).
    public static let minute = UnitCode(6)
    /// 7: s (second).
    public static let second = UnitCode(7)
    /// 8: ° (phase angle (degree)).
    public static let degree = UnitCode(8)
    /// 9: °C (temperature (degree Celsius)).
    public static let degreeCelsius = UnitCode(9)
    /// 13: m³ (volume).
    public static let cubicMetre = UnitCode(13)
    /// 27: W (active power).
    public static let watt = UnitCode(27)
    /// 28: VA (apparent power).
    public static let voltAmpere = UnitCode(28)
    /// 29: var (reactive power).
    public static let `var` = UnitCode(29)
    /// 30: Wh (active energy).
    public static let wattHour = UnitCode(30)
    /// 31: VAh (apparent energy).
    public static let voltAmpereHour = UnitCode(31)
    /// 32: varh (reactive energy).
    public static let varHour = UnitCode(32)
    /// 33: A (current).
    public static let ampere = UnitCode(33)
    /// 34: C (electrical charge).
    public static let coulomb = UnitCode(34)
    /// 35: V (voltage).
    public static let volt = UnitCode(35)
    /// 44: Hz (frequency).
    public static let hertz = UnitCode(44)
    /// 56: % (percentage).
    public static let percent = UnitCode(56)
    /// 57: Ah (ampere hours).
    public static let ampereHour = UnitCode(57)
    /// 254: other (other unit).
    public static let other = UnitCode(254)
    /// 255: count (no unit (count)).
    public static let count = UnitCode(255)

    static func entry(_ code: UInt8) -> (symbol: String, name: String)? {
        switch code {
        case 1: return ("a", "year")
        case 2: return ("mo", "month")
        case 3: return ("wk", "week")
        case 4: return ("d", "day")
        case 5: return ("h", "hour")
        case 6: return ("min", "minute")
        case 7: return ("s", "second")
        case 8: return ("°", "phase angle (degree)")
        case 9: return ("°C", "temperature (degree Celsius)")
        case 10: return ("currency", "local currency")
        case 11: return ("m", "length (metre)")
        case 12: return ("m/s", "speed")
        case 13: return ("m³", "volume")
        case 14: return ("m³", "corrected volume")
        case 15: return ("m³/h", "volume flux")
        case 16: return ("m³/h", "corrected volume flux")
        case 17: return ("m³/d", "volume flux per day")
        case 18: return ("m³/d", "corrected volume flux per day")
        case 19: return ("l", "volume (litre)")
        case 20: return ("kg", "mass")
        case 21: return ("N", "force")
        case 22: return ("Nm", "energy (newton metre)")
        case 23: return ("Pa", "pressure (pascal)")
        case 24: return ("bar", "pressure (bar)")
        case 25: return ("J", "energy (joule)")
        case 26: return ("J/h", "thermal power")
        case 27: return ("W", "active power")
        case 28: return ("VA", "apparent power")
        case 29: return ("var", "reactive power")
        case 30: return ("Wh", "active energy")
        case 31: return ("VAh", "apparent energy")
        case 32: return ("varh", "reactive energy")
        case 33: return ("A", "current")
        case 34: return ("C", "electrical charge")
        case 35: return ("V", "voltage")
        case 36: return ("V/m", "electric field strength")
        case 37: return ("F", "capacitance")
        case 38: return ("Ω", "resistance")
        case 39: return ("Ωm²/m", "resistivity")
        case 40: return ("Wb", "magnetic flux")
        case 41: return ("T", "magnetic flux density")
        case 42: return ("A/m", "magnetic field strength")
        case 43: return ("H", "inductance")
        case 44: return ("Hz", "frequency")
        case 45: return ("1/(Wh)", "active energy meter constant")
        case 46: return ("1/(varh)", "reactive energy meter constant")
        case 47: return ("1/(VAh)", "apparent energy meter constant")
        case 48: return ("V²h", "volt-squared hours")
        case 49: return ("A²h", "ampere-squared hours")
        case 50: return ("kg/s", "mass flux")
        case 51: return ("S", "conductance (siemens)")
        case 52: return ("K", "temperature (kelvin)")
        case 53: return ("1/(V²h)", "volt-squared hour meter constant")
        case 54: return ("1/(A²h)", "ampere-squared hour meter constant")
        case 55: return ("1/m³", "volume meter constant")
        case 56: return ("%", "percentage")
        case 57: return ("Ah", "ampere hours")
        case 60: return ("Wh/m³", "energy per volume")
        case 61: return ("J/m³", "calorific value (Wobbe)")
        case 62: return ("mol %", "molar fraction")
        case 63: return ("g/m³", "mass density")
        case 64: return ("Pa s", "dynamic viscosity")
        case 65: return ("J/kg", "specific energy")
        case 66: return ("g/cm²", "pressure (gram per square centimetre)")
        case 67: return ("atm", "pressure (atmosphere)")
        case 70: return ("dBm", "signal strength (dBm)")
        case 71: return ("dBµV", "signal strength (dB microvolt)")
        case 72: return ("dB", "logarithmic ratio (decibel)")
        case 128: return ("in", "length (inch)")
        case 129: return ("ft", "length (foot)")
        case 130: return ("lb", "mass (pound)")
        case 131: return ("°F", "temperature (degree Fahrenheit)")
        case 132: return ("°R", "temperature (degree Rankine)")
        case 133: return ("sq in", "area (square inch)")
        case 134: return ("sq ft", "area (square foot)")
        case 135: return ("ac", "area (acre)")
        case 136: return ("cu in", "volume (cubic inch)")
        case 137: return ("cu ft", "volume (cubic foot)")
        case 138: return ("ac-ft", "volume (acre-foot)")
        case 139: return ("gal (UK)", "volume (imperial gallon)")
        case 140: return ("gal (US)", "volume (US gallon)")
        case 141: return ("lbf", "force (pound-force)")
        case 142: return ("psi", "pressure (pound-force per square inch)")
        case 143: return ("lb/cu ft", "density (pound per cubic foot)")
        case 144: return ("lb/(ft s)", "dynamic viscosity (pound per foot second)")
        case 145: return ("sq ft/s", "kinematic viscosity (square foot per second)")
        case 146: return ("BTU", "energy (British thermal unit)")
        case 147: return ("thm (EU)", "energy (therm EU)")
        case 148: return ("thm (US)", "energy (therm US)")
        case 149: return ("BTU/lb", "specific energy (BTU per pound)")
        case 150: return ("BTU/cu ft", "calorific value (BTU per cubic foot)")
        case 151: return ("cu ft", "volume (cubic feet)")
        case 152: return ("ft/s", "speed (foot per second)")
        case 153: return ("cu ft/s", "volume flux (cubic foot per second)")
        case 154: return ("cu ft/min", "volume flux (cubic foot per minute)")
        case 155: return ("cu ft/h", "volume flux (cubic foot per hour)")
        case 156: return ("cu ft/d", "volume flux (cubic foot per day)")
        case 157: return ("ac-ft/s", "volume flux (acre-foot per second)")
        case 158: return ("ac-ft/min", "volume flux (acre-foot per minute)")
        case 159: return ("ac-ft/h", "volume flux (acre-foot per hour)")
        case 160: return ("ac-ft/d", "volume flux (acre-foot per day)")
        case 161: return ("gal (UK)", "volume (imperial gallon)")
        case 162: return ("gal (UK)/s", "volume flux (imperial gallon per second)")
        case 163: return ("gal (UK)/min", "volume flux (imperial gallon per minute)")
        case 164: return ("gal (UK)/h", "volume flux (imperial gallon per hour)")
        case 165: return ("gal (UK)/d", "volume flux (imperial gallon per day)")
        case 166: return ("gal (US)", "volume (US gallon)")
        case 167: return ("gal (US)/s", "volume flux (US gallon per second)")
        case 168: return ("gal (US)/min", "volume flux (US gallon per minute)")
        case 169: return ("gal (US)/h", "volume flux (US gallon per hour)")
        case 170: return ("gal (US)/d", "volume flux (US gallon per day)")
        case 171: return ("BTU/s", "power (BTU per second)")
        case 172: return ("BTU/min", "power (BTU per minute)")
        case 173: return ("BTU/h", "power (BTU per hour)")
        case 174: return ("BTU/d", "power (BTU per day)")
        case 254: return ("other", "other unit")
        case 255: return ("count", "no unit (count)")
        default: return nil
        }
    }
}
