import COSEM

/// The simulated meter's COSEM objects: every object of the standard measurement catalog, with plausible
/// values that are pure functions of the time the caller passes in (so a test can predict them).
///
/// - A three-phase meter. Instantaneous values wander along triangle waves: voltages around 230 V (scaler -1,
///   unit 35 V), currents around 5, 4 and 3 A on L1, L2, L3 (scaler -3, unit 33 A), frequency around 50 Hz
///   (scaler -2, unit 44 Hz). Each phase's apparent power is its V x I, active power 0.96 of it (the power
///   factor, scaler -3, unit 255), reactive power 0.28 of it; the totals are the sums of the phases, the
///   neutral current the magnitude of the three currents' phasor sum.
/// - Energies (Wh, varh, VAh) grow at a steady rate from a fixed base, so they only ever increase; the tariff
///   registers (rate 1 two thirds, rate 2 the rest) add up to the total, the net register is import minus
///   export, and the load profile's columns at a capture instant equal the registers read at that instant.
/// - The load profile (1-0:99.1.0.255) captures clock, +A, -A, +R, -R every ``SimulatorConfiguration/capturePeriodSeconds``
///   with ``SimulatorConfiguration/profileRows`` rows back from now; it is far longer than one PDU, so it
///   needs block transfer. The event log (0-0:99.98.0.255) has one event every 6 hours over the same span.
///
/// Units are the IEC 62056-6-2 codes (35 is the volt), not the prototype's wrong table.
public struct SimulatedObjectModel: Sendable {
    public var configuration: SimulatorConfiguration

    public init(configuration: SimulatorConfiguration) { self.configuration = configuration }

    // MARK: OBIS codes

    public static let voltage = ObisCode(1, 1, 32, 7, 0)
    public static let current = ObisCode(1, 1, 31, 7, 0)
    public static let frequency = ObisCode(1, 1, 14, 7, 0)
    public static let activePowerImport = ObisCode(1, 1, 1, 7, 0)
    public static let activePowerExport = ObisCode(1, 1, 2, 7, 0)
    public static let reactivePowerImport = ObisCode(1, 1, 3, 7, 0)
    public static let reactivePowerExport = ObisCode(1, 1, 4, 7, 0)
    public static let apparentPower = ObisCode(1, 1, 9, 7, 0)
    public static let activeEnergyImport = ObisCode(1, 1, 1, 8, 0)
    public static let activeEnergyExport = ObisCode(1, 1, 2, 8, 0)
    public static let reactiveEnergyImport = ObisCode(1, 1, 3, 8, 0)
    public static let reactiveEnergyExport = ObisCode(1, 1, 4, 8, 0)
    public static let maxDemandImport = ObisCode(1, 1, 1, 6, 0)
    public static let maxDemandExport = ObisCode(1, 1, 2, 6, 0)
    public static let clock = ObisCode.clock
    public static let serialNumber = ObisCode(0, 0, 96, 1, 0, 255)
    public static let firmwareVersion = ObisCode(0, 0, 42, 0, 0, 255)
    public static let loadProfile = ObisCode(1, 0, 99, 1, 0, 255)
    public static let eventLog = ObisCode(0, 0, 99, 98, 0, 255)
    public static let eventCode = ObisCode(0, 0, 96, 11, 0, 255)
    // Three-phase objects: index 0, 1, 2 for L1, L2, L3.
    public static let voltages = [voltage, ObisCode(1, 1, 52, 7, 0), ObisCode(1, 1, 72, 7, 0)]
    public static let currents = [current, ObisCode(1, 1, 51, 7, 0), ObisCode(1, 1, 71, 7, 0)]
    public static let neutralCurrent = ObisCode(1, 1, 91, 7, 0)
    public static let powerFactor = ObisCode(1, 1, 13, 7, 0)
    public static let powerFactors = [ObisCode(1, 1, 33, 7, 0), ObisCode(1, 1, 53, 7, 0), ObisCode(1, 1, 73, 7, 0)]
    public static let activePowersImport = [ObisCode(1, 1, 21, 7, 0), ObisCode(1, 1, 41, 7, 0), ObisCode(1, 1, 61, 7, 0)]
    public static let activePowersExport = [ObisCode(1, 1, 22, 7, 0), ObisCode(1, 1, 42, 7, 0), ObisCode(1, 1, 62, 7, 0)]
    public static let reactivePowersImport = [ObisCode(1, 1, 23, 7, 0), ObisCode(1, 1, 43, 7, 0), ObisCode(1, 1, 63, 7, 0)]
    public static let apparentPowers = [ObisCode(1, 1, 29, 7, 0), ObisCode(1, 1, 49, 7, 0), ObisCode(1, 1, 69, 7, 0)]
    public static let activeEnergyImportTariffs = [ObisCode(1, 1, 1, 8, 1), ObisCode(1, 1, 1, 8, 2)]
    public static let activeEnergyExportTariffs = [ObisCode(1, 1, 2, 8, 1), ObisCode(1, 1, 2, 8, 2)]
    public static let activeEnergyNet = ObisCode(1, 1, 16, 8, 0)
    public static let apparentEnergyImport = ObisCode(1, 1, 9, 8, 0)

