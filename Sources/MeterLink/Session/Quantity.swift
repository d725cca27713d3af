import COSEM

/// The physical quantity a measurement is. It is what a consumer needs to treat a value right: Home Assistant's
/// device and state classes come from it, and so does the plausibility rule for energy registers.
public enum Quantity: String, Sendable, Hashable, CaseIterable {
    case voltage
    case current
    case frequency
    /// Active power (W), import, export or per phase.
    case activePower = "active_power"
    case reactivePower = "reactive_power"
    case apparentPower = "apparent_power"
    /// Power factor: a ratio without unit.
    case powerFactor = "power_factor"
    /// An active energy register that only counts up (import, export, a tariff).
    case activeEnergy = "active_energy"
    /// A bidirectional (net) active energy register: import minus export, it may go down.
    case netActiveEnergy = "net_active_energy"
    case reactiveEnergy = "reactive_energy"
    case apparentEnergy = "apparent_energy"
    /// A maximum demand: a power, but the highest of a billing period rather than a present value.
    case maximumDemand = "maximum_demand"
    /// The meter's clock.
    case clock
    /// A text or identifier (serial number, firmware version).
    case text
    /// A load profile or event log, read by range.
    case profile
    /// Anything else: published with its unit, no class.
    case other

    /// Energy registers: they count, and the plausibility rule watches them.
    public var isEnergy: Bool {
        switch self {
        case .activeEnergy, .netActiveEnergy, .reactiveEnergy, .apparentEnergy: return true
        default: return false
        }
    }

    /// Registers that only count up: going backwards is implausible for them (a net register may).
    public var isMonotonic: Bool { isEnergy && self != .netActiveEnergy }

    /// What an object is, from its OBIS code (IEC 62056-6-1, electricity: A = 1) and class: C names the
    /// quantity (1/2 active power, 3/4 reactive, 9/10 apparent, 13 power factor, 14 frequency, 11 current,
    /// 12 voltage, and the per-phase groups 20 + n, 40 + n, 60 + n), D how it is processed (7 instantaneous,
    /// 8 time integral: an energy, 6 maximum demand, 4/5 demand averages).
    public static func inferred(from obis: ObisCode, kind: MeasurementKind) -> Quantity {
        switch kind {
        case .clock: return .clock
        case .profile: return .profile
        case .data: return .text
        case .register, .extendedRegister, .demandRegister: break
        }
        guard obis.a == 1 else { return .other }
        // Per-phase groups repeat the total's C codes at +20 (L1), +40 (L2), +60 (L3); 91/92 neutral.
        var c = Int(obis.c)
        if c >= 21 && c <= 80 { c = (c - 1) % 20 + 1 }
        if c == 91 || c == 90 { c = 11 }
        if c == 92 { c = 12 }
        let isEnergy = obis.d == 8 || obis.d == 9 || obis.d == 29
        let isMaximum = obis.d == 6
        switch c {
        case 1, 2, 15, 16, 17:
            if isEnergy { return c == 16 ? .netActiveEnergy : .activeEnergy }
            return isMaximum ? .maximumDemand : .activePower
        case 3, 4, 5, 6, 7, 8:
            if isEnergy { return .reactiveEnergy }
            return isMaximum ? .other : .reactivePower
        case 9, 10:
            if isEnergy { return .apparentEnergy }
            return isMaximum ? .other : .apparentPower
        case 11: return isEnergy ? .other : .current
        case 12: return isEnergy ? .other : .voltage
        case 13: return .powerFactor
        case 14: return .frequency
        default: return .other
        }
    }
}
