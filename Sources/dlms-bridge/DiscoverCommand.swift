import Agent
import COSEM
import MeterLink
import Platform

import CLibc

/// `dlms-bridge discover`: what a meter offers, without its manual. Reads the current association's object
/// list (Association LN 0-0:40.0.0.255, attribute 2), then each object's value and scaler/unit where the class
/// has them; prints a table or JSON, and with `--config` a ready `[meter]` section for `run`.
struct DiscoverCommand {
    static let spec = CommandSpec(
        name: "discover",
        abstract: "List the objects a meter offers (its object list), with their classes, values and units.",
        discussion: """
            Examples:
              dlms-bridge discover --host 192.168.5.177 --password 22222222
              dlms-bridge discover --serial /dev/dlms-probe --mode-e --client-sap 16 --json
              dlms-bridge discover --host 192.168.5.177 --password 22222222 --config meter.conf --device-id kitchen
            Objects the meter refuses to read are listed with the reason; the listing goes on. --config writes a
            [meter] section: catalog keys for the objects the catalog knows, DLMS_DEFINE entries for the others;
            append it to the configuration file of `run` (the password is not written).
            Exit status: 0 the object list was read (even if some objects were refused), 2 bad usage,
            3 the meter or its object list could not be read.
            """,
        options: MeterOptions.options + [
            .flag("json", "Print JSON instead of a table."),
            .value("config", "path", "Write a [meter] section for `run` to this file (- for standard output)."),
            .value("device-id", "name", "DEVICE_ID of the written section.", default: "meter-1"),
        ])

    var meter = MeterOptions()
    var json = false
    var configPath: String?
    var deviceID = "meter-1"

    static func main(_ arguments: ArraySlice<String>) -> Never {
        runCommand(spec, arguments) { a throws(UsageError) in
            var c = DiscoverCommand()
            c.meter = try MeterOptions(a)
            c.json = a.flag("json")
            c.configPath = a.string("config")
            c.deviceID = a.string("device-id", default: "meter-1")
            c.run()
        }
    }

    /// One object of the list and what reading it gave.
    struct Found {
        var entry: ObjectListEntry
        var value: DataValue?
        var scalerUnit: ScalerUnit?
        /// Why the value (or its scaler/unit) could not be read.
        var error: String?
        /// The catalog measurement with this logical name and class, when there is one.
        var measurement: Measurement?

        var kind: MeasurementKind? {
            switch entry.classId {
            case 1: return .data
            case 3: return .register
            case 4: return .extendedRegister
            case 5: return .demandRegister
            case 8: return .clock
            case 7: return .profile
            default: return nil
            }
        }

        /// What `run` can poll: a readable object of a class with a single value (not profiles).
        var pollable: Bool { error == nil && value != nil && kind != nil && kind != .profile }

        /// The catalog key, or a key made of the logical name.
        var key: String {
            measurement?.key ?? "obis_" + entry.obis.bytes.map { String($0) }.joined(separator: "_")
        }
    }

    func run() {
        guard deviceID.utf8.allSatisfy({ isKeyByte($0) }), !deviceID.isEmpty else {
            fail("--device-id \(deviceID): use letters, digits, _ - . only (it names MQTT topics)", code: 2)
        }
        let session = meter.openSession()
        defer { session.close() }
        let list: DataValue
        do { list = try session.readAttribute(AssociationLN.objectListAttribute) } catch {
            fail("cannot read the object list (Association LN 0-0:40.0.0.255, attribute 2): \(error.description); "
                + "try another client (--client-sap 16 public, 1 with the password)", code: 3)
        }
        let entries: [ObjectListEntry]
        do { entries = try AssociationLN.objectList(list) } catch {
            fail("the object list (Association LN 0-0:40.0.0.255, attribute 2) is malformed: \(error.description)", code: 3)
        }
        let found = entries.map { read($0, session) }
        if json { printJSON(found) } else { printTable(found) }
        if let configPath { writeSection(found, to: configPath) }
    }

