import Agent
import COSEM
import HDLC
import MeterLink
import Platform

import CLibc

/// `dlms-bridge read`: the prototype's one-shot reader, for installing and debugging a meter.
struct ReadCommand {
    static let spec = CommandSpec(
        name: "read",
        abstract: "Read measurements (or a load profile) from a meter once and print them.",
        discussion: """
            Examples:
              dlms-bridge read --host 192.168.5.177 --port 3333 --client-sap 1 --server-logical 0 \\
                  --server-physical 1 --password 22222222 --measurement voltage_l1 current_l1 --verbose
              dlms-bridge read --serial /dev/ttyUSB0 --mode-e --measurement active_energy_import
              dlms-bridge read --host 127.0.0.1 --profile 1-0:99.1.0.255 --from=-24h --to now --json
            Times for --from/--to: now, -90m, -24h, -7d (write --from=-24h), an ISO date-time in UTC (2026-11-21T00:00Z), or Unix ms.
            Exit status: 0 all read, 1 some measurements failed, 2 bad usage, 3 the meter could not be read at all.
            """,
        options: MeterOptions.options + [
            .values("measurement", "key", "Measurement keys (see --list)."),
            .values("define", "key=OBIS:class[:description]", "Custom measurements; repeatable."),
            .value("profile", "obis", "Read this profile generic (e.g. 1-0:99.1.0.255) by range instead of measurements."),
            .value("from", "time", "Profile range start.", default: "-24h"),
            .value("to", "time", "Profile range end.", default: "now"),
            .flag("json", "Print JSON instead of a table."),
            .flag("list", "List the known measurement keys and exit."),
        ])

    /// Where the meter is and how to associate (shared with `discover`).
    var meter = MeterOptions()
    var measurements: [String] = []
    var definitions: [String] = []
    var profile: String?
    var from = "-24h"
    var to = "now"
    var json = false
    var list = false

    static func main(_ arguments: ArraySlice<String>) -> Never {
        runCommand(spec, arguments) { a throws(UsageError) in
            var c = ReadCommand()
            c.meter = try MeterOptions(a)
            c.measurements = a.strings("measurement")
            c.definitions = a.strings("define")
            c.profile = a.string("profile")
            c.from = a.string("from", default: "-24h")
            c.to = a.string("to", default: "now")
            c.json = a.flag("json")
            c.list = a.flag("list")
            c.run()
        }
    }

    func run() {
        var catalog = MeasurementCatalog.standard
        for d in definitions {
            do { catalog.add(try MeasurementCatalog.parseDefinition(d)) } catch { fail(error.description, code: 2) }
        }
        if list {
            for m in catalog.measurements {
                print(pad(m.key, 24) + pad(m.obis.description, 18) + pad(m.kind.rawValue, 18) + m.description)
            }
            return
        }
        let session = meter.openSession()
        defer { session.close() }

        if let profile {
            let obis: ObisCode
            do { obis = try ObisCode(parsing: profile) } catch { fail("--profile: \(error.description)", code: 2) }
            let now = WallClock.milliseconds()
            guard let fromMs = parseTime(from, now: now), let toMs = parseTime(to, now: now) else {
                fail("--from/--to: use now, -90m, -24h, -7d, an ISO date-time (2026-11-21T00:00Z) or Unix milliseconds", code: 2)
            }
            do {
                let result = try session.readProfile(obis, fromUnixMilliseconds: fromMs, toUnixMilliseconds: toMs)
                printProfile(obis, result, session.counters)
                for issue in result.issues { stderrLine("dlms-bridge read: profile \(obis): \(issue.description)") }
            } catch {
                fail("cannot read profile \(obis): \(error.description)", code: 3)
            }
            return
        }

        let keys = measurements.isEmpty ? ["voltage_l1", "current_l1"] : measurements
        let wanted: [Measurement]
        do { wanted = try catalog.resolve(keys) } catch { fail(error.description, code: 2) }
        let results: [MeasurementResult]
        do { results = try session.read(wanted) } catch { fail(error.description, code: 3) }
        if json { printJSON(results, session.counters) } else { printTable(results, session.counters) }
        if results.contains(where: { if case .failed = $0 { return true } else { return false } }) {
            exit(1)
        }
    }

