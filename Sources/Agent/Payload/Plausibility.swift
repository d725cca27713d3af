import MeterLink
import COSEM

/// The plausibility rule for energy registers, per meter. A value that breaks it is still published (never
/// dropped: the meter may be right), with `"implausible": "backwards"` or `"jump"` in its measurement, and
/// counted on the health topic; Home Assistant's discovery template ignores flagged values.
///
/// The rule, for each energy register (``Quantity/isEnergy``), against the last value that passed it:
/// - **backwards**: a register that only counts up (import, export, a tariff; not the net register) is lower;
/// - **jump**: with `MAX_POWER_W` set, the register moved by more than that power allows over the time between
///   the two readings, plus one second (the timestamps are taken after each poll, not at the meter) and one
///   step of the register's resolution. MAX_POWER_W bounds W, var and VA registers alike.
///
/// The first value after a start is the reference and always passes. After ``rebaseline`` flagged values in a
/// row the latest becomes the reference (a replaced meter or a reset register is followed, not flagged
/// forever).
public struct EnergyPlausibility: Sendable {
    /// Flagged values in a row after which the latest becomes the reference.
    public static let rebaseline = 3

    public var maxPowerWatts: Double?
    private var reference: [String: (value: Double, timestampMilliseconds: Int64)] = [:]
    private var flaggedInARow: [String: Int] = [:]

    public init(maxPowerWatts: Double?) { self.maxPowerWatts = maxPowerWatts }

    /// Checks `value` of register `key` read at `timestampMilliseconds`; `resolution` is one step of the
    /// register (10^scaler). Returns why it is implausible, or nil.
    public mutating func check(
        key: String, quantity: Quantity, value: Double, resolution: Double = 1, timestampMilliseconds ts: Int64
    ) -> String? {
        guard quantity.isEnergy, value.isFinite else { return nil }
        guard let last = reference[key] else {
            reference[key] = (value, ts)
            return nil
        }
        let delta = value - last.value
        var reason: String? = nil
        if quantity.isMonotonic && delta < 0 {
            reason = "backwards"
        } else if let maxPower = maxPowerWatts {
            let hours = Double(max(0, ts - last.timestampMilliseconds) + 1000) / 3_600_000
            if abs(delta) > maxPower * hours + abs(resolution) { reason = "jump" }
        }
        guard reason != nil else {
            reference[key] = (value, ts)
            flaggedInARow[key] = 0
            return nil
        }
        let inARow = (flaggedInARow[key] ?? 0) + 1
        if inARow >= Self.rebaseline {
            reference[key] = (value, ts)
            flaggedInARow[key] = 0
        } else {
            flaggedInARow[key] = inARow
        }
        return reason
    }

    /// Flags the implausible energy values of `measurements` (read at `timestampMilliseconds`) in place and
    /// returns how many were flagged. Quantities come from `catalog`, else from the OBIS code.
    public mutating func flag(
        _ measurements: inout [MeasurementReading], timestampMilliseconds ts: Int64,
        catalog: MeasurementCatalog = .standard
    ) -> Int {
        var flagged = 0
        for i in measurements.indices {
            let m = measurements[i]
            let quantity = catalog[m.name]?.quantity ?? Quantity.inferred(from: m.obis, kind: .register)
            guard quantity.isEnergy, case let .number(number) = m.value else { continue }
            let value = number.value.doubleValue
            // One count of the register, scaled: what the meter cannot resolve below.
            let resolution = ScaledNumber(raw: .integer(1), scaler: number.scaler).value.doubleValue
            if let why = check(key: m.name, quantity: quantity, value: value, resolution: resolution, timestampMilliseconds: ts) {
                measurements[i].implausible = why
                flagged += 1
            }
        }
        return flagged
    }
}
