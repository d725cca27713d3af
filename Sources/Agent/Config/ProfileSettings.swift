import COSEM

// Issue 11's settings: which profile generics a meter's collection reads, how far back its first start goes,
// and what the agent does about the meter's clock. Parsed here, beside (not inside) the loader's core.

/// One profile collected from a meter (`DLMS_PROFILES`).
public struct ProfileConfiguration: Sendable, Equatable {
    /// The `{name}` of the profile topic and the payload's `profile`: a catalog name, or as defined.
    public var name: String
    public var obis: ObisCode

    public init(name: String, obis: ObisCode) {
        self.name = name
        self.obis = obis
    }

    /// The profiles every meter knows by name.
    public static let catalog: [ProfileConfiguration] = [
        ProfileConfiguration(name: "load_profile", obis: ObisCode(1, 0, 99, 1, 0, 255)),
        ProfileConfiguration(name: "event_log", obis: ObisCode(0, 0, 99, 98, 0, 255)),
    ]

    /// The spool cursor that keeps this profile's position (bounded length: the OBIS code, not the name).
    public var cursorName: String { "profile " + obis.fullDescription }
}

/// What the agent does about the meter's clock (`DLMS_CLOCK_SYNC`).
public enum ClockSyncMode: String, Sendable, Equatable {
    /// Not read.
    case off
    /// Read at association; its drift from the gateway's UTC goes on the health topic.
    case report
    /// As `report`, and the meter's clock is set (SET of the Clock's attribute 2) when it drifts more than
    /// `DLMS_CLOCK_MAX_DRIFT_S`.
    case set
}

/// A meter's profile and clock settings.
public struct ProfileSettings: Sendable, Equatable {
    public var profiles: [ProfileConfiguration]
    /// `DLMS_PROFILE_BACKFILL` in seconds: how far back a first start reads; nil (`all`) = the whole buffer.
    public var backfillSeconds: Int64?
    public var clockSync: ClockSyncMode
    /// `DLMS_CLOCK_MAX_DRIFT_S`.
    public var clockMaxDriftSeconds: Int

    public init(profiles: [ProfileConfiguration] = [], backfillSeconds: Int64? = 7 * 86_400,
                clockSync: ClockSyncMode = .report, clockMaxDriftSeconds: Int = 10) {
        self.profiles = profiles
        self.backfillSeconds = backfillSeconds
        self.clockSync = clockSync
        self.clockMaxDriftSeconds = clockMaxDriftSeconds
    }

    /// The variables as `--print-config` shows them.
    var variables: [(String, String)] {
        let list = profiles.map { p -> String in
            let catalog = ProfileConfiguration.catalog.first { $0.name == p.name }
            let bare = catalog?.obis == p.obis || p.name == p.obis.fullDescription
            return "\"" + (bare ? p.name : p.name + "=" + p.obis.fullDescription) + "\""
        }
        return [
            ("DLMS_PROFILES", "[" + list.joined(separator: ", ") + "]"),
            ("DLMS_PROFILE_BACKFILL", backfillSeconds.map { String($0) } ?? "all"),
            ("DLMS_CLOCK_SYNC", clockSync.rawValue),
            ("DLMS_CLOCK_MAX_DRIFT_S", String(clockMaxDriftSeconds)),
        ]
    }
}

extension ConfigurationLoader {
    /// `MQTT_PROFILE_TOPIC`: a topic template with `{device_id}` and `{name}` (the profile's name).
    static func profileTopicTemplate(_ v: Values) throws(ConfigError) -> String {
        let fallback = "meters/{device_id}/profile/{name}"
        guard let s = v["MQTT_PROFILE_TOPIC"] else { return fallback }
        let t = s.value.trimmingBlanksString()
        let expected = "an MQTT topic without + or #, with {device_id} and {name}, e.g. \(fallback)"
        guard !t.isEmpty, t.utf8.count <= 1024, !t.utf8.contains(where: { $0 == 0x2B || $0 == 0x23 || $0 < 0x20 }) else {
            throw v.fail("MQTT_PROFILE_TOPIC", "it is empty, too long or has a wildcard (+ #) or a control character", expected)
        }
        guard t.utf8.count != t.replacingAll("{name}", with: "").utf8.count else {
            throw v.fail("MQTT_PROFILE_TOPIC", "it has no {name}: every profile would go to one topic", expected)
        }
        let rest = t.replacingAll("{device_id}", with: "").replacingAll("{name}", with: "")
        guard !rest.utf8.contains(0x7B) && !rest.utf8.contains(0x7D) else {
            throw v.fail("MQTT_PROFILE_TOPIC", "it has a placeholder other than {device_id} and {name}", expected)
        }
        return t
    }

