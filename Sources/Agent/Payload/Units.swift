/// Symbols of the DLMS unit enumeration (IEC 62056-6-2, "unit" of a register's scaler_unit), for the payload's
/// human-readable `unit` field. Codes without a symbol publish `unit: null` but keep their `unit_code`.
public enum UnitSymbols {
    /// The symbol of a standard unit code, or nil when the code has none.
    public static func symbol(forCode code: UInt8) -> String? {
        switch code {
        case 1: return "a"
        case 2: return "mo"
        case 3: return "wk"
        case 4: return "d"
        case 5: return "h"
        case 6: return "min"
        case 7: return "s"
        case 8: return "°"
        case 9: return "°C"
        case 10: return "currency"
        case 11: return "m"
        case 12: return "m/s"
        case 13: return "m³"
        case 14: return "m³"
        case 15: return "m³/h"
        case 16: return "m³/h"
        case 17: return "m³/d"
        case 18: return "m³/d"
        case 19: return "l"
        case 20: return "kg"
        case 21: return "N"
        case 22: return "Nm"
        case 23: return "Pa"
        case 24: return "bar"
        case 25: return "J"
        case 26: return "J/h"
        case 27: return "W"
        case 28: return "VA"
        case 29: return "var"
        case 30: return "Wh"
        case 31: return "VAh"
        case 32: return "varh"
        case 33: return "A"
        case 34: return "C"
        case 35: return "V"
        case 36: return "V/m"
        case 37: return "F"
        case 38: return "Ω"
        case 39: return "Ωm²/m"
        case 40: return "Wb"
        case 41: return "T"
        case 42: return "A/m"
        case 43: return "H"
        case 44: return "Hz"
        case 45: return "1/(Wh)"
        case 46: return "1/(varh)"
        case 47: return "1/(VAh)"
        case 48: return "V²h"
        case 49: return "A²h"
        case 50: return "kg/s"
        case 51: return "S"
        case 52: return "K"
        case 53: return "1/(V²h)"
        case 54: return "1/(A²h)"
        case 55: return "1/m³"
        case 56: return "%"
        case 57: return "Ah"
        case 60: return "Wh/m³"
        case 61: return "J/m³"
        case 62: return "mol%"
        case 63: return "g/m³"
        case 64: return "Pa·s"
        case 65: return "J/kg"
        case 70: return "dBm"
        case 71: return "dBµV"
        case 72: return "dB"
        case 255: return "count"
        default: return nil  // 254 "other unit", 0 and reserved codes
        }
    }
}

/// Which numbers go into the payload's `unit_code` (configuration `UNIT_CODES`).
public enum UnitCodeMapping: String, Sendable, Equatable, CaseIterable {
    /// The code the meter sent, which is the IEC 62056-6-2 code (volt = 35). The default.
    case standard
    /// The Python prototype's rewrite, for dashboards built on its numbers: it believed 35 meant hertz and
    /// published voltage (35, volt) as 32 (which is really varh). That one rewrite and nothing else.
    case prototype

    /// The `unit_code` to publish for a code read from the meter.
    public func publishedCode(for code: UInt8) -> UInt8 {
        switch self {
        case .standard: return code
        case .prototype: return code == 35 ? 32 : code
        }
    }
}
