import COSEM
import HDLC
import MeterLink

/// The text of a configuration file and the name to cite in error messages.
public struct ConfigText: Sendable, Equatable {
    public var name: String
    public var text: String

    public init(name: String, text: String) {
        self.name = name
        self.text = text
    }
}

/// Builds an `AgentConfiguration` from the environment, a `.env` file and an optional multi-meter file, and
/// rejects every invalid value with a `ConfigError`.
///
/// Precedence, most specific first:
/// - a meter's own `[meter]` section of the configuration file;
/// - the process environment (as pydantic-settings, which the prototype used: the environment beats `.env`);
/// - the `.env` file;
/// - the top of the configuration file, before the first `[meter]` section.
/// Variable names are matched case-insensitively in the environment, like pydantic-settings.
public enum ConfigurationLoader {
    /// Loads from already-read sources. `knownMeasurements`, when given, is the meter catalog's names: others
    /// are refused at start instead of failing at every poll.
    public static func load(
        environment: [String: String], dotenv: ConfigText? = nil, configFile: ConfigText? = nil,
        knownMeasurements: Set<String>? = nil
    ) throws(ConfigError) -> AgentConfiguration {
        // Environment: known names only, case-insensitively; an exact-case name wins over another spelling.
        var envLayer: [String: Setting] = [:]
        for (key, value) in environment {
            let upper = key.uppercased()
            guard ConfigVariable.all.contains(upper) else { continue }
            if key == upper || envLayer[upper] == nil { envLayer[upper] = Setting(value: value, origin: "environment") }
        }

        var dotenvLayer: [String: Setting] = [:]
        if let dotenv {
            for entry in try DotEnv.parse(dotenv.text, fileName: dotenv.name, environment: environment) {
                let key = entry.key.uppercased()
                let origin = "\(dotenv.name) line \(entry.line)"
                if !ConfigVariable.all.contains(key) {
                    // Other tools' variables may share a .env; ours misspelt must not pass silently.
                    if ConfigVariable.isOurs(key) { throw unknown(entry.key, origin: origin) }
                    continue
                }
                dotenvLayer[key] = Setting(value: entry.value, origin: origin)
            }
        }

        var fileGlobal: [String: Setting] = [:]
        var sections: [MeterSection] = []
        if let configFile {
            (fileGlobal, sections) = try parseConfigFile(configFile, environment: environment)
        }

        let gateway = Values(layers: [envLayer, dotenvLayer, fileGlobal])
        var meters: [MeterConfiguration] = []
        if sections.isEmpty {
            meters.append(try meter(from: gateway, knownMeasurements: knownMeasurements))
        } else {
            for section in sections {
                var own = section.values
                if own["DEVICE_ID"] == nil, let name = section.name {
                    own["DEVICE_ID"] = Setting(value: name, origin: section.origin)
                }
                let values = Values(layers: [own, envLayer, dotenvLayer, fileGlobal])
                meters.append(try meter(from: values, knownMeasurements: knownMeasurements))
            }
        }
        var seen: Set<String> = []
        for m in meters where !seen.insert(m.deviceID).inserted {
            throw ConfigError(
                variable: "DEVICE_ID", value: m.deviceID, origin: configFile?.name, problem: "two meters have this id",
                expected: "a DEVICE_ID unique to each meter (it names the meter's MQTT topics)")
        }
        try checkSharedSerialLines(meters, origin: configFile?.name)
        return try gatewayConfiguration(from: gateway, meters: meters)
    }

    // MARK: the multi-meter file

    struct MeterSection {
        var name: String?
        var origin: String
        var values: [String: Setting]
    }

