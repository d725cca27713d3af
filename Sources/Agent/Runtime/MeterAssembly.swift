import Log
import MeterLink
import Platform

/// Why the gateway's meters could not be assembled, and the exit status `run` reports it with.
public struct AssemblyError: Error, Sendable, CustomStringConvertible {
    /// What is wrong and what to do, naming the meter.
    public var description: String
    /// 2: the configuration (`ConfigError.exitStatus`); 1: the system (a spool or lease that cannot be opened).
    public var exitStatus: Int32

    public init(_ description: String, exitStatus: Int32) {
        self.description = description
        self.exitStatus = exitStatus
    }
}

/// What `run` builds before anything starts: each meter's link (its serial line shared with the meters that
/// name the same port, its invocation-counter lease when secured) and its spool. Here rather than in the
/// command so that a Swift test reaches the same wiring `run` uses, and `spool-recover` the same store.
public enum MeterAssembly {
    /// The serial ports that several meters name, with their meter counts, in configuration order.
    public static func sharedSerialLines(_ meters: [MeterConfiguration]) -> [(device: String, meters: Int)] {
        var users: [String: Int] = [:]
        var order: [String] = []
        for m in meters {
            guard case let .serial(device, _, _) = m.transport else { continue }
            if users[device] == nil { order.append(device) }
            users[device, default: 0] += 1
        }
        return order.compactMap { device in
            let n = users[device, default: 0]
            return n > 1 ? (device, n) : nil
        }
    }

    /// Opens one meter's store: the only way `run` and `spool-recover` open what the agent keeps on flash, so
    /// the power-loss checker exercises exactly the recovery `run` performs.
    public static func openStore(_ settings: SpoolSettings, meter: MeterConfiguration) throws(StoreFailure) -> SpoolReadingStore {
        let runtimeDirectory = ConfigurationLoader.processEnvironment()["RUNTIME_DIRECTORY"]
        return try SpoolReadingStore.open(settings, deviceID: meter.deviceID, volatileDirectory: runtimeDirectory ?? "/dev/shm")
    }

    /// Every configured meter with its reader and its store, in configuration order. Nothing is sent to a
    /// meter yet (a serial port is opened at the first poll); the spools are recovered and the leases written.
    public static func meters(
        _ config: AgentConfiguration, catalog: MeasurementCatalog, logger: Logger
    ) throws(AssemblyError) -> [AgentRuntime.Meter] {
        // Meters that name the same DLMS_SERIAL_DEVICE share one line: the port opened once, polled in turn.
        let lines = SerialLineRegistry()
        let shared = sharedSerialLines(config.meters)
        for (device, count) in shared {
            logger.info("serial line \(device) is shared by \(count) meters: opened once, polled in turn")
        }
        var meters: [AgentRuntime.Meter] = []
        for m in config.meters {
            let meterLogger = Logger(label: "dlms-bridge.meter")
            var trace: FrameTrace? = nil
            if config.verbose {
                let id = m.deviceID
                trace = { direction, text in
                    meterLogger.debug("\(direction.rawValue) \(text)", metadata: ["device_id": "\(id)"])
                }
            }
            var line: SharedSerialLine? = nil
            if case let .serial(device, baud, modeE) = m.transport, shared.contains(where: { $0.device == device }) {
                line = lines.line(path: device, baudRate: baud, modeE: modeE)
            }
            // A secured meter's invocation counter lease lives beside its spool: opened (and proven writable) now.
            var lease: SpoolCounterLease? = nil
            if m.security != nil {
                do { lease = try SpoolCounterLease(root: config.spool.directory, deviceID: m.deviceID) } catch {
                    throw AssemblyError("meter \(m.deviceID): \(error.description)", exitStatus: 1)
                }
            }
            let health = MeterHealthRecorder(m)
            let reader: MeterLinkReader
            do {
                reader = try MeterLinkReader(meter: m, catalog: catalog, logger: meterLogger, health: health, trace: trace,
                                             line: line, counterLease: lease)
            } catch {
                throw AssemblyError("invalid configuration for meter \(m.deviceID): \(error.description)",
                                    exitStatus: ConfigError.exitStatus)
            }
            let store: SpoolReadingStore
            do { store = try openStore(config.spool, meter: m) } catch {
                throw AssemblyError(
                    "cannot open the spool of meter \(m.deviceID) under SPOOL_DIR=\(config.spool.directory): \(error.description)",
                    exitStatus: 1)
            }
            meters.append(AgentRuntime.Meter(configuration: m, reader: reader, store: store, health: health))
        }
        return meters
    }
}
