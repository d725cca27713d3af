import COSEM

extension MeasurementCatalog {
    /// The standard catalog: the prototype's keys, every object of the Microstar protocol notes, and the common
    /// objects of three-phase meters (per-phase voltage, current, power factor and power, tariff registers).
    /// One row per measurement, with its unit and quantity: the payload, `read --list`, the simulator and Home
    /// Assistant discovery all take them from here. Keys are a contract with users: never renamed.
    public static let standard = MeasurementCatalog([
        // Instantaneous values, totals and L1 (the Microstar set).
        row("voltage_l1", (1, 1, 32, 7, 0), "Phase A instantaneous voltage", .volt),
        row("current_l1", (1, 1, 31, 7, 0), "Phase A instantaneous current", .ampere),
        row("frequency", (1, 1, 14, 7, 0), "Supply frequency", .hertz),
        row("active_power_import", (1, 1, 1, 7, 0), "Active power import (+P)", .watt),
        row("active_power_export", (1, 1, 2, 7, 0), "Active power export (-P)", .watt),
        row("reactive_power_import", (1, 1, 3, 7, 0), "Reactive power import (+Q)", .var),
        row("reactive_power_export", (1, 1, 4, 7, 0), "Reactive power export (-Q)", .var),
        row("apparent_power", (1, 1, 9, 7, 0), "Apparent power", .voltAmpere),
        // Energies.
        row("active_energy_import", (1, 1, 1, 8, 0), "Active energy import (+A)", .wattHour),
        row("active_energy_export", (1, 1, 2, 8, 0), "Active energy export (-A)", .wattHour),
        row("reactive_energy_import", (1, 1, 3, 8, 0), "Reactive energy import (+R)", .varHour),
        row("reactive_energy_export", (1, 1, 4, 8, 0), "Reactive energy export (-R)", .varHour),
        Measurement(key: "max_demand_import", obis: ObisCode(1, 1, 1, 6, 0), kind: .extendedRegister,
                    description: "Maximum demand, active import (+P)", expectedUnit: .watt),
        Measurement(key: "max_demand_export", obis: ObisCode(1, 1, 2, 6, 0), kind: .extendedRegister,
                    description: "Maximum demand, active export (-P)", expectedUnit: .watt),
        Measurement(key: "clock", obis: ObisCode(0, 0, 1, 0, 0, 255), kind: .clock, description: "Meter clock"),
        Measurement(key: "serial_number", obis: ObisCode(0, 0, 96, 1, 0, 255), kind: .data,
                    description: "Meter serial number"),
        Measurement(key: "firmware_version", obis: ObisCode(0, 0, 42, 0, 0, 255), kind: .data,
                    description: "Firmware version"),
        Measurement(key: "load_profile", obis: ObisCode(1, 0, 99, 1, 0, 255), kind: .profile,
                    description: "Load profile"),
        Measurement(key: "event_log", obis: ObisCode(0, 0, 99, 98, 0, 255), kind: .profile,
                    description: "Event log"),
        // Three-phase meters: L2, L3 and neutral.
        row("voltage_l2", (1, 1, 52, 7, 0), "Phase B instantaneous voltage", .volt),
        row("voltage_l3", (1, 1, 72, 7, 0), "Phase C instantaneous voltage", .volt),
        row("current_l2", (1, 1, 51, 7, 0), "Phase B instantaneous current", .ampere),
        row("current_l3", (1, 1, 71, 7, 0), "Phase C instantaneous current", .ampere),
        row("current_neutral", (1, 1, 91, 7, 0), "Neutral current", .ampere),
        row("power_factor", (1, 1, 13, 7, 0), "Power factor", .count),
        row("power_factor_l1", (1, 1, 33, 7, 0), "Phase A power factor", .count),
        row("power_factor_l2", (1, 1, 53, 7, 0), "Phase B power factor", .count),
        row("power_factor_l3", (1, 1, 73, 7, 0), "Phase C power factor", .count),
        row("active_power_import_l1", (1, 1, 21, 7, 0), "Phase A active power import (+P)", .watt),
        row("active_power_import_l2", (1, 1, 41, 7, 0), "Phase B active power import (+P)", .watt),
        row("active_power_import_l3", (1, 1, 61, 7, 0), "Phase C active power import (+P)", .watt),
        row("active_power_export_l1", (1, 1, 22, 7, 0), "Phase A active power export (-P)", .watt),
        row("active_power_export_l2", (1, 1, 42, 7, 0), "Phase B active power export (-P)", .watt),
        row("active_power_export_l3", (1, 1, 62, 7, 0), "Phase C active power export (-P)", .watt),
        row("reactive_power_import_l1", (1, 1, 23, 7, 0), "Phase A reactive power import (+Q)", .var),
        row("reactive_power_import_l2", (1, 1, 43, 7, 0), "Phase B reactive power import (+Q)", .var),
        row("reactive_power_import_l3", (1, 1, 63, 7, 0), "Phase C reactive power import (+Q)", .var),
        row("apparent_power_l1", (1, 1, 29, 7, 0), "Phase A apparent power", .voltAmpere),
        row("apparent_power_l2", (1, 1, 49, 7, 0), "Phase B apparent power", .voltAmpere),
        row("apparent_power_l3", (1, 1, 69, 7, 0), "Phase C apparent power", .voltAmpere),
        // Tariff registers (rate 1 and 2), the net register, apparent energy.
        row("active_energy_import_t1", (1, 1, 1, 8, 1), "Active energy import (+A), tariff 1", .wattHour),
        row("active_energy_import_t2", (1, 1, 1, 8, 2), "Active energy import (+A), tariff 2", .wattHour),
        row("active_energy_export_t1", (1, 1, 2, 8, 1), "Active energy export (-A), tariff 1", .wattHour),
        row("active_energy_export_t2", (1, 1, 2, 8, 2), "Active energy export (-A), tariff 2", .wattHour),
        row("active_energy_net", (1, 1, 16, 8, 0), "Active energy net (+A - -A)", .wattHour),
        row("apparent_energy_import", (1, 1, 9, 8, 0), "Apparent energy import (+S)", .voltAmpereHour),
    ])

    /// A register row; its quantity follows from the OBIS code.
    private static func row(
        _ key: String, _ o: (UInt8, UInt8, UInt8, UInt8, UInt8), _ description: String, _ unit: UnitCode
    ) -> Measurement {
        Measurement(key: key, obis: ObisCode(o.0, o.1, o.2, o.3, o.4), kind: .register, description: description,
                    expectedUnit: unit)
    }
}