    /// An INI-style file: `KEY=value` lines with `.env` syntax; `[meter]` or `[meter NAME]` starts a meter's
    /// section (NAME is its DEVICE_ID unless the section sets one). Lines before the first section are
    /// gateway settings and defaults for every meter.
    static func parseConfigFile(
        _ file: ConfigText, environment: [String: String]
    ) throws(ConfigError) -> ([String: Setting], [MeterSection]) {
        var global: [String: Setting] = [:]
        var sections: [MeterSection] = []
        var chunk: [Substring] = []
        var chunkStart = 1
        var lineNumber = 0
        var current: MeterSection?

        func flush() throws(ConfigError) {
            defer { chunk.removeAll() }
            guard !chunk.isEmpty else { return }
            let entries = try DotEnv.parse(chunk.joined(separator: "\n"), fileName: file.name, environment: environment)
            for entry in entries {
                let key = entry.key.uppercased()
                let line = entry.line + chunkStart - 1
                var origin = "\(file.name) line \(line)"
                if let current { origin += " [meter\(current.name.map { " " + $0 } ?? "")]" }
                guard ConfigVariable.all.contains(key) else { throw unknown(entry.key, origin: origin) }
                if current != nil {
                    guard ConfigVariable.meterScoped.contains(key) else {
                        throw ConfigError(
                            variable: key, value: nil, origin: origin, problem: "it is a gateway-wide setting",
                            expected: "it before the first [meter] section (meter sections hold DEVICE_ID, DLMS_*, "
                                + "POLL_PERIOD_S, MAX_CONSEC_ERRORS and MAX_POWER_W)")
                    }
                    current!.values[key] = Setting(value: entry.value, origin: origin)
                } else {
                    global[key] = Setting(value: entry.value, origin: origin)
                }
            }
        }

        for raw in file.text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let trimmed = raw.trimmingBlanks()
            if trimmed.hasPrefix("[") {
                try flush()
                if let current { sections.append(current) }
                current = try sectionHeader(trimmed, origin: "\(file.name) line \(lineNumber)")
                chunkStart = lineNumber + 1
                continue
            }
            if chunk.isEmpty { chunkStart = lineNumber }
            chunk.append(raw)
        }
        try flush()
        if let current { sections.append(current) }
        return (global, sections)
    }

    static func sectionHeader(_ line: Substring, origin: String) throws(ConfigError) -> MeterSection {
        var body = line
        if let hash = body.firstIndex(of: "#") { body = body[..<hash].trimmingBlanks() }
        guard body.hasSuffix("]") else {
            throw ConfigError(
                variable: String(line), value: nil, origin: origin, problem: "the section header is not closed",
                expected: "[meter] or [meter NAME]")
        }
        let inner = body.dropFirst().dropLast().trimmingBlanks()
        let words = inner.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard let first = words.first, first.lowercased() == "meter", words.count <= 2 else {
            throw ConfigError(
                variable: String(line), value: nil, origin: origin, problem: "unknown section",
                expected: "[meter] or [meter NAME] (the only kind of section)")
        }
        var name = words.count == 2 ? String(words[1]) : nil
        if let n = name, n.count >= 2, n.hasPrefix("\""), n.hasSuffix("\"") { name = String(n.dropFirst().dropLast()) }
        return MeterSection(name: name, origin: origin, values: [:])
    }

    static func unknown(_ key: String, origin: String) -> ConfigError {
        let hint = ConfigVariable.closest(to: key.uppercased()).map { " (did you mean \($0)?)" } ?? ""
        return ConfigError(
            variable: key, value: nil, origin: origin, problem: "unknown variable\(hint)",
            expected: "one of the variables listed in docs/configuration.md")
    }

    // MARK: one meter

    /// One meter from command-line options (`read`, `discover`): the same parsing, checks and messages as a
    /// `[meter]` section of `run`, each value cited by the option it came from (`origins`).
    public static func meter(variables: [String: String], origins: [String: String]) throws(ConfigError)
        -> MeterConfiguration
    {
        var layer: [String: Setting] = [:]
        for (name, value) in variables { layer[name] = Setting(value: value, origin: origins[name] ?? "the command line") }
        return try meter(from: Values(layers: [layer]), knownMeasurements: nil)
    }

    static func meter(from v: Values, knownMeasurements: Set<String>?) throws(ConfigError) -> MeterConfiguration {
        guard let idSetting = v["DEVICE_ID"] else {
            throw ConfigError(
                variable: "DEVICE_ID", value: nil, origin: nil, problem: "it is not set",
                expected: "a name unique to this meter, e.g. DEVICE_ID=microstar-001 (it names the MQTT topics)")
        }
        let deviceID = idSetting.value.trimmingBlanksString()
        try checkName(deviceID, "DEVICE_ID", idSetting)

        let framingText = v["DLMS_TRANSPORT"]?.value.trimmingBlanksString().lowercased() ?? "hdlc"
        guard let framing = MeterFraming(rawValue: framingText) else {
            throw v.fail("DLMS_TRANSPORT", "unknown transport",
                "hdlc (HDLC on TCP or a serial line) or wrapper (the IEC 62056-47 wrapper on TCP, port 4059)")
        }
        let transport: MeterEndpoint
        if let serial = v["DLMS_SERIAL_DEVICE"], !serial.value.isEmpty {
            if framing == .wrapper {
                throw v.fail("DLMS_TRANSPORT", "the wrapper runs on TCP only and DLMS_SERIAL_DEVICE is set",
                    "hdlc on a serial line, or DLMS_HOST (and no DLMS_SERIAL_DEVICE) for the wrapper")
            }
            guard serial.value.hasPrefix("/") else {
                throw v.fail(
                    "DLMS_SERIAL_DEVICE", "it is not an absolute path",
                    "the optical probe's device, e.g. /dev/ttyUSB0 or /dev/serial/by-id/...")
            }
            let baud = try v.integer("DLMS_BAUD", default: 9600, in: 300...115_200)
            let rates = [300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115_200]
            guard rates.contains(baud) else {
                throw v.fail("DLMS_BAUD", "it is not a standard serial rate", "one of 300, 600, 1200, 2400, 4800, "
                    + "9600, 19200, 38400, 57600, 115200")
            }
            transport = .serial(path: serial.value, baudRate: baud, modeE: try v.bool("DLMS_MODE_E", default: true))
        } else {
            guard let hostSetting = v["DLMS_HOST"] else {
                throw ConfigError(
                    variable: "DLMS_HOST", value: nil, origin: nil, problem: "it is not set (nor DLMS_SERIAL_DEVICE)",
                    expected: "the meter's IP address or host name, e.g. DLMS_HOST=192.168.5.177, or "
                        + "DLMS_SERIAL_DEVICE=/dev/ttyUSB0 for an optical probe")
            }
            let host = hostSetting.value.trimmingBlanksString()
            try checkHost(host, "DLMS_HOST", v)
            let defaultPort = framing == .wrapper ? Int(WrapperHeader.defaultPort) : 3333
            transport = .tcp(host: host, port: UInt16(try v.integer("DLMS_PORT", default: defaultPort, in: 1...65535)))
        }

        let sizeText = v["DLMS_ADDRESS_SIZE"]?.value.trimmingBlanksString().lowercased() ?? "auto"
        guard let addressSize = AddressSizeSetting(rawValue: sizeText) else {
            throw v.fail("DLMS_ADDRESS_SIZE", "it is not a server address width", "1, 2, 4 or auto")
        }
        let clientSAP = try v.integer("DLMS_CLIENT_SAP", default: 1, in: 1...127)
        let logicalLimit = addressSize == .fixed(.one) ? 0 : addressSize == .fixed(.two) ? 127 : 16383
        let physicalLimit = addressSize == .fixed(.one) || addressSize == .fixed(.two) ? 127 : 16383
        let logical = try v.integer(
            "DLMS_SERVER_LOGICAL", default: 0, in: 0...logicalLimit,
            why: addressSize == .auto ? nil : "with DLMS_ADDRESS_SIZE=\(addressSize.rawValue)")
        let physical = try v.integer(
            "DLMS_SERVER_PHYSICAL", default: 1, in: 0...physicalLimit,
            why: addressSize == .auto ? nil : "with DLMS_ADDRESS_SIZE=\(addressSize.rawValue)")

        var password: ConfigSecret?
        if let p = v["DLMS_PASSWORD"], !p.value.isEmpty {
            guard p.value.utf8.count <= 64, p.value.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
                throw v.fail("DLMS_PASSWORD", "it is longer than 64 bytes or has non-printable or non-ASCII "
                    + "characters", "the meter's low-level-security password, printable ASCII (e.g. 8 digits)")
            }
            password = ConfigSecret(p.value)
        }

        let custom = try customMeasurements(v)
        let measurements = try measurementList(
            v, known: knownMeasurements.map { $0.union(custom.map { $0.key }) })
        let period = try v.double("POLL_PERIOD_S", default: 5.0, in: 0.1...86_400)
        let profileText = v["DLMS_METER_PROFILE"]?.value.trimmingBlanksString().lowercased() ?? "microstar"
        guard let profile = MeterProfile.named(profileText) else {
            throw v.fail("DLMS_METER_PROFILE", "unknown meter profile", "microstar or generic")
        }
        var maxPower: Double? = nil
        if v["MAX_POWER_W"].map({ !$0.value.trimmingBlanksString().isEmpty }) ?? false {
            maxPower = try v.double(
                "MAX_POWER_W", default: 0, in: 1...100_000_000,
                expected: "the most power the installation can draw or feed, in watts, e.g. 17000 (3 x 25 A at 230 V)")
        }
        var configuration = MeterConfiguration(
            deviceID: deviceID, transport: transport, clientSAP: UInt8(clientSAP), serverLogical: UInt16(logical),
            serverPhysical: UInt16(physical), addressSize: addressSize, password: password, measurements: measurements,
            pollPeriodMilliseconds: Int64((period * 1000).rounded()),
            maxConsecutiveErrors: try v.integer("MAX_CONSEC_ERRORS", default: 10, in: 1...1_000_000),
            timeoutMilliseconds: try v.integer("DLMS_TIMEOUT_MS", default: 5000, in: 100...600_000),
            connectPerPoll: try v.bool("DLMS_CONNECT_PER_POLL", default: false), profile: profile,
            security: try security(v, password: password), maxPowerWatts: maxPower, customMeasurements: custom)
        configuration.framing = framing
        configuration.profileSettings = try profileSettings(v)
        return configuration
    }

    /// `DLMS_DEFINE`: a JSON list of `key=OBIS:class[:description]` definitions.
    static func customMeasurements(_ v: Values) throws(ConfigError) -> [Measurement] {
        guard let setting = v["DLMS_DEFINE"], !setting.value.trimmingBlanksString().isEmpty else { return [] }
        let expected = "a JSON list of definitions key=OBIS:class[:description], e.g. "
            + "[\"voltage_l2=1-0:52.7.0:register:Phase B voltage\"] (what dlms-bridge discover --config writes)"
        guard let texts = parseJSONStringList(setting.value.trimmingBlanksString()), !texts.isEmpty else {
            throw v.fail("DLMS_DEFINE", "it is not a JSON list of strings", expected)
        }
        var out: [Measurement] = []
        for text in texts {
            do { out.append(try MeasurementCatalog.parseDefinition(text)) } catch {
                throw v.fail("DLMS_DEFINE", error.message, expected)
            }
        }
        return out
    }

    static func measurementList(_ v: Values, known: Set<String>?) throws(ConfigError) -> [String] {
        guard let setting = v["DLMS_MEASUREMENTS"] else { return ["voltage_l1", "current_l1"] }
        let expected = "a JSON list of measurement names, e.g. [\"voltage_l1\", \"current_l1\"]"
        let names: [String]
        let text = setting.value.trimmingBlanksString()
        if text.hasPrefix("[") {
            guard let parsed = parseJSONStringList(text) else {
                throw v.fail("DLMS_MEASUREMENTS", "it is not a valid JSON list of strings", expected)
            }
            names = parsed
        } else {
            // Also accepted: voltage_l1,current_l1 (easier to type in a systemd unit).
            names = text.split(separator: ",").map { $0.trimmingBlanksString() }
        }
        guard !names.isEmpty else { throw v.fail("DLMS_MEASUREMENTS", "the list is empty", expected) }
        var seen: Set<String> = []
        for name in names {
            guard !name.isEmpty, name.utf8.count <= 64,
                name.utf8.allSatisfy({ isAlphanumeric($0) || $0 == 0x5F || $0 == 0x2D || $0 == 0x2E })
            else {
                throw v.fail("DLMS_MEASUREMENTS", "the name \"\(name)\" is empty or has characters other than "
                    + "letters, digits, _ - .", expected)
            }
            guard seen.insert(name).inserted else {
                throw v.fail("DLMS_MEASUREMENTS", "\"\(name)\" is listed twice", "each measurement once")
            }
            if let known, !known.contains(name) {
                throw v.fail(
                    "DLMS_MEASUREMENTS", "\"\(name)\" is not in the meter catalog",
                    "names among: " + known.sorted().joined(separator: ", "))
            }
        }
        return names
    }

    // MARK: the gateway

    static func gatewayConfiguration(from v: Values, meters: [MeterConfiguration]) throws(ConfigError)
        -> AgentConfiguration
    {
        let host = v["MQTT_HOST"]?.value.trimmingBlanksString() ?? "localhost"
        try checkHost(host, "MQTT_HOST", v)
        let caSetting = v["MQTT_TLS_CA"].flatMap { $0.value.isEmpty ? nil : $0 }
        let port = UInt16(try v.integer("MQTT_PORT", default: caSetting == nil ? 1883 : 8883, in: 1...65535))

        var tls: TLSConfiguration?
        if caSetting != nil || port == 8883 {
            let authority: TLSConfiguration.Authority
            if let ca = caSetting {
                switch FileCheck.kind(ca.value) {
                case .file: authority = .file(ca.value)
                case .directory: authority = .directory(ca.value)
                case .missing:
                    throw v.fail(
                        "MQTT_TLS_CA", "no such file or directory, or not readable",
                        "a PEM file of CA certificates or a directory of hashed certificates")
                }
            } else {
                authority = .directory("/etc/ssl/certs")  // TLS on by port 8883 alone: trust the system's CAs
            }
            let cert = try optionalFile(v, "MQTT_TLS_CERT")
            let key = try optionalFile(v, "MQTT_TLS_KEY")
            if (cert == nil) != (key == nil) {
                throw v.fail(
                    cert == nil ? "MQTT_TLS_KEY" : "MQTT_TLS_CERT", "it is set without its pair",
                    "both MQTT_TLS_CERT and MQTT_TLS_KEY (client certificate and its private key) or neither")
            }
            let version = v["MQTT_TLS_VERSION"]?.value.trimmingBlanksString().lowercased() ?? "tlsv1.2"
            guard version == "tlsv1.2" || version == "tlsv1.3" else {
                throw v.fail("MQTT_TLS_VERSION", "unsupported minimum TLS version", "tlsv1.2 or tlsv1.3")
            }
            tls = TLSConfiguration(
                authority: authority, certificateFile: cert, keyFile: key,
                insecure: try v.bool("MQTT_TLS_INSECURE", default: false), minimumVersion: version)
        } else {
            for name in ["MQTT_TLS_CERT", "MQTT_TLS_KEY"] where v[name].map({ !$0.value.isEmpty }) ?? false {
                throw v.fail(name, "it is set but TLS is off", "MQTT_TLS_CA (or MQTT_PORT=8883) to turn TLS on")
            }
        }

        let username = v["MQTT_USERNAME"].flatMap { $0.value.isEmpty ? nil : $0.value }
        let password = v["MQTT_PASSWORD"].flatMap { $0.value.isEmpty ? nil : ConfigSecret($0.value) }
        if password != nil && username == nil {
            throw v.fail("MQTT_PASSWORD", "it is set without MQTT_USERNAME", "MQTT_USERNAME as well")
        }

        let telemetry = try topicTemplate(v, "MQTT_TOPIC", default: "meters/{device_id}/telemetry")
        let status = try topicTemplate(v, "MQTT_STATUS_TOPIC", default: "meters/{device_id}/status")
        let health = try topicTemplate(v, "MQTT_HEALTH_TOPIC", default: "meters/{device_id}/health")
        let profileTopic = try profileTopicTemplate(v)
        let availability = try topicTemplate(v, "MQTT_AVAILABILITY_TOPIC", default: "meters/{device_id}/availability")

        let clientTemplate = v["MQTT_CLIENT_ID"]?.value.trimmingBlanksString() ?? "dlms-bridge-{device_id}"
        let clientID = TelemetryPayload.topic(template: clientTemplate, deviceID: meters[0].deviceID)
        guard !clientID.isEmpty, clientID.utf8.count <= 256, clientID.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F })
        else {
            throw v.fail("MQTT_CLIENT_ID", "it is empty, too long or has spaces or control characters",
                "a name unique on the broker, e.g. dlms-bridge-{device_id}")
        }

        let protocolText = v["MQTT_PROTOCOL"]?.value.trimmingBlanksString().lowercased() ?? "3.1.1"
        let protocolVersion: MQTTVersion
        switch protocolText {
        case "3.1.1", "311", "mqttv311", "v3.1.1": protocolVersion = .v311
        case "5", "5.0", "mqttv5", "v5": protocolVersion = .v5
        default: throw v.fail("MQTT_PROTOCOL", "unknown MQTT version", "3.1.1 or 5")
        }

        var mqtt = MQTTConfiguration(
            host: host, port: port, clientID: clientID, telemetryTopic: telemetry, statusTopic: status,
            healthTopic: health, availabilityTopic: availability, tls: tls, username: username, password: password,
            qos: UInt8(try v.integer("MQTT_QOS", default: 1, in: 0...2)), protocolVersion: protocolVersion,
            keepaliveSeconds: try v.integer("MQTT_KEEPALIVE_S", default: 60, in: 5...65535))
        mqtt.profileTopic = profileTopic

        let directory = v["SPOOL_DIR"]?.value.trimmingBlanksString() ?? "/var/lib/dlms-bridge/spool"
        guard !directory.isEmpty else {
            throw v.fail("SPOOL_DIR", "it is empty", "a directory on flash, e.g. /var/lib/dlms-bridge/spool")
        }
        // SPOOL_MAX_BYTES caps each meter's spool; SPOOL_MAX_BYTES_TOTAL, when set, caps the gateway's: its
        // meters share it evenly (each gets the smaller of the two), so a thousand meters cannot fill the card.
        var perMeter = try v.size("SPOOL_MAX_BYTES", default: 64 << 20)
        if v["SPOOL_MAX_BYTES_TOTAL"] != nil {
            let total = try v.size("SPOOL_MAX_BYTES_TOTAL", default: 0)
            let share = total / Int64(max(1, meters.count))
            guard share >= 64 << 10 else {
                throw v.fail("SPOOL_MAX_BYTES_TOTAL", "shared by \(meters.count) meters it leaves \(share) bytes each, below 64K",
                    "at least \(meters.count * 64)K for \(meters.count) meters (64K each), or fewer meters on this gateway")
            }
            perMeter = min(perMeter, share)
        }
        let spool = SpoolSettings(
            directory: directory, maxBytes: perMeter,
            maxAgeSeconds: Int64(try v.integer("SPOOL_MAX_AGE_S", default: 0, in: 0...(10 * 365 * 86400))),
            commitIntervalMilliseconds: try v.integer("SPOOL_COMMIT_INTERVAL_MS", default: 1000, in: 0...60_000),
            replayPerSecond: try v.integer("REPLAY_RATE", default: 50, in: 1...10_000))

        let healthSeconds = try v.double("HEALTH_INTERVAL_S", default: 60, in: 0...86_400)
        if healthSeconds > 0 && healthSeconds < 1 {
            throw v.fail("HEALTH_INTERVAL_S", "it is below one second", "0 (no health messages) or 1 to 86400")
        }
        let unitText = v["UNIT_CODES"]?.value.trimmingBlanksString().lowercased() ?? "standard"
        guard let unitCodes = UnitCodeMapping(rawValue: unitText) else {
            throw v.fail("UNIT_CODES", "unknown unit code table",
                "standard (IEC 62056-6-2 codes, volt = 35) or prototype (the Python prototype's codes, volt = 32)")
        }
        let prefix = v["HA_DISCOVERY_PREFIX"]?.value.trimmingBlanksString() ?? "homeassistant"
        guard !prefix.isEmpty, prefix.utf8.count <= 256, !prefix.hasPrefix("/"), !prefix.hasSuffix("/"),
            !prefix.utf8.contains(where: { $0 == 0x2B || $0 == 0x23 || $0 <= 0x20 || $0 == 0x7B || $0 == 0x7D })
        else {
            throw v.fail("HA_DISCOVERY_PREFIX", "it is empty, starts or ends with /, or has a wildcard, a space or a brace",
                "Home Assistant's discovery prefix, homeassistant unless changed in its MQTT settings")
        }
        let homeAssistant = HomeAssistantSettings(enabled: try v.bool("HA_DISCOVERY", default: false), prefix: prefix)
        return AgentConfiguration(
            meters: meters, mqtt: mqtt, spool: spool, healthIntervalMilliseconds: Int64((healthSeconds * 1000).rounded()),
            unitCodes: unitCodes, verbose: try v.bool("VERBOSE", default: false), homeAssistant: homeAssistant)
    }

    static func optionalFile(_ v: Values, _ name: String) throws(ConfigError) -> String? {
        guard let s = v[name], !s.value.isEmpty else { return nil }
        guard FileCheck.kind(s.value) == .file else {
            throw v.fail(name, "no such file, or not readable", "a readable PEM file")
        }
        return s.value
    }

    static func topicTemplate(_ v: Values, _ name: String, default value: String) throws(ConfigError) -> String {
        guard let s = v[name] else { return value }
        let t = s.value.trimmingBlanksString()
        let expected = "an MQTT topic without + or #, with {device_id} for the meter, e.g. \(value)"
        guard !t.isEmpty, t.utf8.count <= 1024, !t.utf8.contains(where: { $0 == 0x2B || $0 == 0x23 || $0 < 0x20 })
        else {
            throw v.fail(name, "it is empty, too long or has a wildcard (+ #) or a control character", expected)
        }
        let rest = t.replacingAll("{device_id}", with: "")
        guard !rest.utf8.contains(0x7B) && !rest.utf8.contains(0x7D) else {
            throw v.fail(name, "it has a placeholder other than {device_id}", expected)
        }
        return t
    }

    static func checkName(_ id: String, _ name: String, _ s: Setting) throws(ConfigError) {
        let ok = !id.isEmpty && id.utf8.count <= 64
            && id.utf8.allSatisfy { $0 > 0x20 && $0 != 0x7F && $0 != 0x2F && $0 != 0x2B && $0 != 0x23 && $0 != 0x7B
                && $0 != 0x7D }
        guard ok else {
            throw ConfigError(
                variable: name, value: id, origin: s.origin,
                problem: "it is empty, longer than 64 bytes, or has a space, / + # { } or a control character",
                expected: "a short name usable in an MQTT topic, e.g. microstar-001")
        }
    }

    static func checkHost(_ host: String, _ name: String, _ v: Values) throws(ConfigError) {
        guard !host.isEmpty, host.utf8.count <= 253, host.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != 0x2F })
        else {
            throw v.fail(name, "it is not a host name or IP address", "e.g. 192.168.5.177 or broker.example.com")
        }
    }
}