    static func profileSettings(_ v: Values) throws(ConfigError) -> ProfileSettings {
        var settings = ProfileSettings()
        if let setting = v["DLMS_PROFILES"] {
            let expected = "a JSON list of load_profile, event_log, NAME=OBIS or OBIS codes, e.g. "
                + "[\"load_profile\", \"billing=0-0:98.1.0.255\"] (empty: no collection)"
            let text = setting.value.trimmingBlanksString()
            let names: [String]
            if text.hasPrefix("[") {
                guard let parsed = parseJSONStringList(text) else {
                    throw v.fail("DLMS_PROFILES", "it is not a valid JSON list of strings", expected)
                }
                names = parsed
            } else {
                names = text.split(separator: ",").map { $0.trimmingBlanksString() }.filter { !$0.isEmpty }
            }
            for entry in names {
                let profile: ProfileConfiguration
                if let known = ProfileConfiguration.catalog.first(where: { $0.name == entry }) {
                    profile = known
                } else {
                    let parts = entry.split(separator: "=", maxSplits: 1).map { $0.trimmingBlanksString() }
                    let obisText = parts.count == 2 ? parts[1] : parts[0]
                    guard let obis = try? ObisCode(parsing: obisText) else {
                        throw v.fail("DLMS_PROFILES", "\"\(entry)\" is neither a catalog profile (load_profile, event_log) "
                            + "nor NAME=OBIS nor an OBIS code", expected)
                    }
                    let name = parts.count == 2 ? parts[0] : obis.fullDescription
                    guard !name.isEmpty, name.utf8.count <= 64,
                        name.utf8.allSatisfy({ isAlphanumeric($0) || $0 == 0x5F || $0 == 0x2D || $0 == 0x2E || $0 == 0x3A })
                    else {
                        throw v.fail("DLMS_PROFILES", "the name \"\(name)\" is empty or has characters other than "
                            + "letters, digits, _ - . :", expected)
                    }
                    profile = ProfileConfiguration(name: name, obis: obis)
                }
                guard !settings.profiles.contains(where: { $0.name == profile.name || $0.obis == profile.obis }) else {
                    throw v.fail("DLMS_PROFILES", "\"\(entry)\" is listed twice (same name or OBIS code)", "each profile once")
                }
                settings.profiles.append(profile)
            }
            guard settings.profiles.count <= 8 else {
                throw v.fail("DLMS_PROFILES", "more than 8 profiles", "at most 8 profiles per meter")
            }
        }
        if let b = v["DLMS_PROFILE_BACKFILL"] {
            let text = b.value.trimmingBlanksString().lowercased()
            if text == "all" {
                settings.backfillSeconds = nil
            } else {
                guard let seconds = parseDuration(text), seconds >= 0, seconds <= 10 * 365 * 86_400 else {
                    throw v.fail("DLMS_PROFILE_BACKFILL", "it is not a duration",
                                 "seconds, or a number with s, m, h or d (e.g. 7d, 36h), or all (the meter's whole buffer)")
                }
                settings.backfillSeconds = seconds
            }
        }
        if let c = v["DLMS_CLOCK_SYNC"] {
            guard let mode = ClockSyncMode(rawValue: c.value.trimmingBlanksString().lowercased()) else {
                throw v.fail("DLMS_CLOCK_SYNC", "unknown clock mode",
                             "off, report (read the meter's clock, drift on the health topic) or set (also correct it)")
            }
            settings.clockSync = mode
        }
        settings.clockMaxDriftSeconds = try v.integer("DLMS_CLOCK_MAX_DRIFT_S", default: 10, in: 1...86_400)
        return settings
    }

    /// `90`, `90s`, `15m`, `36h`, `7d` in seconds.
    static func parseDuration(_ text: String) -> Int64? {
        guard let last = text.utf8.last else { return nil }
        let factor: Int64
        switch last {
        case 0x73: factor = 1  // s
        case 0x6D: factor = 60  // m
        case 0x68: factor = 3600  // h
        case 0x64: factor = 86_400  // d
        default: return Int64(text)
        }
        return Int64(String(text.utf8.dropLast())!).map { $0 * factor }
    }
}
