import COSEM

/// The payload's human-readable `unit`: COSEM's symbol of the unit code (``UnitCode/symbol``, IEC 62056-6-2),
/// as the payload has always published it. Codes without a symbol publish `unit: null` but keep their `unit_code`.
public enum UnitSymbols {
    /// The symbol of a standard unit code, or nil when the payload names none for it.
    public static func symbol(forCode code: UInt8) -> String? {
        switch code {
        // The payload's spelling since its first release (COSEM writes `mol %` and `Pa s`).
        case 62: return "mol%"
        case 64: return "Pa·s"
        // Never named by the payload: 254 (other unit) and the non-SI units (g/cm², atm, inch, foot, BTU, ...).
        case 66, 67, 128...254: return nil
        default:
            let unit = UnitCode(code)
            return unit.isKnown ? unit.symbol : nil
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