    /// Reads what the class has: the value, and scaler/unit for registers. A refusal is recorded, never fatal.
    func read(_ entry: ObjectListEntry, _ session: MeterSession) -> Found {
        var f = Found(entry: entry)
        f.measurement = MeasurementCatalog.standard.measurements.first {
            $0.obis == entry.obis && $0.kind.interfaceClass.rawValue == entry.classId
        }
        let valueAttribute: Int8?
        var scalerAttribute: Int8? = nil
        switch entry.classId {
        case 1, 8: valueAttribute = 2
        case 3, 4: valueAttribute = 2; scalerAttribute = 3
        case 5: valueAttribute = 2; scalerAttribute = 4
        default: valueAttribute = nil  // profiles, the association and other classes: listed, not read
        }
        guard let valueAttribute else { return f }
        for attribute in [valueAttribute] + (scalerAttribute.map { [$0] } ?? []) {
            guard entry.mayRead(attribute) else {
                f.error = "attribute \(attribute) is not readable by this client (access rights)"
                return f
            }
            do {
                let v = try session.readAttribute(AttributeDescriptor(classId: entry.classId, obis: entry.obis, attribute: attribute))
                if attribute == valueAttribute {
                    f.value = v
                } else {
                    do { f.scalerUnit = try ScalerUnit(v) } catch { f.error = "scaler_unit: \(error.description)" }
                }
            } catch {
                f.error = error.description
                // A dropped link is re-opened for the next object: one failure never ends the listing.
                if !session.isAssociated { try? session.open() }
                return f
            }
        }
        return f
    }

    // MARK: Output

    static func className(_ id: UInt16) -> String {
        if let c = InterfaceClass(rawValue: id) { return c.name }
        switch id {
        case 6: return "Register activation"
        case 9: return "Script table"
        case 15: return "Association LN"
        case 17: return "SAP assignment"
        case 18: return "Image transfer"
        case 19: return "IEC local port setup"
        case 20: return "Activity calendar"
        case 21: return "Register monitor"
        case 22: return "Single action schedule"
        case 23: return "IEC HDLC setup"
        case 41: return "TCP-UDP setup"
        case 42: return "IPv4 setup"
        case 61: return "Register table"
        case 62: return "Compact data"
        case 64: return "Security setup"
        case 70: return "Disconnect control"
        case 71: return "Limiter"
        default: return "class \(id)"
        }
    }