    // MARK: Output

    private func printTable(_ results: [MeasurementResult], _ counters: MeterCounters) {
        print(pad("measurement", 24) + pad("value", 22) + pad("unit", 8) + pad("obis", 18) + "raw")
        for r in results {
            switch r {
            case let .reading(reading):
                print(pad(reading.measurement.key, 24) + pad(text(of: reading), 22)
                      + pad(reading.unit?.symbol ?? "", 8) + pad(reading.measurement.obis.description, 18)
                      + reading.raw.description)
            case let .failed(m, error):
                print(pad(m.key, 24) + "ERROR " + error.description)
            }
        }
        print("(\(counters.lastPollRoundTrips) round trip(s), \(counters.lastPollMicroseconds / 1000) ms)")
    }

    private func printJSON(_ results: [MeasurementResult], _ counters: MeterCounters) {
        var w = JSONWriter(style: .pretty)
        w.beginObject()
        w.key("measurements")
        w.beginObject()
        for case let .reading(r) in results {
            w.key(r.measurement.key)
            w.beginObject()
            w.member("obis", r.measurement.obis.description)
            writeValue(of: r, into: &w)
            if let unit = r.unit {
                w.member("unit_code", Int(unit.rawValue))
                w.member("unit", unit.symbol)
            }
            if let raw = r.rawInteger { w.member("raw_value", raw) }
            if let ct = r.captureTime, let ms = try? ct.unixMilliseconds() { w.member("capture_time_ms", ms) }
            w.member("description", r.measurement.description)
            w.endObject()
        }
        w.endObject()
        w.key("errors")
        w.beginObject()
        for case let .failed(m, e) in results { w.member(m.key, e.description) }
        w.endObject()
        w.member("round_trips", counters.lastPollRoundTrips)
        w.member("duration_ms", Double(counters.lastPollMicroseconds) / 1000)
        w.endObject()
        print(w.output)
    }

    private func printProfile(_ obis: ObisCode, _ p: ProfileReading, _ counters: MeterCounters) {
        let names = p.columns.map { "\($0.obis.description)/\($0.attribute)" }
        if json {
            var w = JSONWriter(style: .compact)
            w.beginObject()
            w.member("obis", obis.description)
            w.key("columns")
            w.beginArray()
            for n in names { w.string(n) }
            w.endArray()
            w.key("rows")
            w.beginArray()
            for row in p.rows {
                w.beginArray()
                for (i, v) in row.enumerated() {
                    let s = i < p.scalers.count ? p.scalers[i] : nil
                    writeCell(v, scaler: s, into: &w)
                }
                w.endArray()
            }
            w.endArray()
            w.member("round_trips", counters.roundTrips)
            w.endObject()
            print(w.output)
            return
        }
        print(names.map { pad($0, 24) }.joined())
        for row in p.rows {
            var line = ""
            for (i, v) in row.enumerated() {
                let s = i < p.scalers.count ? p.scalers[i] : nil
                line += pad(cellText(v, scaler: s), 24)
            }
            print(line)
        }
        print("(\(p.rows.count) rows)")
    }

    // `read` is a thin formatter over MeterLink's interpretation of the value (``ReadingValue``), as the payload
    // is: numbers as their scaled Double (`5.0`, `230.1`), the clock as the meter's date-time.

    /// The number shown: the scaled Double. A boolean shows as its number (1.0 or 0.0), as `read` always has.
    private func number(of reading: Reading) -> Double? {
        switch reading.value {
        case let .number(n): return n.doubleValue
        case .boolean: return ScaledNumber(reading.raw, scaler: reading.scalerUnit?.scaler ?? 0)?.doubleValue
        case .text, .dateTime, .other: return nil
        }
    }

