import COSEM
import MeterLink
import MeterSimulator
import Testing

/// The three-phase part of the catalog and the simulated meter that serves it: every row has the right unit
/// and quantity, and the simulated values agree with each other the way a real meter's do.
@Suite struct ThreePhaseCatalogTests {
    let catalog = MeasurementCatalog.standard
    let model = SimulatedObjectModel(configuration: SimulatorConfiguration())

    @Test func keysAndCodesAreUnique() {
        #expect(Set(catalog.keys).count == catalog.keys.count)
        #expect(Set(catalog.measurements.map { $0.obis }).count == catalog.measurements.count)
    }

    @Test func everyRegisterHasAUnitAndAQuantity() {
        for m in catalog.measurements where m.kind.hasScalerUnit {
            #expect(m.expectedUnit != nil, "\(m.key) has no unit")
            #expect(m.quantity != .other, "\(m.key) has no quantity")
        }
    }

    @Test(arguments: [
        ("voltage_l2", Quantity.voltage, UnitCode.volt), ("voltage_l3", .voltage, .volt),
        ("current_l3", .current, .ampere), ("current_neutral", .current, .ampere),
        ("power_factor_l2", .powerFactor, .count), ("active_power_import_l1", .activePower, .watt),
        ("active_power_export_l3", .activePower, .watt), ("reactive_power_import_l2", .reactivePower, .var),
        ("apparent_power_l1", .apparentPower, .voltAmpere), ("active_energy_import_t1", .activeEnergy, .wattHour),
        ("active_energy_export_t2", .activeEnergy, .wattHour), ("active_energy_net", .netActiveEnergy, .wattHour),
        ("reactive_energy_import", .reactiveEnergy, .varHour), ("apparent_energy_import", .apparentEnergy, .voltAmpereHour),
        ("max_demand_import", .maximumDemand, .watt), ("frequency", .frequency, .hertz),
    ])
    func rowsHaveTheirQuantityAndUnit(key: String, quantity: Quantity, unit: UnitCode) throws {
        let m = try #require(catalog[key])
        #expect(m.quantity == quantity)
        #expect(m.expectedUnit == unit)
    }

    @Test func quantitiesFollowTheObisCodeForCustomDefinitions() throws {
        let l2 = try MeasurementCatalog.parseDefinition("p2=1-0:41.7.0:register")
        #expect(l2.quantity == .activePower)
        #expect(try MeasurementCatalog.parseDefinition("e=1-0:1.8.3:register").quantity == .activeEnergy)
        #expect(try MeasurementCatalog.parseDefinition("n=1-0:16.8.0:register").quantity == .netActiveEnergy)
        #expect(try MeasurementCatalog.parseDefinition("u=1-0:92.7.0:register").quantity == .voltage)
        #expect(try MeasurementCatalog.parseDefinition("t=0-0:96.9.0.255:register").quantity == .other)
        #expect(try MeasurementCatalog.parseDefinition("s=0-0:96.1.1.255:data").quantity == .text)
    }

    func raw(_ key: String, at ms: Int64) throws -> Int64 {
        let m = try #require(catalog[key])
        return try #require(model.rawValue(of: m.obis, at: ms), "\(key) not served")
    }

    @Test func theSimulatedPhasesAddUpToTheTotals() throws {
        for step in 0..<50 {
            let t = SimulatorHarness.start + Int64(step) * 61_000
            let phases = ["l1", "l2", "l3"]
            var apparent: Int64 = 0
            var active: Int64 = 0
            var reactive: Int64 = 0
            var export: Int64 = 0
            for p in phases {
                let s = try raw("apparent_power_\(p)", at: t)
                let v = try raw("voltage_\(p)", at: t)  // 0.1 V
                let i = try raw("current_\(p)", at: t)  // mA
                #expect(s == v * i / 10_000, "S = V x I on \(p)")
                let pf = try raw("power_factor_\(p)", at: t)  // 0.001
                let pw = try raw("active_power_import_\(p)", at: t)
                #expect(abs(Double(pw) - Double(s) * Double(pf) / 1000) <= 1, "P = S x PF on \(p)")
                apparent += s
                active += pw
                reactive += try raw("reactive_power_import_\(p)", at: t)
                export += try raw("active_power_export_\(p)", at: t)
            }
            #expect(try raw("apparent_power", at: t) == apparent)
            #expect(try raw("active_power_import", at: t) == active)
            #expect(try raw("reactive_power_import", at: t) == reactive)
            #expect(try raw("active_power_export", at: t) == export)
            let neutral = try raw("current_neutral", at: t)
            let currents = try phases.map { try raw("current_\($0)", at: t) }
            #expect(neutral >= 0 && neutral <= currents.max()! - currents.min()! + 1, "neutral \(neutral) of \(currents)")
        }
    }

    @Test func tariffsAddUpAndTheNetRegisterIsImportMinusExport() throws {
        var last: [String: Int64] = [:]
        for step in 0..<40 {
            let t = SimulatorHarness.start + Int64(step) * 3_600_000
            let imp = try raw("active_energy_import", at: t)
            let exp = try raw("active_energy_export", at: t)
            #expect(try raw("active_energy_import_t1", at: t) + raw("active_energy_import_t2", at: t) == imp)
            #expect(try raw("active_energy_export_t1", at: t) + raw("active_energy_export_t2", at: t) == exp)
            #expect(try raw("active_energy_net", at: t) == imp - exp)
            for key in ["active_energy_import_t1", "active_energy_import_t2", "active_energy_export_t1",
                        "active_energy_export_t2", "apparent_energy_import"] {
                let v = try raw(key, at: t)
                if let previous = last[key] { #expect(v >= previous, "\(key) went backwards") }
                last[key] = v
            }
        }
    }
}