/// One value and where it came from.
struct Setting: Sendable, Equatable {
    var value: String
    var origin: String
}

/// Layered look-up with typed, checked conversions; every failure names the variable and its origin.
struct Values {
    var layers: [[String: Setting]]

    subscript(_ name: String) -> Setting? {
        for layer in layers { if let s = layer[name] { return s } }
        return nil
    }

    func fail(_ name: String, _ problem: String, _ expected: String) -> ConfigError {
        let s = self[name]
        let shown = ConfigVariable.secrets.contains(name) ? (s == nil ? nil : ConfigSecret.mask) : s?.value
        return ConfigError(variable: name, value: shown, origin: s?.origin, problem: problem, expected: expected)
    }

    func integer(_ name: String, default value: Int, in range: ClosedRange<Int>, why: String? = nil)
        throws(ConfigError) -> Int
    {
        guard let s = self[name] else { return value }
        let expected = "a whole number from \(range.lowerBound) to \(range.upperBound)" + (why.map { " " + $0 } ?? "")
        guard let n = Int(s.value.trimmingBlanksString()) else { throw fail(name, "it is not a whole number", expected) }
        guard range.contains(n) else { throw fail(name, "the number is out of range", expected) }
        return n
    }

    func double(_ name: String, default value: Double, in range: ClosedRange<Double>, expected what: String? = nil)
        throws(ConfigError) -> Double
    {
        guard let s = self[name] else { return value }
        let expected = what ?? "a number of seconds from \(range.lowerBound) to \(range.upperBound), e.g. 5.0"
        let text = s.value.trimmingBlanksString()
        // Double("nan"), "inf" and hex floats parse; none of them is a period.
        guard text.utf8.allSatisfy({ isDigit($0) || $0 == 0x2E || $0 == 0x2D || $0 == 0x2B || $0 == 0x65 || $0 == 0x45 }),
            let d = Double(text), d.isFinite
        else { throw fail(name, "it is not a number", expected) }
        guard range.contains(d) else { throw fail(name, "the number is out of range", expected) }
        return d
    }

