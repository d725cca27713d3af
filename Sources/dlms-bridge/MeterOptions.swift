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

    /// Each option that stands for a `[meter]` variable of `run`, and that variable.
    static let variableFlags: [(flag: String, variable: String)] = [
        ("host", "DLMS_HOST"), ("port", "DLMS_PORT"), ("transport", "DLMS_TRANSPORT"), ("serial", "DLMS_SERIAL_DEVICE"),
        ("baud", "DLMS_BAUD"), ("client-sap", "DLMS_CLIENT_SAP"), ("server-logical", "DLMS_SERVER_LOGICAL"),
        ("server-physical", "DLMS_SERVER_PHYSICAL"), ("address-size", "DLMS_ADDRESS_SIZE"), ("password", "DLMS_PASSWORD"),
        ("meter-profile", "DLMS_METER_PROFILE"), ("timeout-ms", "DLMS_TIMEOUT_MS"),
        ("security", "DLMS_SECURITY"), ("auth", "DLMS_AUTH"), ("ek", "DLMS_EK"), ("ak", "DLMS_AK"), ("dk", "DLMS_DK"),
        ("ek-file", "DLMS_EK_FILE"), ("ak-file", "DLMS_AK_FILE"), ("dk-file", "DLMS_DK_FILE"),
        ("system-title", "DLMS_SYSTEM_TITLE"), ("frame-counter-obis", "DLMS_FRAME_COUNTER_OBIS"),
    ]

    /// The options as `[meter]` variables (`DLMS_HOST` → value), and the option each came from.
    var variables: [String: String] = [:]
    var origins: [String: String] = [:]
    var stateDirectory: String?
    var verbose = false

    init() {}

    init(_ a: ParsedArguments) throws(UsageError) {
        for (flag, variable) in Self.variableFlags {
            guard let value = a.string(flag) else { continue }
            variables[variable] = value
            origins[variable] = "--" + flag
        }
        // On the command line the mode E opening is asked for (`run`'s DLMS_MODE_E defaults to true).
        variables["DLMS_MODE_E"] = a.flag("mode-e") ? "true" : "false"
        origins["DLMS_MODE_E"] = "--mode-e"
        stateDirectory = a.string("state-dir")
        verbose = a.flag("verbose")
    }

    /// The meter as `run` would see a `[meter]` section with these variables: the same parsing, checks and
    /// error messages (each citing the option it came from). Exits with status 2 and the fix on a bad value.
    func configuration() -> MeterConfiguration {
        var all = variables
        all["DEVICE_ID"] = "command-line"
        // An interactive command answers sooner than `run`'s DLMS_TIMEOUT_MS default (5000 ms).
        if all["DLMS_TIMEOUT_MS"] == nil { all["DLMS_TIMEOUT_MS"] = "2000" }
        if all["DLMS_HOST"] == nil && all["DLMS_SERIAL_DEVICE"] == nil {
            fail("say where the meter is: --host H [--port P] for TCP, or --serial /dev/ttyUSB0 for an optical probe", code: 2)
        }
        do { return try ConfigurationLoader.meter(variables: all, origins: origins) } catch {
            fail(error.description, code: 2)
        }
    }

    /// The lease directory of a one-shot command: one per client system title (the IV's other half), so that
    /// reads of any meter with this title never reuse a counter.
    func leaseDirectory(title: SystemTitle) -> String {
        let environment = ConfigurationLoader.processEnvironment()
        var base = stateDirectory
        if base == nil, let xdg = environment["XDG_STATE_HOME"], !xdg.isEmpty { base = xdg + "/dlms-bridge" }
        if base == nil, let home = environment["HOME"], !home.isEmpty { base = home + "/.local/state/dlms-bridge" }
        return (base ?? ".dlms-bridge") + "/read-" + title.description
    }

    /// An open, associated session; exits with status 3 and the reason when the meter cannot be reached.
    func openSession() -> MeterSession {
        let meter = configuration()
        let settings = MeterSettings(meter)
        var lease: SpoolCounterLease? = nil
        if let secured = meter.security {
            // The counter must never be reused, even by the next command: its lease is kept in a state file.
            do { lease = try SpoolCounterLease(directory: leaseDirectory(title: secured.clientSystemTitle)) } catch {
                fail(error.description + " (set --state-dir to a writable directory)", code: 2)
            }
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

    /// The `[meter]` variables that reach the meter as these options do; secrets are left as comments (the
    /// password and keys given on the command line are not written: keys belong in files, `DLMS_EK_FILE`).
    func configurationLines() -> [String] {
        var lines: [String] = []
        for (_, variable) in Self.variableFlags {
            guard let value = variables[variable] else { continue }
            if ConfigVariable.secrets.contains(variable) {
                lines.append("# \(variable)=...   (given on the command line; not written here)")
            } else {
                lines.append("\(variable)=\(value)")
            }
        }
        if variables["DLMS_SERIAL_DEVICE"] != nil { lines.append("DLMS_MODE_E=\(variables["DLMS_MODE_E"] ?? "false")") }
        return lines
    }
}
