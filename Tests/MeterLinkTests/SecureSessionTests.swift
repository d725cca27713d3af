import COSEM
import Platform
import Testing

@testable import MeterLink
@testable import MeterSimulator

/// The meter session against the simulated meter secured with suite 0 (LLS or HLS-GMAC with ciphering),
/// over real loopback TCP.
@Suite(.serialized) struct SecureSessionTests {
    static let ek = SecurityKey(hex: "000102030405060708090A0B0C0D0E0F")!
    static let ak = SecurityKey(hex: "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")!
    static let dk = SecurityKey(hex: "00112233445566778899AABBCCDDEEFF")!
    static let clientTitle = SystemTitle(hex: "4D4D4D0000BC614E")!
    static let registers = Array(MeasurementCatalog.standard.measurements.filter { $0.kind == .register }.prefix(3))

    final class Bench {
        let server: SimulatorServer
        let port: UInt16
        let security: SimulatorSecurity
        init(sc: SecurityControl = .authenticatedEncrypted, auth: SecureAuthentication = .hlsGMAC,
             faults: SimulatorFaults = .none) throws {
            var configuration = SimulatorConfiguration()
            security = SimulatorSecurity(security: sc, authentication: auth,
                                         keys: SecurityKeys(encryption: SecureSessionTests.ek, authentication: SecureSessionTests.ak))
            configuration.security = security
            server = SimulatorServer(configuration: configuration, faults: faults)
            port = try server.listen(host: "127.0.0.1", port: 0).port
        }
        deinit { server.stop() }

        func settings(sc: SecurityControl = .authenticatedEncrypted, auth: SecureAuthentication = .hlsGMAC,
                      ek: SecurityKey = SecureSessionTests.ek, dedicated: SecurityKey? = nil,
                      frameCounter: ObisCode? = nil) -> MeterSettings {
            var s = MeterSettings(endpoint: .tcp(host: "127.0.0.1", port: port), profile: .microstar,
                                  password: Secret(auth == .lls ? "22222222" : ""))
            s.responseTimeoutMilliseconds = 400
            s.connectTimeoutMilliseconds = 2000
            s.security = MeterSecurity(
                security: sc, authentication: auth,
                keys: SecurityKeys(encryption: ek, authentication: SecureSessionTests.ak, dedicated: dedicated),
                clientSystemTitle: SecureSessionTests.clientTitle, frameCounter: frameCounter, leaseBlock: 10)
            return s
        }
    }

    static func expectReadings(_ results: [MeasurementResult]) {
        #expect(results.count == registers.count)
        for r in results {
            guard case .reading = r else {
                Issue.record("\(r.measurement.key) failed: \(r)")
                continue
            }
        }
    }

    @Test(arguments: [
        (UInt8(0x30), SecureAuthentication.hlsGMAC), (0x10, .hlsGMAC), (0x20, .hlsGMAC),
        (0x30, .lls), (0x10, .lls), (0x20, .lls), (0x30, .none),
    ])
    func readsInEveryMode(sc: UInt8, auth: SecureAuthentication) throws {
        let control = SecurityControl(rawValue: sc)
        let bench = try Bench(sc: control, auth: auth)
        let lease = InMemoryCounterLease()
        let session = MeterSession(settings: bench.settings(sc: control, auth: auth), counterLease: lease)
        try session.open()
        Self.expectReadings(try session.read(Self.registers))
        Self.expectReadings(try session.read(Self.registers))
        session.close()
        #expect(session.counters.securityFaults == 0)
        #expect(bench.security.state.ivReuses == 0)
        #expect(bench.security.state.ivCount >= 3)
        // The lease was stored before the first counter was used, and covers every counter used.
        let leaseEnd = try #require(lease.leaseEnd)
        #expect(UInt32(bench.security.state.lastClientCounter ?? 0) <= leaseEnd)
    }

    @Test func dedicatedKeyIsProposedAndUsed() throws {
        let bench = try Bench()
        let session = MeterSession(settings: bench.settings(dedicated: Self.dk))
        try session.open()
        defer { session.close() }
        Self.expectReadings(try session.read(Self.registers))
        // General protection granted: general-ded-ciphering (DC) with the dedicated key.
        #expect(session.cipher?.form() == CipheringForm(general: true, dedicated: true))
    }

    @Test func generalGloIsUsedWhenGrantedAndServiceSpecificOtherwise() throws {
        let bench = try Bench()
        let session = MeterSession(settings: bench.settings())
        try session.open()
        Self.expectReadings(try session.read(Self.registers))
        #expect(session.cipher?.form() == CipheringForm(general: true, dedicated: false))
        session.close()
        // A meter without general protection: glo- service-specific tags (C8/CC) both ways.
        var configuration = SimulatorConfiguration()
        configuration.security = SimulatorSecurity(keys: SecurityKeys(encryption: Self.ek, authentication: Self.ak))
        configuration.security!.grantsGeneralProtection = false
        let server = SimulatorServer(configuration: configuration)
        defer { server.stop() }
        var settings = bench.settings()
        settings.endpoint = .tcp(host: "127.0.0.1", port: try server.listen(host: "127.0.0.1", port: 0).port)
        let glo = MeterSession(settings: settings)
        try glo.open()
        defer { glo.close() }
        Self.expectReadings(try glo.read(Self.registers))
        #expect(glo.cipher?.form() == CipheringForm(general: false, dedicated: false))
    }

    @Test func wrongKeyIsRejectedClearly() throws {
        let bench = try Bench()
        let session = MeterSession(settings: bench.settings(ek: Self.dk))
        let error = try #require(throws: MeterError.self) { try session.open() }
        #expect(error.kind == .security || error.kind == .associationRejected || error.kind == .protocolError)
        #expect(error.description.contains("DLMS_EK"), "\(error)")
        #expect(!error.description.contains("00112233"))
    }

