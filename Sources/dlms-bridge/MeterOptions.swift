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
        .value("port", "port", "Meter TCP port.", default: "3333"),
        .value("serial", "device", "Serial device of an optical probe, instead of --host."),
        .flag("mode-e", "Open the optical port with IEC 62056-21 mode E first."),
        .value("baud", "rate", "Serial rate for direct HDLC; with mode E the highest rate accepted.", default: "9600"),
        .value("client-sap", "sap", "Client SAP: 1 (Microstar, password), 16 (public), 32 (management)."),
        .value("server-logical", "n", "Server logical address (Microstar: 0, or 1)."),
        .value("server-physical", "n", "Server physical address (Microstar: 1, or the serial's last 4 digits)."),
        .value("address-size", "size", "Server address bytes: 1, 2, 4 or auto.", default: "auto"),
        .value("password", "password", "LLS password (never printed)."),
        .value("meter-profile", "name", "Meter family defaults: microstar or generic.", default: "microstar"),
        .value("timeout-ms", "ms", "Answer timeout per frame, milliseconds.", default: "2000"),
        .flag("verbose", "Show every frame in hex with timestamps (passwords masked)."),
    ]

    var host: String?
    var port: UInt16 = 3333
    var serial: String?
    var modeE = false
    var baud: Int = 9600
    var clientSAP: UInt8?
    var serverLogical: UInt16?
    var serverPhysical: UInt16?
    var addressSize = "auto"
    var password: String?
    var meterProfile = "microstar"
    var timeoutMs: Int64 = 2000
    var verbose = false

    init() {}

    init(_ a: ParsedArguments) throws(UsageError) {
        host = a.string("host")
        port = try a.integer("port", UInt16.self, default: 3333, in: 1...65535) ?? 3333
        serial = a.string("serial")
        modeE = a.flag("mode-e")
        baud = try a.integer("baud", Int.self, default: 9600, in: 300...115_200) ?? 9600
        clientSAP = try a.integer("client-sap", UInt8.self, in: 1...127)
        serverLogical = try a.integer("server-logical", UInt16.self, in: 0...16383)
        serverPhysical = try a.integer("server-physical", UInt16.self, in: 0...16383)
        addressSize = a.string("address-size", default: "auto")
        password = a.string("password")
        meterProfile = a.string("meter-profile", default: "microstar")
        timeoutMs = try a.integer("timeout-ms", Int64.self, default: 2000, in: 10...600_000) ?? 2000
        verbose = a.flag("verbose")
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
        return settings
    }

    /// An open, associated session; exits with status 3 and the reason when the meter cannot be reached.
    func openSession() -> MeterSession {
        let settings = settings()
        var trace: FrameTrace? = nil
        if verbose {
            trace = { (direction: FrameDirection, text: String) in
                stderrLine(UTCTime.iso8601(milliseconds: WallClock.milliseconds()) + " " + direction.rawValue + " " + text)
            }
        }
        let session = MeterSession(settings: settings, trace: trace)
        do { try session.open() } catch { fail(error.description, code: 3) }
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
        if let clientSAP { lines.append("DLMS_CLIENT_SAP=\(clientSAP)") }
        if let serverLogical { lines.append("DLMS_SERVER_LOGICAL=\(serverLogical)") }
        if let serverPhysical { lines.append("DLMS_SERVER_PHYSICAL=\(serverPhysical)") }
        if addressSize != "auto" { lines.append("DLMS_ADDRESS_SIZE=\(addressSize)") }
        if password != nil { lines.append("# DLMS_PASSWORD=...   (the password given to discover; not written here)") }
        if meterProfile != "microstar" { lines.append("DLMS_METER_PROFILE=\(meterProfile)") }
        return lines
    }
}