    /// pydantic's booleans: true/false, 1/0, yes/no, on/off, t/f, y/n, any case.
    func bool(_ name: String, default value: Bool) throws(ConfigError) -> Bool {
        guard let s = self[name] else { return value }
        switch s.value.trimmingBlanksString().lowercased() {
        case "true", "1", "yes", "on", "t", "y": return true
        case "false", "0", "no", "off", "f", "n": return false
        default: throw fail(name, "it is not a boolean", "true or false (also 1/0, yes/no, on/off)")
        }
    }

    /// Bytes with an optional binary suffix: `65536`, `512K`, `64M`, `1G` (also `64MB`, `64MiB`).
    func size(_ name: String, default value: Int64) throws(ConfigError) -> Int64 {
        guard let s = self[name] else { return value }
        let expected = "a size from 64K to 1T: bytes, or a number with K, M or G (powers of 1024), e.g. 64M"
        var text = Substring(s.value.trimmingBlanksString().uppercased())
        if text.hasSuffix("IB") { text = text.dropLast(2) } else if text.hasSuffix("B") { text = text.dropLast() }
        var multiplier: Int64 = 1
        switch text.last {
        case "K": multiplier = 1 << 10
        case "M": multiplier = 1 << 20
        case "G": multiplier = 1 << 30
        case "T": multiplier = 1 << 40
        default: break
        }
        if multiplier != 1 { text = text.dropLast() }
        guard !text.isEmpty, text.utf8.allSatisfy(isDigit), let n = Int64(text) else {
            throw fail(name, "it is not a size", expected)
        }
        let (bytes, overflow) = n.multipliedReportingOverflow(by: multiplier)
        guard !overflow, bytes >= 64 << 10, bytes <= 1 << 40 else { throw fail(name, "the size is out of range", expected) }
        return bytes
    }
}