    public static let associationLN = AssociationLN.current

    /// Every register (class 3) the meter has.
    public static let registers: [ObisCode] =
        voltages + currents + [neutralCurrent, frequency, powerFactor] + powerFactors
        + [activePowerImport, activePowerExport] + activePowersImport + activePowersExport
        + [reactivePowerImport, reactivePowerExport] + reactivePowersImport + [apparentPower] + apparentPowers
        + [activeEnergyImport, activeEnergyExport] + activeEnergyImportTariffs + activeEnergyExportTariffs
        + [activeEnergyNet, reactiveEnergyImport, reactiveEnergyExport, apparentEnergyImport]

    /// The object list of the Association LN (0-0:40.0.0.255, attribute 2): every object the meter serves,
    /// each with its class and its attributes listed read-only.
    public static let objectList: [(entry: ObjectListEntry, attributes: Int8)] = {
        var out: [(entry: ObjectListEntry, attributes: Int8)] = [
            (ObjectListEntry(classId: InterfaceClass.clock.rawValue, version: 0, obis: clock), 9),
            (ObjectListEntry(classId: AssociationLN.classId, version: 1, obis: associationLN), 2),
            (ObjectListEntry(classId: InterfaceClass.data.rawValue, version: 0, obis: serialNumber), 2),
            (ObjectListEntry(classId: InterfaceClass.data.rawValue, version: 0, obis: firmwareVersion), 2),
            (ObjectListEntry(classId: InterfaceClass.data.rawValue, version: 0, obis: eventCode), 2),
        ]
        for r in registers { out.append((ObjectListEntry(classId: InterfaceClass.register.rawValue, version: 0, obis: r), 3)) }
        for d in [maxDemandImport, maxDemandExport] {
            out.append((ObjectListEntry(classId: InterfaceClass.extendedRegister.rawValue, version: 0, obis: d), 5))
        }
        for p in [loadProfile, eventLog] {
            out.append((ObjectListEntry(classId: InterfaceClass.profileGeneric.rawValue, version: 1, obis: p), 8))
        }
        return out
    }()

    /// Seconds between event log entries by default (``SimulatorConfiguration/eventPeriodSeconds``).
    public static let eventIntervalSeconds: Int64 = 6 * 3600

    /// Seconds between event log entries of this meter.
    var eventInterval: Int64 { max(1, configuration.eventPeriodSeconds) }

