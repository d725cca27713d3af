import Agent
import COSEM
import HDLC
import MeterLink
import Platform

/// The options that say where a meter is and how to associate with it: shared by `read` and `discover`, so
/// both reach every meter the same way (TCP or optical probe, addresses, authentication, timeouts, tracing).
struct MeterOptions {
    static let options: [OptionSpec] = [
        .value("host", "host", "Meter host name or address (TCP, HDLC on the socket)."),
        .value("port", "port", "Meter TCP port (default 3333, 4059 with --transport wrapper)."),
        .value("transport", "framing", "hdlc, or wrapper (IEC 62056-47 on TCP; wPorts: client SAP, server logical).",
               default: "hdlc"),
        .value("serial", "device", "Serial device of an optical probe, instead of --host."),
        .flag("mode-e", "Open the optical port with IEC 62056-21 mode E first."),
        .value("baud", "rate", "Serial rate for direct HDLC; with mode E the highest rate accepted.", default: "9600"),
        .value("client-sap", "sap", "Client SAP: 1 (Microstar, password), 16 (public), 32 (management)."),
        .value("server-logical", "n", "Server logical address (Microstar: 0, or 1)."),
        .value("server-physical", "n", "Server physical address (Microstar: 1, or the serial's last 4 digits)."),
        .value("address-size", "size", "Server address bytes: 1, 2, 4 or auto.", default: "auto"),
        .value("password", "password", "LLS password (never printed)."),
        .value("security", "level", "Ciphering (DLMS_SECURITY): none, auth, enc or auth-enc.", default: "none"),
        .value("auth", "mechanism", "Authentication (DLMS_AUTH): none, lls or hls-gmac (default: lls with --password)."),
        .value("ek", "hex", "Encryption key EK, 32 hex digits (never printed)."),
        .value("ak", "hex", "Authentication key AK, 32 hex digits (never printed)."),
        .value("dk", "hex", "Dedicated key to propose, 32 hex digits (never printed)."),
        .value("ek-file", "path", "EK from a file only its owner may read (chmod 600)."),
        .value("ak-file", "path", "AK from a file only its owner may read."),
        .value("dk-file", "path", "Dedicated key from a file only its owner may read."),
        .value("system-title", "hex", "This client's system title, 16 hex digits."),
        .value("frame-counter-obis", "obis", "Read the meter's frame counter here first (e.g. 0-0:43.1.0.255)."),
        .value("state-dir", "dir", "Where the invocation counter lease is kept (default $XDG_STATE_HOME/dlms-bridge or ~/.local/state/dlms-bridge)."),
        .value("meter-profile", "name", "Meter family defaults: microstar or generic.", default: "microstar"),
        .value("timeout-ms", "ms", "Answer timeout per frame, milliseconds.", default: "2000"),
        .flag("verbose", "Show every frame in hex with timestamps (passwords masked)."),
    ]

    var host: String?
    var port: UInt16 = 3333
    var framing = MeterFraming.hdlc
    var serial: String?
    var modeE = false
    var baud: Int = 9600
    var clientSAP: UInt8?
    var serverLogical: UInt16?
    var serverPhysical: UInt16?
    var addressSize = "auto"
    var password: String?
    /// The security flags by the variable each stands for (`DLMS_EK` → value), and the flag's name.
    var security: [String: String] = [:]
    var securityFlags: [String: String] = [:]
    var stateDirectory: String?
    var meterProfile = "microstar"
    var timeoutMs: Int64 = 2000
    var verbose = false

    init() {}

    init(_ a: ParsedArguments) throws(UsageError) {
        host = a.string("host")
        guard let framing = MeterFraming(rawValue: a.string("transport", default: "hdlc")) else {
            throw UsageError(message: "--transport takes hdlc or wrapper")
        }
        self.framing = framing
        let defaultPort = framing == .wrapper ? WrapperHeader.defaultPort : 3333
        port = try a.integer("port", UInt16.self, default: defaultPort, in: 1...65535) ?? defaultPort
        if framing == .wrapper && a.string("serial") != nil {
            throw UsageError(message: "--transport wrapper runs on TCP only: use --host, not --serial")
        }
        serial = a.string("serial")
        modeE = a.flag("mode-e")
        baud = try a.integer("baud", Int.self, default: 9600, in: 300...115_200) ?? 9600
        clientSAP = try a.integer("client-sap", UInt8.self, in: 1...127)
        serverLogical = try a.integer("server-logical", UInt16.self, in: 0...16383)
        serverPhysical = try a.integer("server-physical", UInt16.self, in: 0...16383)
        addressSize = a.string("address-size", default: "auto")
        password = a.string("password")
        for (flag, variable) in Self.securityFlags {
            if let value = a.string(flag) {
                security[variable] = value
                securityFlags[variable] = "--" + flag
            }
        }
        stateDirectory = a.string("state-dir")
        meterProfile = a.string("meter-profile", default: "microstar")
        timeoutMs = try a.integer("timeout-ms", Int64.self, default: 2000, in: 10...600_000) ?? 2000
        verbose = a.flag("verbose")
    }