    @Test(arguments: ["wrong-tag", "replay-reply", "stale-counter"])
    func replyFaultsAreCountedNeverRead(fault: String) throws {
        let bench = try Bench()
        let session = MeterSession(settings: bench.settings())
        try session.open()
        Self.expectReadings(try session.read(Self.registers))
        bench.server.faults = try SimulatorFaults(parsing: [fault])
        let error = try #require(throws: MeterError.self) { try session.read(Self.registers) }
        #expect(error.kind == .security)
        #expect(session.counters.securityFaults == 1)
        let expected = fault == "wrong-tag" ? "authentication tag" : "not above the last accepted"
        #expect(error.description.contains(expected), "\(error)")
    }

    @Test func impostorMeterFailsHLSPass4() throws {
        let bench = try Bench(faults: try SimulatorFaults(parsing: ["wrong-f-ctos"]))
        let session = MeterSession(settings: bench.settings())
        let error = try #require(throws: MeterError.self) { try session.open() }
        #expect(error.kind == .security)
        #expect(error.description.contains("the meter it claims to be"), "\(error)")
        #expect(!session.isAssociated)
    }

    @Test func frameCounterIsReadThroughThePublicClient() throws {
        let bench = try Bench()
        // An earlier client already used counters up to 500 with this title.
        bench.security.state.accepted(clientCounter: 500)
        let session = MeterSession(settings: bench.settings(frameCounter: ObisCode(0, 0, 43, 1, 0, 255)))
        try session.open()
        defer { session.close() }
        Self.expectReadings(try session.read(Self.registers))
        #expect((bench.security.state.lastClientCounter ?? 0) > 500)
        #expect(session.counters.securityFaults == 0)
    }

    @Test func staleClientCounterJumpsAheadAndReassociates() throws {
        let bench = try Bench()
        bench.security.state.accepted(clientCounter: 5000)
        let poller = MeterPoller(session: MeterSession(settings: bench.settings()), failureStreak: StreakKeeper())
        // Without the frame counter the first AARQ is stale: the meter names the counter it expects, the
        // session jumps to it and associates again within the same poll.
        guard case let .readings(results) = poller.poll(Self.registers) else {
            Issue.record("the poll failed: \(String(describing: poller.lastError))")
            return
        }
        Self.expectReadings(results)
        #expect(poller.session.counters.securityFaults == 1)
        #expect(bench.security.state.ivReuses == 0)
        poller.shutdown()
    }

    @Test func persistedLeaseIsNeverReusedAcrossSessions() throws {
        let bench = try Bench()
        let lease = InMemoryCounterLease()
        for _ in 0..<3 {
            // A new session is a restart: it starts above the persisted lease.
            let session = MeterSession(settings: bench.settings(), counterLease: lease)
            try session.open()
            Self.expectReadings(try session.read(Self.registers))
            session.abort()  // as kill -9: nothing written at the end
        }
        #expect(bench.security.state.ivReuses == 0)
        #expect(lease.stores >= 3)
    }
}

/// The IEC 62056-47 wrapper on TCP, with and without security.
@Suite(.serialized) struct WrapperSessionTests {
    func bench(secured: Bool) throws -> (SimulatorServer, UInt16, SimulatorSecurity?) {
        var configuration = SimulatorConfiguration(serverLogical: 1)
        configuration.framing = .wrapper
        var security: SimulatorSecurity? = nil
        if secured {
            security = SimulatorSecurity(keys: SecurityKeys(encryption: SecureSessionTests.ek,
                                                            authentication: SecureSessionTests.ak))
            configuration.security = security
        }
        let server = SimulatorServer(configuration: configuration)
        return (server, try server.listen(host: "127.0.0.1", port: 0).port, security)
    }

    func settings(port: UInt16, clientSAP: UInt8, secured: Bool) -> MeterSettings {
        var s = MeterSettings(endpoint: .tcp(host: "127.0.0.1", port: port), profile: .generic)
        s.framing = .wrapper
        s.clientSAP = clientSAP
        s.serverLogical = 1
        s.responseTimeoutMilliseconds = 400
        if secured {
            s.security = MeterSecurity(
                security: .authenticatedEncrypted, authentication: .hlsGMAC,
                keys: SecurityKeys(encryption: SecureSessionTests.ek, authentication: SecureSessionTests.ak),
                clientSystemTitle: SecureSessionTests.clientTitle, frameCounter: ObisCode(0, 0, 43, 1, 0, 255))
        }
        return s
    }

    @Test(arguments: [false, true])
    func readsThroughTheWrapper(secured: Bool) throws {
        let (server, port, security) = try bench(secured: secured)
        defer { server.stop() }
        let session = MeterSession(settings: settings(port: port, clientSAP: secured ? 1 : 16, secured: secured))
        try session.open()
        SecureSessionTests.expectReadings(try session.read(SecureSessionTests.registers))
        SecureSessionTests.expectReadings(try session.read(SecureSessionTests.registers))
        session.close()
        #expect(server.counters.associationsAccepted == (secured ? 2 : 1))  // the frame counter's public client too
        #expect(security?.state.ivReuses ?? 0 == 0)
    }

    @Test func aWrongLogicalDeviceTimesOutNamingIt() throws {
        let (server, port, _) = try bench(secured: false)
        defer { server.stop() }
        var s = settings(port: port, clientSAP: 16, secured: false)
        s.serverLogical = 5
        let error = try #require(throws: MeterError.self) { try MeterSession(settings: s).open() }
        #expect(error.kind == .timeout)
        #expect(error.description.contains("DLMS_SERVER_LOGICAL"), "\(error)")
    }
}
