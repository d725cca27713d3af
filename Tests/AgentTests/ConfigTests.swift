import Foundation
import Testing

@testable import Agent

// The prototype's .env, as its README shows it (seed 000): inline comments, a JSON list with spaces.
private let seedDotEnv = """
    DLMS_HOST=192.168.5.177          # IP del medidor
    DLMS_PORT=3333                    # Puerto TCP
    DLMS_CLIENT_SAP=1                 # Service Access Point del cliente
    DLMS_SERVER_LOGICAL=0             # ⚠️ CRÍTICO: Debe ser 0 para Microstar
    DLMS_SERVER_PHYSICAL=1            # Dirección física del servidor
    DLMS_PASSWORD=22222222            # Contraseña de autenticación
    DLMS_MEASUREMENTS=["voltage_l1", "current_l1"]  # Mediciones a leer

    MQTT_HOST=localhost               # Broker MQTT
    MQTT_PORT=1883                    # Puerto MQTT
    MQTT_CLIENT_ID=dlms-bridge        # ID del cliente
    MQTT_TOPIC=meters/{device_id}/telemetry  # Topic de publicación
    DEVICE_ID=microstar-001           # Identificador del dispositivo

    POLL_PERIOD_S=5.0                 # Tiempo entre lecturas (segundos)
    MAX_CONSEC_ERRORS=10              # Máx errores consecutivos antes de parar
    VERBOSE=false                     # Logs detallados (incluye frames HDLC)
    """

private func load(
    _ env: [String: String] = [:], dotenv: String? = nil, file: String? = nil, known: Set<String>? = nil
) throws(ConfigError) -> AgentConfiguration {
    try ConfigurationLoader.load(
        environment: env, dotenv: dotenv.map { ConfigText(name: ".env", text: $0) },
        configFile: file.map { ConfigText(name: "meters.conf", text: $0) }, knownMeasurements: known)
}

private func error(_ env: [String: String], dotenv: String? = nil, file: String? = nil) -> ConfigError? {
    do {
        _ = try load(env, dotenv: dotenv, file: file)
        return nil
    } catch { return error }
}

private let minimal = ["DEVICE_ID": "m1", "DLMS_HOST": "10.0.0.5"]

/// A temporary directory with a CA file, a client certificate and key (contents do not matter to the loader).
private func tlsFiles() throws -> (dir: String, ca: String, cert: String, key: String) {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("agent-cfg-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    for name in ["ca.pem", "client.pem", "client.key"] {
        try "-----BEGIN CERTIFICATE-----\n".write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
    }
    return (dir, dir + "/ca.pem", dir + "/client.pem", dir + "/client.key")
}

@Suite struct ConfigTests {
    @Test func theSeedDotEnvWorksUnchanged() throws {
        let c = try load(dotenv: seedDotEnv)
        let m = try #require(c.meters.first)
        #expect(c.meters.count == 1)
        #expect(m.deviceID == "microstar-001")
        #expect(m.transport == .tcp(host: "192.168.5.177", port: 3333))
        #expect(m.clientSAP == 1 && m.serverLogical == 0 && m.serverPhysical == 1)
        #expect(m.password?.reveal() == "22222222")
        #expect(m.measurements == ["voltage_l1", "current_l1"])
        #expect(m.pollPeriodMilliseconds == 5000 && m.maxConsecutiveErrors == 10)
        #expect(c.mqtt.host == "localhost" && c.mqtt.port == 1883 && c.mqtt.clientID == "dlms-bridge")
        #expect(c.mqtt.telemetryTopic == "meters/{device_id}/telemetry")
        #expect(c.mqtt.tls == nil)
        #expect(c.verbose == false)
    }

