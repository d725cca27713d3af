import Agent
import Log
import MeterLink
import Platform
import Uplink

import CLibc

/// `dlms-bridge run`: the agent users deploy.
struct RunCommand {
    static let spec = CommandSpec(
        name: "run",
        abstract: "Poll meters, keep every reading on flash, and publish it to the MQTT broker over TLS.",
        discussion: """
            Configuration: the prototype's variables (DLMS_HOST, DLMS_PORT, DLMS_CLIENT_SAP, DLMS_SERVER_LOGICAL,
            DLMS_SERVER_PHYSICAL, DLMS_PASSWORD, DLMS_MEASUREMENTS, MQTT_HOST, MQTT_PORT, MQTT_CLIENT_ID, MQTT_TOPIC,
            DEVICE_ID, POLL_PERIOD_S, MAX_CONSEC_ERRORS, VERBOSE) plus TLS, spool and serial settings, from the
            environment, a .env file, or a configuration file with one [meter] section per meter. Every variable
            is listed in docs/configuration.md.
            Signals: SIGTERM/SIGINT stop cleanly (release the meters, flush the spool, disconnect); SIGHUP reloads
            the TLS certificates. Exit status 2: the configuration is invalid (the message names the variable).
            """,
        options: [
            .value("env-file", "path", "A .env file (default: ./.env when present)."),
            .value("config", "path", "A configuration file with [meter] sections (or $DLMS_BRIDGE_CONFIG)."),
            .flag("print-config", "Print the effective configuration (secrets masked) and exit."),
            .flag("check-config", "Validate the configuration and exit (0 valid, 2 invalid)."),
        ])

    var envFile: String?
    var configFile: String?
    var printConfig = false
    var checkConfig = false

    static func main(_ arguments: ArraySlice<String>) -> Never {
        runCommand(spec, arguments) { a throws(UsageError) in
            RunCommand(envFile: a.string("env-file"), configFile: a.string("config"),
                       printConfig: a.flag("print-config"), checkConfig: a.flag("check-config")).run()
        }
    }

    func run() {
        // Before any thread starts: signals go to the signal thread only.
        SignalThread.blockSignals()
        let catalog = MeasurementCatalog.standard
        let config: AgentConfiguration
        do {
            config = try ConfigurationLoader.loadFromSystem(
                envFile: envFile, configFile: configFile, knownMeasurements: Set(catalog.keys))
        } catch {
            fail("invalid configuration: \(error.description)", code: ConfigError.exitStatus)
        }
        if printConfig {
            print(config.maskedDescription, terminator: "")
            return
        }
        let environment = ConfigurationLoader.processEnvironment()
        JournalLogHandler.bootstrap(verbose: config.verbose, environment: environment)
        let logger = Logger(label: "dlms-bridge")

        // Before any socket or spool file is opened: a limit too low for this many meters is refused now, with
        // the fix, instead of failing meter by meter later.
        do { try DescriptorBudget.ensure(meters: config.meters.count) } catch {
            fail("cannot run this configuration: \(error.description)", code: ConfigError.exitStatus)
        }

        // Meters: the link and the spool of each (the agent's own wiring, as its tests use it).
        let meters: [AgentRuntime.Meter]
        do { meters = try MeterAssembly.meters(config, catalog: catalog, logger: logger) } catch {
            fail(error.description, code: error.exitStatus)
        }
        if checkConfig {
            print("configuration valid: \(config.meters.count) meter(s), broker \(config.mqtt.host):\(config.mqtt.port)")
            return
        }

        // The uplink.
        let mqttSettings = MQTTSettings(config.mqtt, firstDeviceID: config.meters[0].deviceID)
        let client: MQTTClient
        do { client = try MQTTClient(settings: mqttSettings, logger: Logger(label: "dlms-bridge.uplink")) } catch {
            fail("invalid MQTT settings: \(error.description)", code: ConfigError.exitStatus)
        }
        if mqttSettings.tls?.insecure == true {
            logger.warning("MQTT_TLS_INSECURE=true: the broker's host name is NOT checked; anyone with a certificate from the same CA can impersonate it")
        }

        let notifier = SystemdNotifier(environment: environment)
        let watchdog = notifier.flatMap { n in SystemdNotifier.watchdogInterval(environment: environment).map { (n, $0) } }
        let publisher = UplinkPublisher(client: client)
        // Home Assistant discovery: on with HA_DISCOVERY; off, it still clears the configs an earlier run left.
        let announcer = HomeAssistantAnnouncer(
            configuration: config, catalog: catalog, softwareVersion: DLMSBridge.version, publisher: publisher,
            stateDirectory: config.spool.directory, logger: Logger(label: "dlms-bridge.homeassistant"))
        let runtime = AgentRuntime(configuration: config, meters: meters, publisher: publisher,
                                   logger: Logger(label: "dlms-bridge.agent"), watchdog: watchdog,
                                   homeAssistant: announcer.isActive ? announcer : nil)
        let pump = UplinkEventPump(client: client, runtime: runtime, logger: Logger(label: "dlms-bridge.uplink"))
        let signals = BlockingQueue<AgentSignal>()
        let signalThread: SignalThread
        do throws(SystemError) {
            signalThread = try SignalThread.start { signals.push($0) }
            try pump.start()
        } catch {
            fail("cannot start: \(error)", code: 1)
        }
        do { try client.start() } catch { fail("cannot start: \(error)", code: 1) }
        do { try runtime.start() } catch { fail("cannot start: \(error)", code: 1) }
        let ids = config.meters.map { $0.deviceID }.joined(separator: ", ")
        logger.notice("dlms-bridge running: \(config.meters.count) meter(s) [\(ids)], broker \(mqttSettings.broker)\(mqttSettings.tls == nil ? " (plain TCP)" : " (TLS)"), spool \(config.spool.directory)")
        try? notifier?.ready(status: "polling \(config.meters.count) meter(s)")

        // The main thread waits for signals.
        while let signal = signals.pop(deadline: nil) {
            switch signal {
            case .reload:
                try? notifier?.reloading()
                do {
                    try client.reloadCertificates()
                    logger.notice("SIGHUP: TLS certificates reloaded")
                } catch {
                    logger.error("SIGHUP: certificates not reloaded, the old ones stay in use: \(error.description)")
                }
                try? notifier?.ready(status: "polling \(config.meters.count) meter(s)")
            case let .stop(number):
                logger.notice("signal \(number): stopping (the poll in flight finishes or gives up, the meters are released, the spool is flushed)")
                try? notifier?.stopping()
                runtime.stop()
                let clean = client.stop(timeoutMilliseconds: 5000)
                pump.stop()
                signalThread.stop()
                logger.notice(clean ? "stopped cleanly" : "stopped; the broker connection did not close in time (unacknowledged readings stay in the spool)")
                return
            }
        }
    }
}