    /// A register's scaler and unit as the meter reports them.
    public static func scalerUnit(of obis: ObisCode) -> ScalerUnit? {
        switch obis {
        case _ where voltages.contains(obis): return ScalerUnit(scaler: -1, unit: .volt)
        case _ where currents.contains(obis), neutralCurrent: return ScalerUnit(scaler: -3, unit: .ampere)
        case frequency: return ScalerUnit(scaler: -2, unit: .hertz)
        case _ where obis == powerFactor || powerFactors.contains(obis): return ScalerUnit(scaler: -3, unit: .count)
        case activePowerImport, activePowerExport, maxDemandImport, maxDemandExport:
            return ScalerUnit(scaler: 0, unit: .watt)
        case _ where activePowersImport.contains(obis) || activePowersExport.contains(obis):
            return ScalerUnit(scaler: 0, unit: .watt)
        case reactivePowerImport, reactivePowerExport: return ScalerUnit(scaler: 0, unit: .var)
        case _ where reactivePowersImport.contains(obis): return ScalerUnit(scaler: 0, unit: .var)
        case _ where obis == apparentPower || apparentPowers.contains(obis): return ScalerUnit(scaler: 0, unit: .voltAmpere)
        case activeEnergyImport, activeEnergyExport, activeEnergyNet: return ScalerUnit(scaler: 0, unit: .wattHour)
        case _ where activeEnergyImportTariffs.contains(obis) || activeEnergyExportTariffs.contains(obis):
            return ScalerUnit(scaler: 0, unit: .wattHour)
        case reactiveEnergyImport, reactiveEnergyExport: return ScalerUnit(scaler: 0, unit: .varHour)
        case apparentEnergyImport: return ScalerUnit(scaler: 0, unit: .voltAmpereHour)
        default: return nil
        }
    }

    /// The interface class of each object the meter has.
    public static func interfaceClass(of obis: ObisCode) -> InterfaceClass? {
        switch obis {
        case maxDemandImport, maxDemandExport: return .extendedRegister
        case clock: return .clock
        case serialNumber, firmwareVersion, eventCode: return .data
        case loadProfile, eventLog: return .profileGeneric
        default: return scalerUnit(of: obis) != nil ? .register : nil
        }
    }

    /// The load profile's columns: clock, then the four energy registers' values.
    public static let loadProfileColumns: [CaptureObjectDefinition] = [
        CaptureObjectDefinition(classId: InterfaceClass.clock.rawValue, obis: clock, attribute: 2),
        CaptureObjectDefinition(classId: InterfaceClass.register.rawValue, obis: activeEnergyImport, attribute: 2),
        CaptureObjectDefinition(classId: InterfaceClass.register.rawValue, obis: activeEnergyExport, attribute: 2),
        CaptureObjectDefinition(classId: InterfaceClass.register.rawValue, obis: reactiveEnergyImport, attribute: 2),
        CaptureObjectDefinition(classId: InterfaceClass.register.rawValue, obis: reactiveEnergyExport, attribute: 2),
    ]

    /// The load profile's columns after the capture-objects change: clock, +A, the phase A voltage, -A (a
    /// reordered, different layout, so that a client decoding it with the old header would be caught).
    public static let changedLoadProfileColumns: [CaptureObjectDefinition] = [
        CaptureObjectDefinition(classId: InterfaceClass.clock.rawValue, obis: clock, attribute: 2),
        CaptureObjectDefinition(classId: InterfaceClass.register.rawValue, obis: activeEnergyImport, attribute: 2),
        CaptureObjectDefinition(classId: InterfaceClass.register.rawValue, obis: voltage, attribute: 2),
        CaptureObjectDefinition(classId: InterfaceClass.register.rawValue, obis: activeEnergyExport, attribute: 2),
    ]

    /// The load profile's columns for a capture at `instant` (unix seconds, meter time).
    public func loadProfileColumns(at instant: Int64) -> [CaptureObjectDefinition] {
        if let change = configuration.captureObjectsChangeAt, instant >= change { return Self.changedLoadProfileColumns }
        return Self.loadProfileColumns
    }

