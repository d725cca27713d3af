import Platform
import Testing

@testable import MeterLink
@testable import MeterSimulator

/// Several meters on one serial line: a simulated bus (one pty, one simulated meter per physical address)
/// and `SharedSerialLine`, which opens the port once for all the meters' sessions.
@Suite(.serialized) struct SharedSerialLineTests {
    static func session(_ line: SharedSerialLine, physical: UInt16, timeout: Int64 = 400) -> MeterSession {
        var s = MeterSettings(endpoint: .serial(path: line.path, baudRate: 9600, modeE: false), profile: .microstar,
                              password: Secret("22222222"))
        s.serverPhysical = physical
        s.addressSize = .fixed(.one)
        s.responseTimeoutMilliseconds = timeout
        s.connectTimeoutMilliseconds = 2000
        s.retries = 1
        return MeterSession(settings: s, transportFactory: { _, deadline throws(LinkError) -> any ByteTransport in
            try line.attach(deadline: deadline)
        })
    }

    static let voltage = Array(MeasurementCatalog.standard.measurements.filter { $0.key == "voltage_l1" })

    static func readsVoltage(_ session: MeterSession, on line: SharedSerialLine) -> Bool {
        line.withTurn { () -> Bool in
            do {
                if !session.isAssociated { try session.open() }
                let results = try session.read(voltage)
                if case .reading = results.first { return true }
                return false
            } catch {
                return false
            }
        }
    }

    @Test func twoLiveMetersAndADeadOneShareOnePortOpenedOnce() throws {
        let server = SimulatorServer(configuration: SimulatorConfiguration(), physicalAddresses: [1, 2])
        defer { server.stop() }
        let path = try server.serveSerial(modeE: false)
        let line = SharedSerialLine(path: path, baudRate: 9600, modeE: false)
        let one = Self.session(line, physical: 1)
        let two = Self.session(line, physical: 2)
        let dead = Self.session(line, physical: 3, timeout: 150)

        for _ in 0..<3 {
            #expect(Self.readsVoltage(one, on: line))
            #expect(!Self.readsVoltage(dead, on: line), "nobody answers at address 3")
            #expect(Self.readsVoltage(two, on: line))
        }
        // The port was opened once (a second exclusive open would have failed as busy), and the dead meter's
        // failed attempts released only its own use of it.
        #expect(line.openings == 1)
        #expect(line.users == 2)
        #expect(one.isAssociated && two.isAssociated && !dead.isAssociated)

        // One meter's close (release, DISC) leaves the other's association working.
        line.withTurn { one.close() }
        #expect(line.users == 1)
        #expect(Self.readsVoltage(two, on: line))
        // The last use closes the port; the next meter's turn opens it again.
        line.withTurn { two.close() }
        #expect(line.users == 0)
        #expect(Self.readsVoltage(one, on: line))
        #expect(line.openings == 2)
        line.withTurn { one.close() }
        #expect(server.counters.framesForOtherAddresses > 0, "each simulated meter saw the others' frames and kept quiet")
    }

    /// Two meter threads polling back to back on one line: their turns never interleave, so every read of each
    /// succeeds (without the turns, one meter's session would swallow the other's answers and time out).
    @Test func concurrentMetersTakeTurns() throws {
        let server = SimulatorServer(configuration: SimulatorConfiguration(), physicalAddresses: [1, 2])
        defer { server.stop() }
        let path = try server.serveSerial(modeE: false)
        let line = SharedSerialLine(path: path, baudRate: 9600, modeE: false)
        let failures = Locked<[UInt16]>([])
        var threads: [PlatformThread] = []
        // Both meters associate first, so the line stays open until the second one is done (with a thread
        // finishing before the other started, the port would close and open again between them).
        let meters = [UInt16(1), 2].map { SessionBox(Self.session(line, physical: $0)) }
        for meter in meters { #expect(Self.readsVoltage(meter.session, on: line)) }
        for (meter, physical) in zip(meters, [UInt16(1), 2]) {  // each used by its thread only from here
            threads.append(try PlatformThread.spawn(name: "meter \(physical)") {
                for _ in 0..<15 where !Self.readsVoltage(meter.session, on: line) {
                    failures.withLock { $0.append(physical) }
                }
                line.withTurn { meter.session.close() }
            })
        }
        for thread in threads { thread.join() }
        #expect(failures.withLock { $0 } == [])
        #expect(line.openings == 1 && line.users == 0)
    }

    /// A port that vanished (unplugged probe) is closed for every meter and opened again at the next use.
    @Test func aVanishedPortIsReopenedForEveryMeter() throws {
        let ports = Locked<[FakePort]>([])
        let line = SharedSerialLine(path: "/dev/ttyFAKE", baudRate: 9600, modeE: false) { path, _, _, _ throws(LinkError) -> any ByteTransport in
            let port = FakePort(path)
            ports.withLock { $0.append(port) }
            return port
        }
        let a = try line.attach(deadline: .after(milliseconds: 100))
        let b = try line.attach(deadline: .after(milliseconds: 100))
        #expect(line.openings == 1 && line.users == 2)
        ports.withLock { $0[0].failure = LinkError.vanished("/dev/ttyFAKE", "gone") }
        var buffer = [UInt8](repeating: 0, count: 8)
        #expect(throws: LinkError.self) { _ = try a.read(into: &buffer, deadline: .after(milliseconds: 10)) }
        #expect(!a.isOpen && !b.isOpen, "every meter's use sees the port gone")
        a.close()
        b.close()
        let c = try line.attach(deadline: .after(milliseconds: 100))
        #expect(line.openings == 2 && line.users == 1 && c.isOpen)
        // Stale bytes on the line are thrown away before a meter's turn.
        ports.withLock { $0[1].pending = 5 }
        line.withTurn { #expect(ports.withLock { $0[1].pending } == 0) }
        c.close()
        #expect(line.users == 0 && !ports.withLock { $0[1].isOpen })
    }
}

final class SessionBox: @unchecked Sendable {
    let session: MeterSession
    init(_ session: MeterSession) { self.session = session }
}

final class FakePort: ByteTransport, @unchecked Sendable {
    let peerDescription: String
    var counters = TransportCounters()
    var isOpen = true
    var failure: LinkError?
    var pending = 0

    init(_ path: String) { peerDescription = path }

    func read(into buffer: UnsafeMutableRawBufferPointer, deadline: Deadline) throws(LinkError) -> Int {
        if let failure { throw failure }
        throw LinkError.timeout(peerDescription, waitingFor: "data", milliseconds: 10)
    }

    func write(_ bytes: UnsafeRawBufferPointer, deadline: Deadline) throws(LinkError) {
        if let failure { throw failure }
    }

    func discardInput() -> Int {
        defer { pending = 0 }
        return pending
    }

    func reopen(deadline: Deadline) throws(LinkError) {}
    func close() { isOpen = false }
}
