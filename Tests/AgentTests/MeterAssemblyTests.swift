import Foundation
import Log
import MeterLink
import Testing

@testable import Agent

/// `run`'s start-up wiring (MeterAssembly), from a configuration file as `run` loads it: readers, shared serial
/// lines, stores and leases, before anything is sent to a meter.
@Suite struct MeterAssemblyTests {
    private let quiet = Logger(label: "test", factory: { _ in NoOpLogHandler() })

    private func tempDir() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("assembly-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    private func load(_ text: String) throws -> AgentConfiguration {
        try ConfigurationLoader.load(environment: [:], configFile: ConfigText(name: "meters.conf", text: text),
                                     knownMeasurements: Set(MeasurementCatalog.standard.keys))
    }

    @Test func sharedLinesAreThePortsSeveralMetersName() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try load("""
            SPOOL_DIR=\(dir)
            DLMS_PASSWORD=22222222
            DLMS_MODE_E=false
            [meter a]
            DLMS_SERIAL_DEVICE=/dev/ttyUSB7
            DLMS_SERVER_PHYSICAL=1
            [meter b]
            DLMS_HOST=10.0.0.5
            [meter c]
            DLMS_SERIAL_DEVICE=/dev/ttyUSB7
            DLMS_SERVER_PHYSICAL=2
            [meter d]
            DLMS_SERIAL_DEVICE=/dev/ttyUSB8
            """)
        let shared = MeterAssembly.sharedSerialLines(config.meters)
        #expect(shared.map(\.device) == ["/dev/ttyUSB7"] && shared.map(\.meters) == [2])

        let meters = try MeterAssembly.meters(config, catalog: .standard, logger: quiet)
        #expect(meters.map(\.configuration.deviceID) == ["a", "b", "c", "d"])
        // Every spool was created and is empty; no port was opened (the ports do not exist here).
        for id in ["a", "b", "c", "d"] {
            var isDirectory: ObjCBool = false
            #expect(FileManager.default.fileExists(atPath: dir + "/" + id, isDirectory: &isDirectory) && isDirectory.boolValue)
        }
        #expect(meters.allSatisfy { $0.store.depth.pendingReadings == 0 })
    }

    @Test func aSecuredMeterGetsItsLeaseBesideItsSpool() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try load("""
            SPOOL_DIR=\(dir)
            [meter secure]
            DLMS_HOST=10.0.0.6
            DLMS_SECURITY=auth-enc
            DLMS_AUTH=hls-gmac
            DLMS_EK=000102030405060708090A0B0C0D0E0F
            DLMS_AK=D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF
            DLMS_SYSTEM_TITLE=4D4D4D0000000001
            [meter plain]
            DLMS_HOST=10.0.0.7
            DLMS_PASSWORD=22222222
            """)
        _ = try MeterAssembly.meters(config, catalog: .standard, logger: quiet)
        #expect(FileManager.default.fileExists(atPath: dir + "/secure/invocation-counter"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/plain/invocation-counter"))
    }

    @Test func aSpoolThatCannotBeOpenedIsASystemErrorNamingTheMeter() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A file where the meter's spool directory must go.
        FileManager.default.createFile(atPath: dir + "/m1", contents: Data("x".utf8))
        let config = try load("SPOOL_DIR=\(dir)\n[meter m1]\nDLMS_HOST=10.0.0.5\nDLMS_PASSWORD=22222222\n")
        do {
            _ = try MeterAssembly.meters(config, catalog: .standard, logger: quiet)
            Issue.record("a spool path that is a file must be refused")
        } catch {
            #expect(error.exitStatus == 1)
            #expect(error.description.contains("cannot open the spool of meter m1 under SPOOL_DIR=\(dir)"), "\(error.description)")
        }
    }
}