    /// The event log's columns: clock and the event code.
    public static let eventLogColumns: [CaptureObjectDefinition] = [
        CaptureObjectDefinition(classId: InterfaceClass.clock.rawValue, obis: clock, attribute: 2),
        CaptureObjectDefinition(classId: InterfaceClass.data.rawValue, obis: eventCode, attribute: 2),
    ]

    // MARK: Values as functions of time

    /// 2020-01-01T00:00:00Z: energies count from here.
    static let baseSeconds: Int64 = 1_577_836_800

    /// A triangle wave of `period` seconds between -amplitude and +amplitude.
    static func triangle(_ seconds: Int64, period: Int64, amplitude: Int64) -> Int64 {
        let phase = ((seconds % period) + period) % period  // 0 ..< period
        let half = period / 2
        let up = phase < half ? phase : period - phase  // 0 ... half
        return (up * 4 * amplitude) / period - amplitude
    }

    /// Phase `n` (0, 1, 2): voltage in 0.1 V and current in mA at second `s`. L1 is the Microstar set's.
    static func phase(_ n: Int, at s: Int64) -> (voltage: Int64, current: Int64) {
        let shift = Int64(n)
        let voltage = 2300 + triangle(s + shift * 200, period: 600, amplitude: 40)
        let base: [Int64] = [5000, 4000, 3000]
        let swing: [Int64] = [1500, 1200, 900]
        return (voltage, base[n] + triangle(s + shift * 300, period: 900, amplitude: swing[n]))
    }

    /// Phase `n`'s apparent, active and reactive power (VA, W, var) at second `s`.
    static func phasePower(_ n: Int, at s: Int64) -> (apparent: Int64, active: Int64, reactive: Int64) {
        let (v, i) = phase(n, at: s)
        let apparent = v * i / 10_000
        return (apparent, apparent * 96 / 100, apparent * 28 / 100)
    }

    /// The integer square root (floor), for the neutral current.
    static func squareRoot(_ x: Int64) -> Int64 {
        guard x > 1 else { return max(0, x) }
        var r = x
        var next = (r + x / r) / 2
        while next < r { r = next; next = (r + x / r) / 2 }
        return r
    }

    /// The raw integer value of a register at `unixMilliseconds` (before the scaler).
    public func rawValue(of obis: ObisCode, at unixMilliseconds: Int64) -> Int64? {
        let s = unixMilliseconds / 1000
        let elapsed = max(0, s - Self.baseSeconds)
        let powers = (0..<3).map { Self.phasePower($0, at: s) }
        let exportTotal = max(0, Self.triangle(s, period: 3600, amplitude: 300))
        // Energies: a base plus a steady average rate (W, var or VA) times the elapsed time; the rates are the
        // averages of the powers above.
        let importEnergy = 1_000_000 + elapsed * 2650 / 3600
        let exportEnergy = 20_000 + elapsed * 75 / 3600
        if let n = Self.voltages.firstIndex(of: obis) { return Self.phase(n, at: s).voltage }
        if let n = Self.currents.firstIndex(of: obis) { return Self.phase(n, at: s).current }
        if let n = Self.apparentPowers.firstIndex(of: obis) { return powers[n].apparent }
        if let n = Self.activePowersImport.firstIndex(of: obis) { return powers[n].active }
        if let n = Self.reactivePowersImport.firstIndex(of: obis) { return powers[n].reactive }
        if let n = Self.activePowersExport.firstIndex(of: obis) {
            // The export split 1/2, 1/4, the rest: the phases add up to the total.
            let l1 = exportTotal / 2, l2 = exportTotal / 4
            return [l1, l2, exportTotal - l1 - l2][n]
        }
        if Self.powerFactors.contains(obis) || obis == Self.powerFactor { return 960 }
        if let n = Self.activeEnergyImportTariffs.firstIndex(of: obis) {
            let t1 = importEnergy * 2 / 3
            return n == 0 ? t1 : importEnergy - t1
        }
        if let n = Self.activeEnergyExportTariffs.firstIndex(of: obis) {
            let t1 = exportEnergy * 2 / 3
            return n == 0 ? t1 : exportEnergy - t1
        }
        switch obis {
        case Self.frequency: return 5000 + Self.triangle(s, period: 120, amplitude: 5)
        case Self.activePowerImport: return powers.reduce(0) { $0 + $1.active }
        case Self.activePowerExport: return exportTotal
        case Self.reactivePowerImport: return powers.reduce(0) { $0 + $1.reactive }
        case Self.reactivePowerExport: return max(0, Self.triangle(s, period: 1800, amplitude: 40))
        case Self.apparentPower: return powers.reduce(0) { $0 + $1.apparent }
        case Self.neutralCurrent:
            // |Ia + Ib + Ic| with the phases 120 degrees apart.
            let i = (0..<3).map { Self.phase($0, at: s).current }
            return Self.squareRoot(i[0] * i[0] + i[1] * i[1] + i[2] * i[2] - i[0] * i[1] - i[1] * i[2] - i[2] * i[0])
        case Self.activeEnergyImport: return importEnergy
        case Self.activeEnergyExport: return exportEnergy
        case Self.activeEnergyNet: return importEnergy - exportEnergy
        case Self.reactiveEnergyImport: return 300_000 + elapsed * 773 / 3600
        case Self.reactiveEnergyExport: return 5_000 + elapsed * 10 / 3600
        case Self.apparentEnergyImport: return 1_200_000 + elapsed * 2760 / 3600
        case Self.maxDemandImport: return 2500 + (s / 86_400 % 7) * 150
        case Self.maxDemandExport: return 600 + (s / 86_400 % 5) * 40
        default: return nil
        }
    }