func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
func isAlphanumeric(_ c: UInt8) -> Bool { isDigit(c) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) }

/// A JSON array of strings (`["a", "b"]`), as pydantic-settings reads list-typed variables; nil if malformed.
func parseJSONStringList(_ text: String) -> [String]? {
    let b = Array(text.utf8)
    var i = 0
    func skip() { while i < b.count, b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0A || b[i] == 0x0D { i += 1 } }
    skip()
    guard i < b.count, b[i] == 0x5B else { return nil }
    i += 1
    var out: [String] = []
    skip()
    if i < b.count, b[i] == 0x5D {
        i += 1
        skip()
        return i == b.count ? out : nil
    }
    while true {
        skip()
        guard i < b.count, b[i] == 0x22 else { return nil }
        i += 1
        var s: [UInt8] = []
        while true {
            guard i < b.count else { return nil }
            let c = b[i]
            if c == 0x22 { i += 1; break }
            if c < 0x20 { return nil }
            if c == 0x5C {
                guard i + 1 < b.count else { return nil }
                switch b[i + 1] {
                case 0x22, 0x5C, 0x2F: s.append(b[i + 1])
                case 0x6E: s.append(0x0A)
                case 0x74: s.append(0x09)
                default: return nil  // \u escapes have no place in a measurement name
                }
                i += 2
                continue
            }
            s.append(c)
            i += 1
        }
        out.append(String(decoding: s, as: UTF8.self))
        skip()
        guard i < b.count else { return nil }
        if b[i] == 0x2C { i += 1; continue }
        if b[i] == 0x5D { i += 1; break }
        return nil
    }
    skip()
    return i == b.count ? out : nil
}

extension StringProtocol {
    func trimmingBlanks() -> Substring {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
        return s
    }

    func trimmingBlanksString() -> String { String(trimmingBlanks()) }
}