    static let securityFlags: [(String, String)] = [
        ("security", "DLMS_SECURITY"), ("auth", "DLMS_AUTH"), ("ek", "DLMS_EK"), ("ak", "DLMS_AK"), ("dk", "DLMS_DK"),
        ("ek-file", "DLMS_EK_FILE"), ("ak-file", "DLMS_AK_FILE"), ("dk-file", "DLMS_DK_FILE"),
        ("system-title", "DLMS_SYSTEM_TITLE"), ("frame-counter-obis", "DLMS_FRAME_COUNTER_OBIS"),
    ]

    /// The lease directory of a one-shot command: one per client system title (the IV's other half), so that
    /// reads of any meter with this title never reuse a counter.
    func leaseDirectory(title: SystemTitle) -> String {
        let environment = ConfigurationLoader.processEnvironment()
        var base = stateDirectory
        if base == nil, let xdg = environment["XDG_STATE_HOME"], !xdg.isEmpty { base = xdg + "/dlms-bridge" }
        if base == nil, let home = environment["HOME"], !home.isEmpty { base = home + "/.local/state/dlms-bridge" }
        return (base ?? ".dlms-bridge") + "/read-" + title.description
    }

    /// The meter link settings; exits with status 2 and the fix on a bad combination.
    func settings() -> MeterSettings {
        guard let profileSettings = MeterProfile.named(meterProfile) else {
            fail("--meter-profile \(meterProfile) is not known: use microstar or generic", code: 2)
        }
        let endpoint: MeterEndpoint
        if let serial {
            endpoint = .serial(path: serial, baudRate: baud, modeE: modeE)
        } else if let host {
            endpoint = .tcp(host: host, port: port)
        } else {
            fail("say where the meter is: --host H [--port P] for TCP, or --serial /dev/ttyUSB0 for an optical probe", code: 2)
        }
        guard let size = AddressSizeSetting(parsing: addressSize) else {
            fail("--address-size \(addressSize) is not valid: use 1, 2, 4 or auto", code: 2)
        }
        var settings = MeterSettings(endpoint: endpoint, profile: profileSettings, password: Secret(password ?? ""))
        if let clientSAP { settings.clientSAP = clientSAP }
        if let serverLogical { settings.serverLogical = serverLogical }
        if let serverPhysical { settings.serverPhysical = serverPhysical }
        settings.addressSize = size
        settings.responseTimeoutMilliseconds = timeoutMs
        settings.framing = framing
        return settings
    }

    /// An open, associated session; exits with status 3 and the reason when the meter cannot be reached.
    func openSession() -> MeterSession {
        var settings = settings()
        var lease: SpoolCounterLease? = nil
        do {
            if let secured = try ConfigurationLoader.security(values: security, origins: securityFlags, password: password) {
                settings.security = secured.meterSecurity
                // The counter must never be reused, even by the next command: its lease is kept in a state file.
                do { lease = try SpoolCounterLease(directory: leaseDirectory(title: secured.clientSystemTitle)) } catch {
                    fail(error.description + " (set --state-dir to a writable directory)", code: 2)
                }
            }
        } catch {
            fail(error.description, code: 2)
        }
        var trace: FrameTrace? = nil
        if verbose {
            trace = { (direction: FrameDirection, text: String) in
                stderrLine(UTCTime.iso8601(milliseconds: WallClock.milliseconds()) + " " + direction.rawValue + " " + text)
            }
        }
        let session = MeterSession(settings: settings, trace: trace, counterLease: lease)
        do { try session.open() } catch {
            // The meter named the invocation counter it expects: the session jumped there; associate again.
            guard error.reassociateAtOnce else { fail(error.description, code: 3) }
            if verbose { stderrLine(error.description) }
            do { try session.open() } catch { fail(error.description, code: 3) }
        }
        if verbose, let w = session.resolvedWidth, let bytes = w.byteCount {
            stderrLine("associated with \(settings.endpoint) (server address of \(bytes) byte(s))")
        }
        return session
    }

    /// The `[meter]` variables that reach the meter as these options do (the password as a placeholder).
    func configurationLines() -> [String] {
        var lines: [String] = []
        if let serial {
            lines += ["DLMS_SERIAL_DEVICE=\(serial)", "DLMS_BAUD=\(baud)", "DLMS_MODE_E=\(modeE)"]
        } else if let host {
            lines += ["DLMS_HOST=\(host)", "DLMS_PORT=\(port)"]
        }
        if framing != .hdlc { lines.append("DLMS_TRANSPORT=\(framing.rawValue)") }
        if let clientSAP { lines.append("DLMS_CLIENT_SAP=\(clientSAP)") }
        if let serverLogical { lines.append("DLMS_SERVER_LOGICAL=\(serverLogical)") }
        if let serverPhysical { lines.append("DLMS_SERVER_PHYSICAL=\(serverPhysical)") }
        if addressSize != "auto" { lines.append("DLMS_ADDRESS_SIZE=\(addressSize)") }
        if password != nil { lines.append("# DLMS_PASSWORD=...   (the password given to discover; not written here)") }
        for (_, variable) in Self.securityFlags {
            guard let value = security[variable] else { continue }
            if ["DLMS_EK", "DLMS_AK", "DLMS_DK"].contains(variable) {
                lines.append("# \(variable)=...   (a key given to discover; not written here: use \(variable)_FILE)")
            } else {
                lines.append("\(variable)=\(value)")
            }
        }
        if meterProfile != "microstar" { lines.append("DLMS_METER_PROFILE=\(meterProfile)") }
        return lines
    }
}