    /// The A-XDR value of a register's attribute 2.
    func registerValue(_ obis: ObisCode, at ms: Int64) -> DataValue? {
        guard let raw = rawValue(of: obis, at: ms) else { return nil }
        guard let unit = Self.scalerUnit(of: obis)?.unit else { return .doubleLongUnsigned(UInt32(truncatingIfNeeded: raw)) }
        switch unit {
        case .volt, .hertz: return .longUnsigned(UInt16(clamping: raw))
        case .count: return .long(Int16(clamping: raw))
        case .watt, .var, .voltAmpere: return .doubleLong(Int32(clamping: raw))
        default: return obis == Self.activeEnergyNet ? .doubleLong(Int32(clamping: raw)) : .doubleLongUnsigned(UInt32(truncatingIfNeeded: raw))
        }
    }

    /// The meter's clock as a date-time.
    public func dateTime(at unixMilliseconds: Int64) -> CosemDateTime {
        CosemDateTime(unixMilliseconds: unixMilliseconds, deviation: configuration.clockDeviationMinutes,
                      clockStatus: ClockStatus(rawValue: 0))
    }

    /// When a maximum demand was captured: within the last day, never after now.
    func maxDemandCaptureTime(at ms: Int64) -> CosemDateTime {
        let s = ms / 1000
        let boundary = s - s % 900
        return dateTime(at: (boundary - (s / 86_400 % 10) * 900 - 3600) * 1000)
    }

    // MARK: Profiles

    /// The capture instants (unix seconds) of the load profile's rows at `unixMilliseconds`, oldest first.
    public func loadProfileInstants(at unixMilliseconds: Int64) -> [Int64] {
        let period = Int64(max(1, configuration.capturePeriodSeconds))
        let s = unixMilliseconds / 1000
        let last = s - ((s % period) + period) % period
        let count = Int64(max(1, configuration.profileRows))
        var instants = (0..<count).map { last - (count - 1 - $0) * period }
        // The meter captured nothing while unpowered; a reconfiguration cleared the buffer.
        if !configuration.profileGaps.isEmpty {
            instants.removeAll { t in configuration.profileGaps.contains { $0.contains(t) } }
        }
        if let change = configuration.captureObjectsChangeAt, s >= change {
            instants.removeAll { $0 < change }
        }
        return instants
    }