    func valueText(_ f: Found) -> String {
        guard let v = f.value else { return f.entry.classId == 7 ? "(profile: read --profile)" : "" }
        if let su = f.scalerUnit, let d = su.scale(v) { return d.description }
        if f.entry.classId == 8, case let .octetString(b) = v, b.count == CosemDateTime.byteCount,
            let dt = try? CosemDateTime(bytes: b)
        {
            return dt.description
        }
        if let t = v.text, t.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return t }
        if let i = v.integerValue { return String(i) }
        return v.description
    }

    func printTable(_ found: [Found]) {
        print(pad("obis", 20) + pad("class", 22) + pad("value", 24) + pad("unit", 7) + "key")
        for f in found {
            let cls = "\(f.entry.classId) " + Self.className(f.entry.classId)
            if let e = f.error {
                print(pad(f.entry.obis.fullDescription, 20) + pad(cls, 22) + "REFUSED " + e)
                continue
            }
            print(pad(f.entry.obis.fullDescription, 20) + pad(cls, 22) + pad(valueText(f), 24)
                  + pad(f.scalerUnit?.unit.symbol ?? "", 7) + (f.measurement?.key ?? ""))
        }
        let refused = found.filter { $0.error != nil }.count
        print("(\(found.count) objects, \(refused) refused)")
    }

    func printJSON(_ found: [Found]) {
        var w = JSONWriter(style: .pretty)
        w.beginObject()
        w.key("objects")
        w.beginArray()
        for f in found {
            w.beginObject()
            w.member("obis", f.entry.obis.description)
            w.member("logical_name", f.entry.obis.fullDescription)
            w.member("class_id", Int(f.entry.classId))
            w.member("class", Self.className(f.entry.classId))
            w.member("version", Int(f.entry.version))
            w.member("key", f.measurement?.key)
            if let v = f.value {
                w.key("value")
                if let su = f.scalerUnit, let d = su.scale(v) {
                    w.number(d)
                } else if let i = v.integerValue, f.entry.classId != 8 {
                    w.integer(i)
                } else {
                    w.string(valueText(f))
                }
                if let i = v.integerValue { w.member("raw_value", i) }
            }
            if let su = f.scalerUnit {
                w.member("scaler", Int(su.scaler))
                w.member("unit_code", Int(su.unit.rawValue))
                w.member("unit", su.unit.symbol)
            }
            w.member("error", f.error)
            w.endObject()
        }
        w.endArray()
        w.member("count", found.count)
        w.member("refused", found.filter { $0.error != nil }.count)
        w.endObject()
        print(w.output)
    }

    /// A `[meter]` section for `run`: every pollable object, catalog keys first-class, the rest as DLMS_DEFINE.
    func sectionText(_ found: [Found]) -> String {
        let pollable = found.filter { $0.pollable }
        var keys: [String] = []
        var defines: [String] = []
        for f in pollable {
            keys.append(f.key)
            if f.measurement == nil, let kind = f.kind {
                let m = Measurement(key: f.key, obis: f.entry.obis, kind: kind,
                                    description: Self.className(f.entry.classId) + " " + f.entry.obis.fullDescription)
                defines.append(m.definitionText)
            }
        }
        var out = "# Written by dlms-bridge discover: \(found.count) objects in the meter's object list, "
            + "\(pollable.count) polled below.\n"
        out += "[meter \(deviceID)]\n"
        for line in meter.configurationLines() { out += line + "\n" }
        out += "DLMS_MEASUREMENTS=" + jsonList(keys) + "\n"
        if !defines.isEmpty { out += "DLMS_DEFINE='" + jsonList(defines) + "'\n" }
        for f in found where !f.pollable {
            let why = f.error.map { "refused: " + $0 }
                ?? (f.entry.classId == 7 ? "a profile, read by range (read --profile)" : "no single value to poll")
            out += "# not polled: \(f.entry.obis.fullDescription) (\(Self.className(f.entry.classId))): \(why)\n"
        }
        return out
    }

    func writeSection(_ found: [Found], to path: String) {
        let text = sectionText(found)
        if path == "-" {
            print(text, terminator: "")
            return
        }
        let fd = clibc_open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { fail("cannot write --config \(path): \(SystemError.current("open(\(path))").description)", code: 2) }
        defer { _ = close(fd) }
        let bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { fail("cannot write --config \(path): \(SystemError.current("write(\(path))").description)", code: 2) }
            done += n
        }
        stderrLine("wrote a [meter \(deviceID)] section to \(path)")
    }

    private func jsonList(_ items: [String]) -> String {
        var w = JSONWriter()
        w.beginArray()
        for i in items { w.string(i) }
        w.endArray()
        return String(decoding: w.bytes, as: UTF8.self).spacedAfterCommas()
    }

    private func isKeyByte(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c == 0x2D || c == 0x2E
    }
}

private extension String {
    /// `["a","b"]` as `["a", "b"]`: the style of the documentation's examples.
    func spacedAfterCommas() -> String {
        var out = ""
        var inString = false
        var escaped = false
        for c in self {
            out.append(c)
            if inString {
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inString = false }
            } else if c == "\"" {
                inString = true
            } else if c == "," {
                out.append(" ")
            }
        }
        return out
    }
}