    @Test func defaults() throws {
        let c = try load(minimal)
        let m = c.meters[0]
        #expect(m.transport == .tcp(host: "10.0.0.5", port: 3333))
        #expect(m.clientSAP == 1 && m.serverLogical == 0 && m.serverPhysical == 1 && m.addressSize == .auto)
        #expect(m.password == nil && m.measurements == ["voltage_l1", "current_l1"])
        #expect(m.pollPeriodMilliseconds == 5000 && m.maxConsecutiveErrors == 10 && m.timeoutMilliseconds == 5000)
        #expect(m.connectPerPoll == false && m.profile == .microstar)
        #expect(c.mqtt == MQTTConfiguration(clientID: "dlms-bridge-m1"))
        #expect(c.spool == SpoolSettings())
        #expect(c.healthIntervalMilliseconds == 60_000 && c.unitCodes == .standard && !c.verbose)
    }

    @Test func everyVariableFromTheEnvironment() throws {
        let f = try tlsFiles()
        let env = [
            "DEVICE_ID": "kitchen", "DLMS_HOST": "meter.lan", "DLMS_PORT": "4059", "DLMS_CLIENT_SAP": "32",
            "DLMS_SERVER_LOGICAL": "1", "DLMS_SERVER_PHYSICAL": "1234", "DLMS_PASSWORD": "2222222222",
            "DLMS_MEASUREMENTS": "[\"voltage_l1\"]", "DLMS_ADDRESS_SIZE": "4", "DLMS_TIMEOUT_MS": "2500",
            "DLMS_CONNECT_PER_POLL": "yes", "DLMS_METER_PROFILE": "generic", "POLL_PERIOD_S": "0.25",
            "MAX_CONSEC_ERRORS": "3", "MQTT_HOST": "broker.example.com", "MQTT_PORT": "8884", "MQTT_CLIENT_ID": "gw-7",
            "MQTT_TOPIC": "t/{device_id}", "MQTT_STATUS_TOPIC": "s/{device_id}", "MQTT_HEALTH_TOPIC": "h/{device_id}",
            "MQTT_TLS_CA": f.ca, "MQTT_TLS_CERT": f.cert, "MQTT_TLS_KEY": f.key, "MQTT_TLS_INSECURE": "on",
            "MQTT_TLS_VERSION": "tlsv1.3", "MQTT_USERNAME": "gw", "MQTT_PASSWORD": "s3cret", "MQTT_QOS": "2",
            "MQTT_PROTOCOL": "5", "MQTT_KEEPALIVE_S": "30", "SPOOL_DIR": "/data/spool", "SPOOL_MAX_BYTES": "8M",
            "SPOOL_MAX_AGE_S": "604800", "SPOOL_COMMIT_INTERVAL_MS": "250", "REPLAY_RATE": "20",
            "HEALTH_INTERVAL_S": "30", "UNIT_CODES": "prototype", "VERBOSE": "TRUE",
        ]
        let c = try load(env)
        let m = c.meters[0]
        #expect(
            m == MeterConfiguration(
                deviceID: "kitchen", transport: .tcp(host: "meter.lan", port: 4059), clientSAP: 32, serverLogical: 1,
                serverPhysical: 1234, addressSize: .fixed(.four), password: ConfigSecret("2222222222"), measurements: ["voltage_l1"],
                pollPeriodMilliseconds: 250, maxConsecutiveErrors: 3, timeoutMilliseconds: 2500, connectPerPoll: true,
                profile: .generic))
        #expect(
            c.mqtt == MQTTConfiguration(
                host: "broker.example.com", port: 8884, clientID: "gw-7", telemetryTopic: "t/{device_id}",
                statusTopic: "s/{device_id}", healthTopic: "h/{device_id}",
                tls: TLSConfiguration(
                    authority: .file(f.ca), certificateFile: f.cert, keyFile: f.key, insecure: true,
                    minimumVersion: "tlsv1.3"),
                username: "gw", password: ConfigSecret("s3cret"), qos: 2, protocolVersion: .v5, keepaliveSeconds: 30))
        #expect(
            c.spool == SpoolSettings(
                directory: "/data/spool", maxBytes: 8 << 20, maxAgeSeconds: 604_800, commitIntervalMilliseconds: 250,
                replayPerSecond: 20))
        #expect(c.healthIntervalMilliseconds == 30_000 && c.unitCodes == .prototype && c.verbose)
    }

    @Test func serialTransport() throws {
        let c = try load(["DEVICE_ID": "m", "DLMS_SERIAL_DEVICE": "/dev/ttyUSB0", "DLMS_BAUD": "19200", "DLMS_MODE_E": "0"])
        #expect(c.meters[0].transport == .serial(path: "/dev/ttyUSB0", baudRate: 19200, modeE: false))
        let d = try load(["DEVICE_ID": "m", "DLMS_SERIAL_DEVICE": "/dev/ttyUSB0"])
        #expect(d.meters[0].transport == .serial(path: "/dev/ttyUSB0", baudRate: 9600, modeE: true))
    }

    /// Meters sharing one DLMS_SERIAL_DEVICE: distinct addresses and one set of line settings, else refused.
    @Test func sharedSerialLine() throws {
        let line = "DLMS_SERIAL_DEVICE=/dev/ttyUSB0\nDLMS_MODE_E=false\n"
        let ok = try load(file: line + "[meter a]\nDLMS_SERVER_PHYSICAL=17\n[meter b]\nDLMS_SERVER_PHYSICAL=18\n"
                          + "[meter c]\nDLMS_SERVER_PHYSICAL=17\nDLMS_SERVER_LOGICAL=1\n")
        #expect(ok.meters.map(\.serverPhysical) == [17, 18, 17])
        let same = error([:], file: line + "[meter a]\nDLMS_SERVER_PHYSICAL=17\n[meter b]\nDLMS_SERVER_PHYSICAL=17\n")
        #expect(same?.variable == "DLMS_SERVER_PHYSICAL")
        #expect(same?.description.contains("meters a and b are both at server address 0/17") == true)
        let baud = error([:], file: line + "[meter a]\nDLMS_SERVER_PHYSICAL=1\n[meter b]\nDLMS_SERVER_PHYSICAL=2\nDLMS_BAUD=19200\n")
        #expect(baud?.variable == "DLMS_BAUD")
        let modeE = error([:], file: line + "[meter a]\nDLMS_SERVER_PHYSICAL=1\n[meter b]\nDLMS_SERVER_PHYSICAL=2\nDLMS_MODE_E=true\n")
        #expect(modeE?.variable == "DLMS_MODE_E")
        // The same address on different lines, or over TCP, is not a conflict.
        _ = try load(file: line + "[meter a]\n[meter b]\nDLMS_SERIAL_DEVICE=/dev/ttyUSB1\n[meter c]\nDLMS_SERIAL_DEVICE=\nDLMS_HOST=10.0.0.5\n")
    }

    /// SPOOL_MAX_BYTES_TOTAL caps the gateway: its meters share it evenly, each never above SPOOL_MAX_BYTES.
    @Test func gatewayWideSpoolCap() throws {
        let three = "DLMS_HOST=10.0.0.5\n[meter a]\n[meter b]\n[meter c]\n"
        #expect(try load(file: "SPOOL_MAX_BYTES_TOTAL=3M\n" + three).spool.maxBytes == 1 << 20)
        #expect(try load(file: "SPOOL_MAX_BYTES=512K\nSPOOL_MAX_BYTES_TOTAL=3M\n" + three).spool.maxBytes == 512 << 10)
        #expect(try load(file: three).spool.maxBytes == 64 << 20)  // unset: per meter only
        let many = "DLMS_HOST=10.0.0.5\nSPOOL_MAX_BYTES_TOTAL=1M\n" + (0..<20).map { "[meter m\($0)]\n" }.joined()
        let e = error([:], file: many)
        #expect(e?.variable == "SPOOL_MAX_BYTES_TOTAL")
        #expect(e?.description.contains("shared by 20 meters it leaves 52428 bytes each, below 64K") == true)
        #expect(e?.description.contains("at least 1280K for 20 meters") == true)
    }

    @Test func tlsIsOnWithACAOrPort8883() throws {
        let f = try tlsFiles()
        let byCA = try load(minimal.merging(["MQTT_TLS_CA": f.dir]) { $1 })
        #expect(byCA.mqtt.tls?.authority == .directory(f.dir))
        #expect(byCA.mqtt.port == 8883)  // the TLS port when TLS is asked for and no port is given
        let byPort = try load(minimal.merging(["MQTT_PORT": "8883"]) { $1 })
        #expect(byPort.mqtt.tls?.authority == .directory("/etc/ssl/certs"))
        #expect(byPort.mqtt.tls?.insecure == false)
    }

    @Test func environmentBeatsDotEnvAndNamesAreCaseInsensitive() throws {
        let c = try load(
            ["DEVICE_ID": "from-env", "mqtt_host": "lower.example"],
            dotenv: "DEVICE_ID=from-file\nDLMS_HOST=10.1.1.1\nMQTT_HOST=file.example\n")
        #expect(c.meters[0].deviceID == "from-env")
        #expect(c.meters[0].transport == .tcp(host: "10.1.1.1", port: 3333))
        #expect(c.mqtt.host == "lower.example")
    }

    @Test func dotEnvSyntaxLikePythonDotenv() throws {
        let text = """
            # a comment line

            export DEVICE_ID = m-1
            DLMS_HOST='10.0.0.9' # single quotes are literal
            DLMS_PASSWORD="a#b \\"c\\""   # inside double quotes # is text
            MQTT_TOPIC=x/{device_id}/y#z
            MQTT_CLIENT_ID="line1
            line2"
            SPOOL_DIR=${BASE:-/srv}/spool
            EMPTY=
            BARE_KEY
            'QUOTED_KEY'=v
            """
        let entries = try DotEnv.parse(text, environment: [:])
        let dict = Dictionary(entries.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
        #expect(dict["DEVICE_ID"] == "m-1")
        #expect(dict["DLMS_HOST"] == "10.0.0.9")
        #expect(dict["DLMS_PASSWORD"] == "a#b \"c\"")
        #expect(dict["MQTT_TOPIC"] == "x/{device_id}/y#z")  // `#` without a blank before it is not a comment
        #expect(dict["MQTT_CLIENT_ID"] == "line1\nline2")
        #expect(dict["SPOOL_DIR"] == "/srv/spool")
        #expect(dict["EMPTY"] == "")
        #expect(dict["BARE_KEY"] == nil)
        #expect(dict["QUOTED_KEY"] == "v")
        #expect(entries.first { $0.key == "DLMS_HOST" }?.line == 4)
        #expect(entries.first { $0.key == "SPOOL_DIR" }?.line == 9)
        let expanded = try DotEnv.parse("A=${HOME}/x\nB='${HOME}'\nC=\"${A}\"", environment: ["HOME": "/root"])
        #expect(expanded.map(\.value) == ["/root/x", "${HOME}", "/root/x"])
    }

    @Test func malformedDotEnvLinesAreRefusedWithTheirLineNumber() {
        let e = error([:], dotenv: "DEVICE_ID=m\nDLMS_HOST=\"10.0.0.1\" trailing\n")
        #expect(e?.description == ".env (from line 2): text follows the closing quote of DLMS_HOST's value; "
            + "expected nothing after a quoted value except a # comment")
        #expect(error([:], dotenv: "DLMS_PASSWORD='abc\n")?.problem == "the single-quoted value of DLMS_PASSWORD is not closed")
    }

    @Test func misspeltVariablesInFilesAreRefused() {
        let e = error(minimal, dotenv: "DLMS_HOTS=1.2.3.4\nOTHER_TOOL=ignored\n")
        #expect(e?.description == "DLMS_HOTS (from .env line 1): unknown variable (did you mean DLMS_HOST?); "
            + "expected one of the variables listed in docs/configuration.md")
    }

    // Every invalid value: the variable's name, its value, where it came from, what is wrong, what is expected.
    @Test(arguments: [
        ("DLMS_PORT", "70000", "DLMS_PORT=\"70000\" (from environment): the number is out of range; expected a whole number from 1 to 65535"),
        ("DLMS_PORT", "33a", "DLMS_PORT=\"33a\" (from environment): it is not a whole number; expected a whole number from 1 to 65535"),
        ("DLMS_CLIENT_SAP", "0", "DLMS_CLIENT_SAP=\"0\" (from environment): the number is out of range; expected a whole number from 1 to 127"),
        ("DLMS_SERVER_LOGICAL", "20000", "DLMS_SERVER_LOGICAL=\"20000\" (from environment): the number is out of range; expected a whole number from 0 to 16383"),
        ("DLMS_SERVER_PHYSICAL", "-1", "DLMS_SERVER_PHYSICAL=\"-1\" (from environment): the number is out of range; expected a whole number from 0 to 16383"),
        ("DLMS_ADDRESS_SIZE", "3", "DLMS_ADDRESS_SIZE=\"3\" (from environment): it is not a server address width; expected 1, 2, 4 or auto"),
        ("DLMS_MEASUREMENTS", "[\"voltage_l1\",]", "DLMS_MEASUREMENTS=\"[\"voltage_l1\",]\" (from environment): it is not a valid JSON list of strings; expected a JSON list of measurement names, e.g. [\"voltage_l1\", \"current_l1\"]"),
        ("DLMS_MEASUREMENTS", "[]", "DLMS_MEASUREMENTS=\"[]\" (from environment): the list is empty; expected a JSON list of measurement names, e.g. [\"voltage_l1\", \"current_l1\"]"),
        ("DLMS_MEASUREMENTS", "[\"a\", \"a\"]", "DLMS_MEASUREMENTS=\"[\"a\", \"a\"]\" (from environment): \"a\" is listed twice; expected each measurement once"),
        ("DLMS_MEASUREMENTS", "[\"a b\"]", "DLMS_MEASUREMENTS=\"[\"a b\"]\" (from environment): the name \"a b\" is empty or has characters other than letters, digits, _ - .; expected a JSON list of measurement names, e.g. [\"voltage_l1\", \"current_l1\"]"),
        ("DLMS_TIMEOUT_MS", "10", "DLMS_TIMEOUT_MS=\"10\" (from environment): the number is out of range; expected a whole number from 100 to 600000"),
        ("DLMS_CONNECT_PER_POLL", "maybe", "DLMS_CONNECT_PER_POLL=\"maybe\" (from environment): it is not a boolean; expected true or false (also 1/0, yes/no, on/off)"),
        ("DLMS_METER_PROFILE", "landis", "DLMS_METER_PROFILE=\"landis\" (from environment): unknown meter profile; expected microstar or generic"),
        ("DLMS_PASSWORD", "pä", "DLMS_PASSWORD=\"********\" (from environment): it is longer than 64 bytes or has non-printable or non-ASCII characters; expected the meter's low-level-security password, printable ASCII (e.g. 8 digits)"),
        ("POLL_PERIOD_S", "0", "POLL_PERIOD_S=\"0\" (from environment): the number is out of range; expected a number of seconds from 0.1 to 86400.0, e.g. 5.0"),
        ("POLL_PERIOD_S", "nan", "POLL_PERIOD_S=\"nan\" (from environment): it is not a number; expected a number of seconds from 0.1 to 86400.0, e.g. 5.0"),
        ("POLL_PERIOD_S", "five", "POLL_PERIOD_S=\"five\" (from environment): it is not a number; expected a number of seconds from 0.1 to 86400.0, e.g. 5.0"),
        ("MAX_CONSEC_ERRORS", "0", "MAX_CONSEC_ERRORS=\"0\" (from environment): the number is out of range; expected a whole number from 1 to 1000000"),
        ("VERBOSE", "verbose", "VERBOSE=\"verbose\" (from environment): it is not a boolean; expected true or false (also 1/0, yes/no, on/off)"),
        ("DEVICE_ID", "a/b", "DEVICE_ID=\"a/b\" (from environment): it is empty, longer than 64 bytes, or has a space, / + # { } or a control character; expected a short name usable in an MQTT topic, e.g. microstar-001"),
        ("DLMS_HOST", "a b", "DLMS_HOST=\"a b\" (from environment): it is not a host name or IP address; expected e.g. 192.168.5.177 or broker.example.com"),
        ("MQTT_HOST", "", "MQTT_HOST=\"\" (from environment): it is not a host name or IP address; expected e.g. 192.168.5.177 or broker.example.com"),
        ("MQTT_PORT", "0", "MQTT_PORT=\"0\" (from environment): the number is out of range; expected a whole number from 1 to 65535"),
        ("MQTT_QOS", "3", "MQTT_QOS=\"3\" (from environment): the number is out of range; expected a whole number from 0 to 2"),
        ("MQTT_PROTOCOL", "4", "MQTT_PROTOCOL=\"4\" (from environment): unknown MQTT version; expected 3.1.1 or 5"),
        ("MQTT_KEEPALIVE_S", "1", "MQTT_KEEPALIVE_S=\"1\" (from environment): the number is out of range; expected a whole number from 5 to 65535"),
        ("MQTT_TOPIC", "meters/+/telemetry", "MQTT_TOPIC=\"meters/+/telemetry\" (from environment): it is empty, too long or has a wildcard (+ #) or a control character; expected an MQTT topic without + or #, with {device_id} for the meter, e.g. meters/{device_id}/telemetry"),
        ("MQTT_STATUS_TOPIC", "m/{id}/status", "MQTT_STATUS_TOPIC=\"m/{id}/status\" (from environment): it has a placeholder other than {device_id}; expected an MQTT topic without + or #, with {device_id} for the meter, e.g. meters/{device_id}/status"),
        ("MQTT_CLIENT_ID", "has space", "MQTT_CLIENT_ID=\"has space\" (from environment): it is empty, too long or has spaces or control characters; expected a name unique on the broker, e.g. dlms-bridge-{device_id}"),
        ("MQTT_TLS_CA", "/nonexistent/ca.pem", "MQTT_TLS_CA=\"/nonexistent/ca.pem\" (from environment): no such file or directory, or not readable; expected a PEM file of CA certificates or a directory of hashed certificates"),
        ("MQTT_TLS_CERT", "/x.pem", "MQTT_TLS_CERT=\"/x.pem\" (from environment): it is set but TLS is off; expected MQTT_TLS_CA (or MQTT_PORT=8883) to turn TLS on"),
        ("MQTT_PASSWORD", "hunter2", "MQTT_PASSWORD=\"********\" (from environment): it is set without MQTT_USERNAME; expected MQTT_USERNAME as well"),
        ("SPOOL_MAX_BYTES", "12X", "SPOOL_MAX_BYTES=\"12X\" (from environment): it is not a size; expected a size from 64K to 1T: bytes, or a number with K, M or G (powers of 1024), e.g. 64M"),
        ("SPOOL_MAX_BYTES", "1K", "SPOOL_MAX_BYTES=\"1K\" (from environment): the size is out of range; expected a size from 64K to 1T: bytes, or a number with K, M or G (powers of 1024), e.g. 64M"),
        ("SPOOL_COMMIT_INTERVAL_MS", "-5", "SPOOL_COMMIT_INTERVAL_MS=\"-5\" (from environment): the number is out of range; expected a whole number from 0 to 60000"),
        ("SPOOL_MAX_AGE_S", "x", "SPOOL_MAX_AGE_S=\"x\" (from environment): it is not a whole number; expected a whole number from 0 to 315360000"),
        ("REPLAY_RATE", "0", "REPLAY_RATE=\"0\" (from environment): the number is out of range; expected a whole number from 1 to 10000"),
        ("HEALTH_INTERVAL_S", "0.5", "HEALTH_INTERVAL_S=\"0.5\" (from environment): it is below one second; expected 0 (no health messages) or 1 to 86400"),
        ("UNIT_CODES", "legacy", "UNIT_CODES=\"legacy\" (from environment): unknown unit code table; expected standard (IEC 62056-6-2 codes, volt = 35) or prototype (the Python prototype's codes, volt = 32)"),
    ])
    func invalidValuesAreRejectedWithNameProblemAndExpectation(name: String, value: String, message: String) {
        let e = error(minimal.merging([name: value]) { $1 })
        #expect(e?.description == message)
        #expect(ConfigError.exitStatus == 2)
    }

    @Test(arguments: [
        (["DLMS_SERIAL_DEVICE": "ttyUSB0"], "DLMS_SERIAL_DEVICE=\"ttyUSB0\" (from environment): it is not an absolute path; expected the optical probe's device, e.g. /dev/ttyUSB0 or /dev/serial/by-id/..."),
        (["DLMS_SERIAL_DEVICE": "/dev/ttyS0", "DLMS_BAUD": "1000"], "DLMS_BAUD=\"1000\" (from environment): it is not a standard serial rate; expected one of 300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200"),
        (["DLMS_SERIAL_DEVICE": "/dev/ttyS0", "DLMS_MODE_E": "e"], "DLMS_MODE_E=\"e\" (from environment): it is not a boolean; expected true or false (also 1/0, yes/no, on/off)"),
        (["DLMS_ADDRESS_SIZE": "2", "DLMS_SERVER_PHYSICAL": "1234"], "DLMS_SERVER_PHYSICAL=\"1234\" (from environment): the number is out of range; expected a whole number from 0 to 127 with DLMS_ADDRESS_SIZE=2"),
        (["DLMS_ADDRESS_SIZE": "1", "DLMS_SERVER_LOGICAL": "1"], "DLMS_SERVER_LOGICAL=\"1\" (from environment): the number is out of range; expected a whole number from 0 to 0 with DLMS_ADDRESS_SIZE=1"),
        (["MQTT_PORT": "8883", "MQTT_TLS_VERSION": "sslv3"], "MQTT_TLS_VERSION=\"sslv3\" (from environment): unsupported minimum TLS version; expected tlsv1.2 or tlsv1.3"),
        (["MQTT_PORT": "8883", "MQTT_TLS_INSECURE": "sure"], "MQTT_TLS_INSECURE=\"sure\" (from environment): it is not a boolean; expected true or false (also 1/0, yes/no, on/off)"),
        (["MQTT_PORT": "8883", "MQTT_TLS_KEY": "/nonexistent.key"], "MQTT_TLS_KEY=\"/nonexistent.key\" (from environment): no such file, or not readable; expected a readable PEM file"),
    ])
    func invalidCombinations(overrides: [String: String], message: String) {
        #expect(error(minimal.merging(overrides) { $1 })?.description == message)
    }

    @Test func certificateWithoutKeyIsRefused() throws {
        let f = try tlsFiles()
        let e = error(minimal.merging(["MQTT_TLS_CA": f.ca, "MQTT_TLS_CERT": f.cert]) { $1 })
        #expect(e?.description == "MQTT_TLS_CERT=\"\(f.cert)\" (from environment): it is set without its pair; "
            + "expected both MQTT_TLS_CERT and MQTT_TLS_KEY (client certificate and its private key) or neither")
    }

    @Test func missingRequiredSettings() {
        #expect(error(["DLMS_HOST": "h"])?.description == "DEVICE_ID: it is not set; expected a name unique to this "
            + "meter, e.g. DEVICE_ID=microstar-001 (it names the MQTT topics)")
        #expect(error(["DEVICE_ID": "d"])?.variable == "DLMS_HOST")
    }

    @Test func measurementsAreCheckedAgainstTheCatalogAndAcceptCommaLists() throws {
        let c = try load(minimal.merging(["DLMS_MEASUREMENTS": "voltage_l1, frequency"]) { $1 })
        #expect(c.meters[0].measurements == ["voltage_l1", "frequency"])
        do {
            _ = try load(minimal.merging(["DLMS_MEASUREMENTS": "[\"volts\"]"]) { $1 }, known: ["voltage_l1", "current_l1"])
            Issue.record("an unknown measurement was accepted")
        } catch {
            #expect(error.problem == "\"volts\" is not in the meter catalog")
            #expect(error.expected == "names among: current_l1, voltage_l1")
        }
    }

    @Test func multiMeterFile() throws {
        let file = """
            # gateway settings, and defaults for every meter
            MQTT_HOST=broker.lan
            DLMS_PASSWORD=22222222
            POLL_PERIOD_S=10

            [meter microstar-001]
            DLMS_HOST=192.168.5.177

            [meter]   # the name may also come from DEVICE_ID
            DEVICE_ID=microstar-002
            DLMS_SERIAL_DEVICE=/dev/ttyUSB0
            DLMS_PASSWORD=00000000
            POLL_PERIOD_S=2.5
            """
        let c = try load(["DLMS_HOST": "10.9.9.9"], file: file)
        #expect(c.meters.map(\.deviceID) == ["microstar-001", "microstar-002"])
        #expect(c.meters[0].transport == .tcp(host: "192.168.5.177", port: 3333))  // the section beats the environment
        #expect(c.meters[0].password?.reveal() == "22222222" && c.meters[0].pollPeriodMilliseconds == 10_000)
        #expect(c.meters[1].transport == .serial(path: "/dev/ttyUSB0", baudRate: 9600, modeE: true))
        #expect(c.meters[1].password?.reveal() == "00000000" && c.meters[1].pollPeriodMilliseconds == 2500)
        #expect(c.mqtt.host == "broker.lan")
        #expect(c.mqtt.clientID == "dlms-bridge-microstar-001")
    }

    @Test func multiMeterFileErrorsNameTheLineAndSection() {
        let gatewayInSection = error([:], file: "[meter a]\nDLMS_HOST=h\nMQTT_HOST=b\n")
        #expect(gatewayInSection?.description == "MQTT_HOST (from meters.conf line 3 [meter a]): it is a gateway-wide "
            + "setting; expected it before the first [meter] section (meter sections hold DEVICE_ID, DLMS_*, "
            + "POLL_PERIOD_S, MAX_CONSEC_ERRORS and MAX_POWER_W)")
        #expect(error([:], file: "[meter a]\nDLMS_HOST=h\n[meter a]\nDLMS_HOST=i\n")?.problem == "two meters have this id")
        #expect(error([:], file: "[gateway]\n")?.problem == "unknown section")
        #expect(error([:], file: "[meter a\n")?.problem == "the section header is not closed")
        #expect(error([:], file: "[meter a]\nDLMS_HOST=h\nDLMS_PORT=x\n")?.origin == "meters.conf line 3 [meter a]")
        #expect(error([:], file: "FOO=1\n")?.problem == "unknown variable")
    }

    @Test func secretsAreMaskedInEveryRendering() throws {
        let c = try load(
            minimal.merging(["DLMS_PASSWORD": "22222222", "MQTT_USERNAME": "u", "MQTT_PASSWORD": "topsecret"]) { $1 })
        let text = c.maskedDescription
        #expect(!text.contains("22222222") && !text.contains("topsecret"))
        #expect(text.contains("DLMS_PASSWORD=********") && text.contains("MQTT_PASSWORD=********"))
        #expect(!"\(c)".contains("22222222") && !String(reflecting: c).contains("topsecret"))
        // The rendering reads back as a configuration file with the same settings (secrets aside).
        let reread = try load([:], file: text.replacingOccurrences(of: "********", with: "x"))
        #expect(reread.meters[0].transport == c.meters[0].transport && reread.mqtt.clientID == c.mqtt.clientID)
        #expect(reread.spool == c.spool && reread.healthIntervalMilliseconds == c.healthIntervalMilliseconds)
    }

    @Test func loadFromSystemReadsNamedFilesAndRefusesMissingOnes() throws {
        let f = try tlsFiles()
        let path = f.dir + "/bridge.env"
        try "DEVICE_ID=sys\nDLMS_HOST=1.2.3.4\n".write(toFile: path, atomically: true, encoding: .utf8)
        let c = try ConfigurationLoader.loadFromSystem(envFile: path)
        #expect(c.meters[0].deviceID == "sys" || ProcessInfo.processInfo.environment["DEVICE_ID"] != nil)
        do {
            _ = try ConfigurationLoader.loadFromSystem(envFile: f.dir + "/missing.env")
            Issue.record("a missing --env-file was accepted")
        } catch {
            #expect(error.description.contains("missing.env") && error.problem.contains("No such file"))
        }
    }
}