    /// The event log's instants, oldest first: every 6 hours over the load profile's span.
    public func eventInstants(at unixMilliseconds: Int64) -> [Int64] {
        let instants = loadProfileInstants(at: unixMilliseconds)
        guard let first = instants.first, let last = instants.last else { return [] }
        var out: [Int64] = []
        let interval = eventInterval
        var t = last - ((last % interval) + interval) % interval
        while t >= first { out.append(t); t -= interval }
        return out.reversed()
    }

    /// One load profile row as captured at `instant` (unix seconds).
    public func loadProfileRow(at instant: Int64) -> [DataValue] {
        let ms = instant * 1000
        var row: [DataValue] = [.octetString(dateTime(at: ms).bytes)]
        for column in loadProfileColumns(at: instant).dropFirst() {
            row.append(registerValue(column.obis, at: ms) ?? .null)
        }
        return row
    }

    /// One event log row: the event code cycles through power down (1), power up (2), clock set (4),
    /// parameter change (47).
    public func eventRow(at instant: Int64) -> [DataValue] {
        let codes: [UInt16] = [1, 2, 4, 47]
        let index = Int((instant / eventInterval) % Int64(codes.count))
        return [.octetString(dateTime(at: instant * 1000).bytes), .longUnsigned(codes[index])]
    }

    func eventCode(at ms: Int64) -> DataValue {
        let instants = eventInstants(at: ms)
        guard let last = instants.last else { return .longUnsigned(0) }
        return eventRow(at: last)[1]
    }

    // MARK: GET

    /// Reads one attribute at `unixMilliseconds`: the value, or the data-access-result a meter gives.
    /// Unknown objects and attributes are object-undefined (4), a wrong class id object-class-inconsistent
    /// (9); selective access on anything but a profile buffer is other-reason (250).
    public func get(_ attribute: AttributeDescriptor, access: SelectiveAccess?, at unixMilliseconds: Int64)
        -> GetDataResult
    {
        let obis = attribute.obis
        if obis == Self.associationLN {
            guard attribute.classId == AssociationLN.classId else { return .error(.objectClassInconsistent) }
            guard access == nil else { return .error(.otherReason) }
            switch attribute.attribute {
            case 1: return .data(.octetString(obis.bytes))
            case 2: return .data(.array(Self.objectList.map { $0.entry.dataValue(attributes: $0.attributes) }))
            default: return .error(.objectUndefined)
            }
        }
        guard let interfaceClass = Self.interfaceClass(of: obis) else { return .error(.objectUndefined) }
        guard attribute.classId == interfaceClass.rawValue else { return .error(.objectClassInconsistent) }
        let ms = unixMilliseconds
        if attribute.attribute == 1 { return access == nil ? .data(.octetString(obis.bytes)) : .error(.otherReason) }
        if interfaceClass == .profileGeneric {
            return profileAttribute(obis, attribute.attribute, access: access, at: ms)
        }
        guard access == nil else { return .error(.otherReason) }
        switch (interfaceClass, attribute.attribute) {
        case (.register, 2), (.extendedRegister, 2):
            return registerValue(obis, at: ms).map { .data($0) } ?? .error(.objectUndefined)
        case (.register, 3), (.extendedRegister, 3):
            return Self.scalerUnit(of: obis).map { .data($0.dataValue) } ?? .error(.objectUndefined)
        case (.extendedRegister, 4):
            return .data(.unsigned(0))
        case (.extendedRegister, 5):
            return .data(.octetString(maxDemandCaptureTime(at: ms).bytes))
        case (.clock, 2):
            return .data(.octetString(dateTime(at: ms).bytes))
        case (.clock, 3):
            return .data(.long(configuration.clockDeviationMinutes))
        case (.clock, 4):
            return .data(.unsigned(0))
        case (.clock, 8):
            return .data(.boolean(false))
        case (.clock, 9):
            return .data(.enumerated(1))  // internal crystal
        case (.data, 2):
            switch obis {
            case Self.serialNumber: return .data(.octetString(Array(configuration.serialNumber.utf8)))
            case Self.firmwareVersion: return .data(.visibleString(Array(configuration.firmwareVersion.utf8)))
            default: return .data(eventCode(at: ms))
            }
        default:
            return .error(.objectUndefined)
        }
    }

