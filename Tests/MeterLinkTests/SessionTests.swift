import COSEM
import HDLC
import Platform
import Testing

@testable import MeterLink
@testable import MeterSimulator

/// The meter session against the simulated Microstar meter over real loopback TCP.
@Suite(.serialized) struct SessionTests {
    /// A simulator on an ephemeral loopback port and settings that reach it.
    final class Bench {
        let server: SimulatorServer
        let port: UInt16
        init(_ configuration: SimulatorConfiguration = SimulatorConfiguration(), faults: SimulatorFaults = .none) throws {
            server = SimulatorServer(configuration: configuration, faults: faults)
            port = try server.listen(host: "127.0.0.1", port: 0).port
        }
        deinit { server.stop() }

        func settings(password: String = "22222222") -> MeterSettings {
            var s = MeterSettings(endpoint: .tcp(host: "127.0.0.1", port: port), profile: .microstar, password: Secret(password))
            s.responseTimeoutMilliseconds = 400
            s.connectTimeoutMilliseconds = 2000
            s.retries = 2
            return s
        }
    }

    static let catalog = MeasurementCatalog.standard
    static let twelveRegisters = Array(catalog.measurements.filter { $0.kind == .register }.prefix(12))

    /// Every non-profile object of the catalog reads with the standard unit and the model's value.
    @Test func readsEveryCatalogObject() throws {
        let bench = try Bench()
        let session = MeterSession(settings: bench.settings())
        try session.open()
        defer { session.close() }
        let wanted = Self.catalog.measurements.filter { $0.kind != .profile }
        let before = WallClock.milliseconds()
        let results = try session.read(wanted)
        let after = WallClock.milliseconds()
        #expect(results.count == wanted.count)
        let model = SimulatedObjectModel(configuration: bench.server.configuration)
        for result in results {
            guard case let .reading(r) = result else {
                Issue.record("\(result.measurement.key) failed: \(result)")
                continue
            }
            if let expected = r.measurement.expectedUnit {
                #expect(r.unit == expected, "\(r.measurement.key): unit \(String(describing: r.unit))")
            }
            switch r.measurement.kind {
            case .register, .extendedRegister:
                let raw = try #require(r.rawInteger)
                let candidates = Set((before / 1000...after / 1000).compactMap { model.rawValue(of: r.measurement.obis, at: $0 * 1000) })
                #expect(candidates.contains(raw), "\(r.measurement.key): raw \(raw) not in \(candidates)")
                let scaler = try #require(r.scalerUnit).scaler
                #expect(r.value == .number(ScaledNumber(raw: .integer(raw), scaler: scaler)))
                guard case let .number(n) = r.value else { continue }
                #expect(n.doubleValue == ScalerUnit.scale(Double(raw), by: scaler))
                if r.measurement.kind == .extendedRegister { #expect(r.captureTime != nil) }
            case .clock:
                guard case let .dateTime(_, ms) = r.value else { Issue.record("clock is \(r.value)"); continue }
                let t = try #require(ms)
                #expect(t >= before - 1000 && t <= after + 1000)
            case .data:
                if r.measurement.key == "serial_number" { #expect(r.value == .text("000019001234")) }
                if r.measurement.key == "firmware_version" { #expect(r.value == .text("MST-SIM 1.0.0")) }
            case .demandRegister, .profile:
                break
            }
        }
        // Voltage is reported as the standard's 35 (V), never the prototype's 32.
        if case let .reading(v) = results[0] { #expect(v.unit?.rawValue == 35) }
    }

    @Test func steadyStatePollOfTwelveRegistersIsOneRoundTrip() throws {
        let bench = try Bench()
        let session = MeterSession(settings: bench.settings())
        try session.open()
        defer { session.close() }
        _ = try session.read(Self.twelveRegisters)  // scaler_unit once per association
        let results = try session.read(Self.twelveRegisters)
        #expect(results.allSatisfy { if case .reading = $0 { return true } else { return false } })
        #expect(session.counters.lastPollRoundTrips == 1)
    }

    @Test func fallsBackToSingleGetsWhenWithListIsNotGranted() throws {
        var config = SimulatorConfiguration()
        config.conformance = SimulatorConfiguration.withoutGetWithList
        let bench = try Bench(config)
        let session = MeterSession(settings: bench.settings())
        try session.open()
        defer { session.close() }
        #expect(session.granted?.contains(.multipleReferences) == false)
        _ = try session.read(Array(Self.twelveRegisters.prefix(3)))
        let results = try session.read(Array(Self.twelveRegisters.prefix(3)))
        #expect(results.allSatisfy { if case .reading = $0 { return true } else { return false } })
        #expect(session.counters.lastPollRoundTrips == 3)
    }

    @Test func readsADayOfLoadProfileByRangeWithBlockTransfer() throws {
        let bench = try Bench()
        let session = MeterSession(settings: bench.settings())
        try session.open()
        defer { session.close() }
        let now = WallClock.milliseconds()
        let profile = try session.readProfile(ObisCode(1, 0, 99, 1, 0, 255), fromUnixMilliseconds: now - 86_400_000 + 1,
                                              toUnixMilliseconds: now)
        #expect(profile.rows.count >= 96)
        #expect(profile.columns.first?.classId == 8)
        #expect(bench.server.counters.blocksSent > 1)
        // Rows are in range and in order.
        var previous: Int64 = .min
        for row in profile.rows {
            guard case let .octetString(b) = row[0] else { Issue.record("clock column is \(row[0])"); break }
            let t = try CosemDateTime(bytes: b).unixMilliseconds(assumedDeviation: 0)
            #expect(t > previous && t >= now - 86_400_000 && t <= now)
            previous = t
        }
    }

    @Test func wrongPasswordIsReportedAsSuch() throws {
        let bench = try Bench()
        let session = MeterSession(settings: bench.settings(password: "00000000"))
        let error = try #require(throws: MeterError.self) { try session.open() }
        #expect(error.kind == .associationRejected)
        #expect(error.description.contains("password"))
        #expect(error.description.contains("DLMS_PASSWORD"))
        #expect(!error.description.contains("00000000"))
        #expect(session.counters.associationFailures == 1)
    }

    @Test func noAnswerNamesTheAddressBytesTried() throws {
        var config = SimulatorConfiguration()
        config.addressWidths = AcceptedAddressWidths(parsing: "4")!
        let bench = try Bench(config)
        var settings = bench.settings()
        settings.addressSize = .fixed(.two)
        settings.responseTimeoutMilliseconds = 150
        let session = MeterSession(settings: settings)
        let error = try #require(throws: MeterError.self) { try session.open() }
        #expect(error.kind == .noAnswer)
        #expect(error.description.contains("00 03"))
        #expect(error.description.contains("DLMS_SERVER_LOGICAL"))
    }

    @Test func autoAddressSizeFindsTheWidthTheMeterAnswers() throws {
        var config = SimulatorConfiguration()
        config.addressWidths = AcceptedAddressWidths(parsing: "4")!
        let bench = try Bench(config)
        var settings = bench.settings()
        settings.responseTimeoutMilliseconds = 150
        let session = MeterSession(settings: settings)
        try session.open()
        defer { session.close() }
        #expect(session.resolvedWidth == .four)
        #expect(try session.read([Self.catalog["voltage_l1"]!]).count == 1)
    }

    @Test func refusedObjectFailsAloneWithItsDataAccessResult() throws {
        let bench = try Bench(faults: SimulatorFaults(unavailableObjects: [ObisCode(1, 1, 31, 7, 0)]))
        let session = MeterSession(settings: bench.settings())
        try session.open()
        defer { session.close() }
        let results = try session.read([Self.catalog["voltage_l1"]!, Self.catalog["current_l1"]!])
        guard case .reading = results[0], case let .failed(_, error) = results[1] else {
            Issue.record("unexpected \(results)")
            return
        }
        #expect(error.kind == .objectUnavailable)
        #expect(error.accessResult == .objectUnavailable)
        #expect(session.isAssociated)
    }

    @Test func corruptedFramesAreRetransmittedAndCounted() throws {
        let bench = try Bench(faults: SimulatorFaults(corruptEveryNthReply: 3))
        let session = MeterSession(settings: bench.settings())
        try session.open()
        defer { session.close() }
        for _ in 0..<4 {
            let results = try session.read(Self.twelveRegisters)
            #expect(results.allSatisfy { if case .reading = $0 { return true } else { return false } })
        }
        #expect(session.counters.crcErrors > 0)
        #expect(session.counters.retransmissions > 0)
    }

    @Test func strayBytesAndDelaysAreSurvived() throws {
        let bench = try Bench(faults: SimulatorFaults(replyDelayMilliseconds: 20, strayBytes: [0x7E, 0x7E, 0x00, 0xFF, 0x12]))
        let session = MeterSession(settings: bench.settings())
        try session.open()
        defer { session.close() }
        let results = try session.read(Self.twelveRegisters)
        #expect(results.allSatisfy { if case .reading = $0 { return true } else { return false } })
        #expect(session.counters.framingErrors > 0)
        #expect(session.counters.crcErrors == 0)
    }

    /// A dropped link fails the poll in flight only when re-association fails too; once the fault clears the
    /// next poll succeeds. The failures in a row are kept by the poller's streak keeper (the agent's health
    /// recorder, here a stand-in that counts each outcome as it does): after MAX_CONSEC_ERRORS the poller backs
    /// off at the down rate, and a success ends the streak.
    @Test func pollerRecoversFromADeadMeterAndReportsItDownAndUp() throws {
        let bench = try Bench()
        var settings = bench.settings()
        settings.responseTimeoutMilliseconds = 100
        settings.retries = 1
        let keeper = StreakKeeper(limit: 2)  // MAX_CONSEC_ERRORS
        let poller = MeterPoller(session: MeterSession(settings: settings), failureStreak: keeper, seed: 7)
        guard case .readings = keeper.count(poller.poll(Self.twelveRegisters)) else { Issue.record("first poll failed"); return }

        bench.server.faults = SimulatorFaults(silent: true)
        var now = MonotonicInstant.now()
        for _ in 0..<2 {
            guard case let .failed(error) = keeper.count(poller.poll(Self.twelveRegisters, now: now)) else {
                Issue.record("poll of a silent meter did not fail")
                return
            }
            #expect(error.kind == .timeout || error.kind == .noAnswer)
            now = now.advanced(byMilliseconds: 10 * 60_000)  // past any back-off
        }
        #expect(poller.isDown && keeper.transitions == [true])
        // Within the back-off, no attempt is made.
        if case .skipped = keeper.count(poller.poll(Self.twelveRegisters, now: .now())) {} else {
            Issue.record("not skipped during back-off")
        }

        bench.server.faults = .none
        guard case let .readings(results) = keeper.count(poller.poll(Self.twelveRegisters, now: now)) else {
            Issue.record("poll after recovery failed: \(poller.lastError?.description ?? "")")
            return
        }
        #expect(results.count == 12)
        #expect(!poller.isDown && keeper.transitions == [true, false])
    }

    /// The meter closes the connection on the 7th frame of each connection: the poll in flight re-associates
    /// at once and still returns readings.
    @Test func linkDroppedMidSessionIsReassociatedWithinThePoll() throws {
        let bench = try Bench(faults: SimulatorFaults(dropAfterFrames: 7))
        let poller = MeterPoller(session: MeterSession(settings: bench.settings()), failureStreak: StreakKeeper(), seed: 1)
        for i in 0..<4 {
            guard case let .readings(results) = poller.poll(Self.twelveRegisters) else {
                Issue.record("poll \(i) failed: \(poller.lastError?.description ?? "")")
                return
            }
            #expect(results.count == 12)
        }
        #expect(bench.server.counters.connections >= 2)
        #expect(poller.session.counters.associations >= 2)
        #expect(poller.lastError == nil)
    }

    @Test func keepAliveHoldsAnAssociationPastTheMeterInactivityTimeout() throws {
        var config = SimulatorConfiguration()
        config.inactivityTimeoutMilliseconds = 300
        let bench = try Bench(config)
        var settings = bench.settings()
        settings.keepAliveMilliseconds = 100
        let poller = MeterPoller(session: MeterSession(settings: settings), failureStreak: StreakKeeper())
        guard case .readings = poller.poll([Self.catalog["voltage_l1"]!]) else { Issue.record("first poll failed"); return }
        let end = Deadline.after(milliseconds: 900)
        while !end.hasPassed {
            if let due = poller.nextKeepAlive {
                // Idle until the keep-alive falls due, as the agent's meter thread does between polls.
                let idle = ConditionLock()
                idle.withLock { _ = idle.wait(until: { false }, deadline: Deadline(due)) }
            }
            #expect(poller.keepAlive() == nil)
        }
        #expect(poller.session.counters.keepAlives >= 5)
        #expect(poller.session.counters.associations == 1)
        guard case .readings = poller.poll([Self.catalog["voltage_l1"]!]) else { Issue.record("poll after idle failed"); return }
        #expect(poller.session.counters.associations == 1)
    }

    @Test func connectPerPollReleasesAfterEveryPoll() throws {
        let bench = try Bench()
        var settings = bench.settings()
        settings.connectPerPoll = true
        let poller = MeterPoller(session: MeterSession(settings: settings), failureStreak: StreakKeeper())
        for _ in 0..<3 {
            guard case .readings = poller.poll([Self.catalog["voltage_l1"]!]) else { Issue.record("poll failed"); return }
            #expect(!poller.session.isAssociated)
        }
        #expect(poller.session.counters.associations == 3)
        #expect(bench.server.counters.releases == 3)
    }

    @Test func passwordsAreMaskedInTraces() {
        let frame: [UInt8] = [0x7E, 0xAC, 0x0A, 0x80, 0x08] + Array("22222222".utf8) + [0xBE, 0x7E]
        let text = MeterSession.maskedHex(frame, secret: Array("22222222".utf8))
        #expect(text == "7E AC 0A 80 08 ** ** ** ** ** ** ** ** BE 7E")
    }

    @Test func customMeasurementDefinitions() throws {
        let m = try MeasurementCatalog.parseDefinition("voltage_l2=1-1:52.7.0:register:Phase B voltage")
        #expect(m.obis == ObisCode(1, 1, 52, 7, 0))
        #expect(m.kind == .register)
        #expect(m.description == "Phase B voltage")
        #expect(try MeasurementCatalog.parseDefinition("temp=0.0.96.9.0.255:3").kind == .register)
        #expect(throws: MeterError.self) { try MeasurementCatalog.parseDefinition("bad=1-1:52.7.0:nonsense") }
        #expect(throws: MeterError.self) { try MeasurementCatalog.standard.resolve(["voltage_l1", "volts"]) }
    }
}

/// Records meter up/down transitions from the poller's callback.
/// Keeps a poller's failure streak as the agent's health recorder does: one count per poll outcome.
final class StreakKeeper: FailureStreakSource, @unchecked Sendable {
    private let lock = ConditionLock()
    private var streak: FailureStreak
    private var changes: [Bool] = []

    init(limit: Int = 10) { streak = FailureStreak(limit: limit) }

    var failureStreak: FailureStreak { lock.withLock { streak } }
    /// Went down (true) and came back (false), in order.
    var transitions: [Bool] { lock.withLock { changes } }

    /// Counts a poll's outcome and returns it.
    func count(_ outcome: PollOutcome) -> PollOutcome {
        lock.withLock {
            switch outcome {
            case .readings: if streak.succeeded() { changes.append(false) }
            case .failed: if streak.failed() { changes.append(true) }
            case .skipped: break
            }
        }
        return outcome
    }
}

/// The same session over a real pseudo-terminal: direct HDLC, and with the IEC 62056-21 mode E opening.
@Suite(.serialized) struct SerialSessionTests {
    static let registers = Array(MeasurementCatalog.standard.measurements.filter { $0.kind != .profile })

    func readAll(modeE: Bool) throws -> (MeterSession, [MeasurementResult], SimulatorServer) {
        let server = SimulatorServer(configuration: SimulatorConfiguration())
        let path = try server.serveSerial(modeE: modeE)
        var settings = MeterSettings(endpoint: .serial(path: path, baudRate: 9600, modeE: modeE), profile: .microstar,
                                     password: Secret("22222222"))
        settings.responseTimeoutMilliseconds = 1000
        let session = MeterSession(settings: settings)
        try session.open()
        let results = try session.read(Self.registers)
        return (session, results, server)
    }

    @Test func readsEveryObjectOverAPtyWithDirectHDLC() throws {
        let (session, results, server) = try readAll(modeE: false)
        defer { session.close(); server.stop() }
        #expect(results.count == Self.registers.count)
        for r in results {
            guard case .reading = r else { Issue.record("\(r.measurement.key) failed: \(r)"); continue }
        }
        #expect(server.counters.modeEOpenings == 0)
    }

    @Test func readsEveryObjectOverAPtyAfterModeE() throws {
        let (session, results, server) = try readAll(modeE: true)
        defer { session.close(); server.stop() }
        #expect(results.count == Self.registers.count)
        for r in results {
            guard case .reading = r else { Issue.record("\(r.measurement.key) failed: \(r)"); continue }
        }
        #expect(server.counters.modeEOpenings == 1)
        let profile = try session.readProfile(ObisCode(1, 0, 99, 1, 0, 255),
                                              fromUnixMilliseconds: WallClock.milliseconds() - 86_400_000 + 1,
                                              toUnixMilliseconds: WallClock.milliseconds())
        #expect(profile.rows.count >= 96)
    }
}

/// The one profile reader against the simulator over loopback TCP: slices, gaps, a wrapped buffer, a
/// capture-object change (issue 11).
@Suite(.serialized) struct ProfileReaderTests {
    typealias Bench = SessionTests.Bench
    static let loadProfile = ObisCode(1, 0, 99, 1, 0, 255)

    func opened(_ configuration: SimulatorConfiguration) throws -> (Bench, MeterSession) {
        let bench = try Bench(configuration)
        let session = MeterSession(settings: bench.settings())
        try session.open()
        return (bench, session)
    }

    @Test func headerAndBoundedSlicesToNow() throws {
        let (bench, session) = try opened(SimulatorConfiguration(profileRows: 200, capturePeriodSeconds: 60))
        defer { session.close() }
        let reader = ProfileReader(obis: Self.loadProfile, rowsPerSlice: 20)
        let header = try reader.header(using: session)
        #expect(header.columns == SimulatedObjectModel.loadProfileColumns)
        #expect(header.capturePeriodSeconds == 60 && header.clockColumn == 0)
        #expect(header.scalers[1] == ScalerUnit(scaler: 0, unit: .wattHour))
        let now = WallClock.milliseconds()
        var from = now - 100 * 60_000
        var previous: Int64? = nil
        var rows: [ProfileRow] = []
        var slices = 0
        while true {
            let before = bench.server.counters.getRequests
            let slice = try reader.readSlice(using: session, from: from, previous: previous, meterNow: now)
            // One GET-With-List per slice (header and rows), blocks aside.
            #expect(bench.server.counters.getRequests - before == 1)
            #expect(slice.rows.count <= 20)
            #expect(slice.issues.isEmpty)
            rows += slice.rows
            previous = slice.rows.last?.captureTime ?? previous
            slices += 1
            if slice.caughtUp { break }
            from = slice.nextFrom
        }
        // 100 minutes in slices of 20 rows (1,199 s each, then the next second): 5, and the last second.
        #expect(slices == 6)
        #expect(rows.count == 100 || rows.count == 101)
        #expect(zip(rows, rows.dropFirst()).allSatisfy { $1.captureTime - $0.captureTime == 60_000 })
        // Values are the model's at each instant.
        let model = SimulatedObjectModel(configuration: bench.server.configuration)
        for r in rows { #expect(r.cells == model.loadProfileRow(at: r.captureTime / 1000)) }
    }

    @Test func aGapIsReportedAndAWrappedBufferIsALossWindow() throws {
        let now = WallClock.milliseconds() / 1000
        let (bench, session) = try opened(SimulatorConfiguration(
            profileRows: 30, capturePeriodSeconds: 10, profileGaps: [(now - 150)..<(now - 100)]))
        defer { session.close(); bench.server.stop() }
        let reader = ProfileReader(obis: Self.loadProfile, rowsPerSlice: 100)
        let meterNow = now * 1000
        let start = (now - 200) * 1000
        let slice = try reader.readSlice(using: session, from: start, previous: nil, meterNow: meterNow)
        let gaps = slice.issues.filter { $0.counter == "profile_gaps" }
        #expect(gaps.count == 1)
        if case let .gap(after, before, missing)? = gaps.first {
            #expect(before - after == 60_000 && missing == 5)
        }
        // A cursor older than the oldest row (the buffer holds 300 s): a loss window, not a gap.
        let old = try reader.readSlice(using: session, from: (now - 1000) * 1000 + 1000, previous: (now - 1000) * 1000, meterNow: meterNow)
        guard case let .lossWindow(after, oldest)? = old.issues.first(where: { $0.counter == "profile_loss_windows" }) else {
            Issue.record("no loss window in \(old.issues)"); return
        }
        #expect(after == (now - 1000) * 1000)
        #expect(oldest == old.rows.first?.captureTime)
    }

    @Test func aCaptureObjectChangeReadsTheHeaderAgain() throws {
        let now = WallClock.milliseconds() / 1000
        let (bench, session) = try opened(SimulatorConfiguration(profileRows: 100, capturePeriodSeconds: 1, captureObjectsChangeAt: now + 2))
        defer { session.close() }
        let reader = ProfileReader(obis: Self.loadProfile, rowsPerSlice: 100)
        #expect(try reader.header(using: session).columns.count == 5)
        // Wait for the meter's reconfiguration by polling its header (no sleep as synchronisation).
        let deadline = Deadline.after(milliseconds: 10_000)
        while try ProfileGeneric.captureObjects(try session.readAttribute(InterfaceClass.profileGeneric.attribute(3, of: Self.loadProfile))).count == 5 {
            #expect(!deadline.hasPassed, "the simulator did not change its capture objects")
            if deadline.hasPassed { return }
        }
        let slice = try reader.readSlice(using: session, from: (now - 5) * 1000, previous: nil, meterNow: WallClock.milliseconds())
        #expect(slice.issues.contains(.captureObjectsChanged(oldColumns: 5, newColumns: 4)))
        #expect(slice.header.columns == SimulatedObjectModel.changedLoadProfileColumns)
        #expect(!slice.rows.isEmpty && slice.rows.allSatisfy { $0.cells.count == 4 && $0.captureTime >= (now + 2) * 1000 })
        #expect(slice.header.scalers[2] == ScalerUnit(scaler: -1, unit: .volt))
        _ = bench
    }

    @Test func anUnknownProfileIsAnObjectError() throws {
        let (bench, session) = try opened(SimulatorConfiguration())
        defer { session.close(); bench.server.stop() }
        let reader = ProfileReader(obis: ObisCode(0, 0, 98, 1, 0, 255))
        let error = try #require(throws: MeterError.self) { try reader.header(using: session) }
        #expect(error.kind == .objectUnavailable && error.keepsAssociation)
        #expect(session.isAssociated)
    }
}
