import COSEM
import MeterLink

/// How Home Assistant should treat a measurement: its sensor `device_class`, `state_class` and
/// `unit_of_measurement`. Derived from the catalog's ``Quantity`` in this one place.
///
/// Home Assistant's rules, carried over from its sensor documentation: `energy` takes `total_increasing` (a
/// counter that only grows; a drop is read as a meter reset) or `total` (a net register that may go down),
/// never `measurement`; power, voltage, current, frequency, apparent and reactive power and the power factor
/// take `measurement`; the power factor has no unit (a ratio) or `%`. Apparent energy has no device class in
/// Home Assistant: it gets none, with its unit.
public struct HomeAssistantClass: Sendable, Equatable {
    public var deviceClass: String?
    public var stateClass: String?
    public var unit: String?

    public init(deviceClass: String?, stateClass: String?, unit: String?) {
        self.deviceClass = deviceClass
        self.stateClass = stateClass
        self.unit = unit
    }

    /// The classes of `measurement`, or nil when it becomes no entity (the clock, texts that describe the
    /// device instead, profiles).
    public static func of(_ measurement: Measurement) -> HomeAssistantClass? {
        switch measurement.quantity {
        case .voltage: return HomeAssistantClass(deviceClass: "voltage", stateClass: "measurement", unit: "V")
        case .current: return HomeAssistantClass(deviceClass: "current", stateClass: "measurement", unit: "A")
        case .frequency: return HomeAssistantClass(deviceClass: "frequency", stateClass: "measurement", unit: "Hz")
        case .activePower: return HomeAssistantClass(deviceClass: "power", stateClass: "measurement", unit: "W")
        case .reactivePower:
            return HomeAssistantClass(deviceClass: "reactive_power", stateClass: "measurement", unit: "var")
        case .apparentPower:
            return HomeAssistantClass(deviceClass: "apparent_power", stateClass: "measurement", unit: "VA")
        case .powerFactor: return HomeAssistantClass(deviceClass: "power_factor", stateClass: "measurement", unit: nil)
        case .activeEnergy: return HomeAssistantClass(deviceClass: "energy", stateClass: "total_increasing", unit: "Wh")
        case .netActiveEnergy: return HomeAssistantClass(deviceClass: "energy", stateClass: "total", unit: "Wh")
        case .reactiveEnergy:
            return HomeAssistantClass(deviceClass: "reactive_energy", stateClass: "total_increasing", unit: "varh")
        case .apparentEnergy: return HomeAssistantClass(deviceClass: nil, stateClass: "total_increasing", unit: "VAh")
        // The highest power of a billing period: a power, but no present value to keep statistics of.
        case .maximumDemand: return HomeAssistantClass(deviceClass: "power", stateClass: nil, unit: "W")
        case .other:
            return HomeAssistantClass(
                deviceClass: nil, stateClass: nil, unit: measurement.expectedUnit.flatMap { UnitSymbols.symbol(forCode: $0.rawValue) })
        case .clock, .text, .profile: return nil
        }
    }
}