    func profileAttribute(_ obis: ObisCode, _ index: Int8, access: SelectiveAccess?, at ms: Int64) -> GetDataResult {
        let isLoad = obis == Self.loadProfile
        let columns = isLoad ? loadProfileColumns(at: ms / 1000) : Self.eventLogColumns
        let instants = isLoad ? loadProfileInstants(at: ms) : eventInstants(at: ms)
        if index != 2 && access != nil { return .error(.otherReason) }
        switch index {
        case 2:
            return buffer(isLoad: isLoad, columns: columns, instants: instants, access: access)
        case 3:
            return .data(.array(columns.map { $0.dataValue }))
        case 4:
            return .data(.doubleLongUnsigned(isLoad ? UInt32(configuration.capturePeriodSeconds) : 0))
        case 5:
            return .data(.enumerated(1))  // FIFO
        case 6:
            return .data(columns[0].dataValue)  // sorted by the clock
        case 7, 8:
            return .data(.doubleLongUnsigned(UInt32(instants.count)))
        default:
            return .error(.objectUndefined)
        }
    }

    func buffer(isLoad: Bool, columns: [CaptureObjectDefinition], instants: [Int64], access: SelectiveAccess?)
        -> GetDataResult
    {
        var selected = instants
        var columnRange = 0..<columns.count
        switch access {
        case nil:
            break
        case let .byRange(restricting, from, to, selectedValues)?:
            guard restricting.obis == Self.clock, restricting.classId == InterfaceClass.clock.rawValue else {
                return .error(.otherReason)
            }
            guard let lower = instant(of: from), let upper = instant(of: to) else { return .error(.otherReason) }
            selected = instants.filter { $0 * 1000 >= lower && $0 * 1000 <= upper }
            if !selectedValues.isEmpty {
                // Only a contiguous run of columns is supported (what clients ask for in practice).
                let indices = selectedValues.compactMap { value in
                    columns.firstIndex { $0.obis == value.obis && $0.attribute == value.attribute }
                }
                guard indices.count == selectedValues.count, let first = indices.first, let last = indices.last,
                    indices == Array(first...last)
                else { return .error(.otherReason) }
                columnRange = first..<(last + 1)
            }
        case let .byEntry(fromEntry, toEntry, fromValue, toValue)?:
            let n = instants.count
            let lo = max(1, Int(fromEntry))
            let hi = toEntry == 0 ? n : min(n, Int(toEntry))
            selected = lo <= hi ? Array(instants[(lo - 1)..<hi]) : []
            let clo = max(1, Int(fromValue))
            let chi = toValue == 0 ? columns.count : min(columns.count, Int(toValue))
            guard clo <= chi else { return .error(.otherReason) }
            columnRange = (clo - 1)..<chi
        case .other?:
            return .error(.otherReason)
        }
        let rows: [DataValue] = selected.map { t in
            let row = isLoad ? loadProfileRow(at: t) : eventRow(at: t)
            return .structure(Array(row[columnRange]))
        }
        return .data(.array(rows))
    }

    /// A range bound (octet-string(12) or date-time) as unix milliseconds; an unspecified deviation is taken
    /// as the meter's own.
    func instant(of value: DataValue) -> Int64? {
        let dateTime: CosemDateTime
        switch value {
        case let .octetString(bytes):
            guard let parsed = try? CosemDateTime(bytes: bytes) else { return nil }
            dateTime = parsed
        case let .dateTime(parsed):
            dateTime = parsed
        default:
            return nil
        }
        return try? dateTime.unixMilliseconds(assumedDeviation: configuration.clockDeviationMinutes)
    }
}