    private func writeValue(of reading: Reading, into w: inout JSONWriter) {
        if let d = number(of: reading) { w.member("value", d); return }
        switch reading.value {
        case let .text(t): w.member("value", t)
        case let .dateTime(dt, ms):
            w.member("value", dt.description)
            if let ms { w.member("value_ms", ms) }
        case let .other(v): w.member("value", v.description)
        case .number, .boolean: break
        }
    }

    // A profile's cells are shown by column: a register column's number scaled, a date-time as one.
    private func writeCell(_ v: DataValue, scaler: ScalerUnit?, into w: inout JSONWriter) {
        if let scaler, let n = ScaledNumber(v, scaler: scaler.scaler) { w.number(n.doubleValue); return }
        if case let .octetString(b) = v, b.count == 12, let dt = try? CosemDateTime(bytes: b) {
            if let ms = try? dt.unixMilliseconds(assumedDeviation: 0) { w.integer(ms) } else { w.string(dt.description) }
            return
        }
        if let i = v.integerValue { w.integer(i); return }
        w.string(v.description)
    }

    private func cellText(_ v: DataValue, scaler: ScalerUnit?) -> String {
        if let scaler, let n = ScaledNumber(v, scaler: scaler.scaler) { return "\(n.doubleValue) \(scaler.unit.symbol)" }
        if case let .octetString(b) = v, b.count == 12, let dt = try? CosemDateTime(bytes: b) { return dt.description }
        return v.description
    }

    private func text(of reading: Reading) -> String {
        if let d = number(of: reading) { return d.description }
        switch reading.value {
        case let .text(t): return t
        case let .dateTime(dt, _): return dt.description
        case let .other(v): return v.description
        case .number, .boolean: return ""
        }
    }
}

// MARK: Helpers shared by the commands

/// Prints `message` on stderr and exits with `code` (2: bad usage or configuration, 3: meter unreachable).
func fail(_ message: String, code: Int32) -> Never {
    stderrLine("dlms-bridge: \(message)")
    exit(code)
}

/// One line on stderr, unbuffered.
func stderrLine(_ text: String) { StandardError.writeLine(text) }

func pad(_ s: String, _ width: Int) -> String {
    let n = s.count
    return n >= width ? s + " " : s + String(repeating: " ", count: width - n)
}

/// Parses `now`, `-90m`, `-24h`, `-7d`, `-30s`, Unix milliseconds, or `YYYY-MM-DD[THH:MM[:SS]][Z]` (UTC).
func parseTime(_ text: String, now: Int64) -> Int64? {
    if text == "now" { return now }
    if text.hasPrefix("-"), let unit = text.last, let n = Int64(text.dropFirst().dropLast()) {
        switch unit {
        case "s": return now - n * 1000
        case "m": return now - n * 60_000
        case "h": return now - n * 3_600_000
        case "d": return now - n * 86_400_000
        default: return nil
        }
    }
    if let ms = Int64(text) { return ms }
    var s = Substring(text)
    if s.last == "Z" { s = s.dropLast() }
    let parts = s.split(separator: "T", maxSplits: 1)
    let d = parts[0].split(separator: "-")
    guard d.count == 3, let y = UInt16(d[0]), let mo = UInt8(d[1]), let da = UInt8(d[2]) else { return nil }
    var h: UInt8 = 0, mi: UInt8 = 0, se: UInt8 = 0
    if parts.count == 2 {
        let t = parts[1].split(separator: ":")
        guard t.count >= 2, let hh = UInt8(t[0]), let mm = UInt8(t[1]) else { return nil }
        h = hh; mi = mm
        if t.count == 3 { guard let ss = UInt8(t[2]) else { return nil }; se = ss }
    }
    let dt = CosemDateTime(year: y, month: mo, day: da, hour: h, minute: mi, second: se)
    var utc = dt
    utc.deviation = 0
    return try? utc.unixMilliseconds()
}
