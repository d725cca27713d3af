import COSEM
import HDLC
import MeterLink
import MeterSimulator
import Testing

/// The simulator's clock (SET, offset) and its profile switches (gap, capture-object change), issue 11.
@Suite struct SimulatorClockAndProfileTests {
    static let clockTime = InterfaceClass.clock.attribute(2, of: .clock)

    func set(_ h: inout SimulatorHarness, _ attribute: AttributeDescriptor, _ value: DataValue) throws -> DataAccessResult {
        let answer = try #require(h.transact(try h.association.setRequest(attribute, value: value)), "no SET-Response")
        return try h.association.handleSetResponse(answer)
    }

    func clock(_ h: inout SimulatorHarness) throws -> Int64 {
        guard case let .octetString(b) = try h.value(Self.clockTime) else { Issue.record("clock not an octet-string"); return 0 }
        return try CosemDateTime(bytes: b).unixMilliseconds()
    }

    @Test(arguments: [UInt8(1), 32])
    func passwordClientSetsTheClock(sap: UInt8) throws {
        var h = SimulatorHarness(clientSAP: sap, password: "22222222")
        guard case .accepted = try h.open() else { Issue.record("rejected"); return }
        let target = SimulatorHarness.start - 3_600_000  // one hour back
        #expect(try set(&h, Self.clockTime, .octetString(CosemDateTime(unixMilliseconds: target).bytes)) == .success)
        #expect(h.meter.clockOffsetMilliseconds == -3_600_000)
        h.now += 5_000
        #expect(try clock(&h) == target + 5_000)
        #expect(h.meter.takeCounters().clockSets == 1)
    }

    @Test func publicClientIsRefusedAndTheClockStays() throws {
        var h = SimulatorHarness(clientSAP: 16)
        guard case .accepted = try h.open() else { Issue.record("rejected"); return }
        #expect(try set(&h, Self.clockTime, .octetString(CosemDateTime(unixMilliseconds: 0).bytes)) == .readWriteDenied)
        #expect(h.meter.clockOffsetMilliseconds == 0)
        #expect(try clock(&h) == SimulatorHarness.start)
    }

    @Test func badSetsGetSpecificResults() throws {
        var h = SimulatorHarness(clientSAP: 1, password: "22222222")
        guard case .accepted = try h.open() else { Issue.record("rejected"); return }
        // Not a date-time, an unknown object, a read-only attribute.
        #expect(try set(&h, Self.clockTime, .longUnsigned(5)) == .typeUnmatched)
        #expect(try set(&h, Self.clockTime, .octetString([1, 2, 3])) == .typeUnmatched)
        #expect(try set(&h, InterfaceClass.register.attribute(2, of: ObisCode(1, 1, 77, 7, 0)), .longUnsigned(1)) == .objectUndefined)
        #expect(try set(&h, InterfaceClass.register.attribute(2, of: ObisCode(1, 1, 32, 7, 0)), .longUnsigned(1)) == .readWriteDenied)
        #expect(h.meter.clockOffsetMilliseconds == 0)
    }

    @Test func clockOffsetShiftsClockAndProfile() throws {
        var h = SimulatorHarness(configuration: SimulatorConfiguration(capturePeriodSeconds: 60, clockOffsetSeconds: 90))
        guard case .accepted = try h.open() else { Issue.record("rejected"); return }
        #expect(try clock(&h) == SimulatorHarness.start + 90_000)
        let rows = try ProfileGeneric.rows(try h.value(InterfaceClass.profileGeneric.attribute(2, of: SimulatedObjectModel.loadProfile)))
        guard case let .octetString(b)? = rows.last?.first else { Issue.record("no clock column"); return }
        // The last capture is at the meter's minute, 90 s ahead: start + 60 s.
        #expect(try CosemDateTime(bytes: b).unixMilliseconds() == SimulatorHarness.start + 60_000)
    }

    @Test func gapRowsAreAbsent() {
        let s = SimulatorHarness.start / 1000
        let model = SimulatedObjectModel(configuration: SimulatorConfiguration(
            profileRows: 20, capturePeriodSeconds: 2, profileGaps: [(s - 10)..<(s - 4)]))
        let instants = model.loadProfileInstants(at: SimulatorHarness.start)
        #expect(instants.count == 17)
        #expect(!instants.contains(s - 10) && !instants.contains(s - 6) && instants.contains(s - 4) && instants.contains(s - 12))
    }

    @Test func captureObjectChangeClearsTheBufferAndChangesTheHeader() throws {
        let s = SimulatorHarness.start / 1000
        var h = SimulatorHarness(configuration: SimulatorConfiguration(
            profileRows: 50, capturePeriodSeconds: 1, captureObjectsChangeAt: s + 10))
        guard case .accepted = try h.open() else { Issue.record("rejected"); return }
        let header = InterfaceClass.profileGeneric.attribute(3, of: SimulatedObjectModel.loadProfile)
        #expect(try ProfileGeneric.captureObjects(try h.value(header)) == SimulatedObjectModel.loadProfileColumns)
        h.now += 15_000
        #expect(try ProfileGeneric.captureObjects(try h.value(header)) == SimulatedObjectModel.changedLoadProfileColumns)
        let rows = try ProfileGeneric.rows(try h.value(InterfaceClass.profileGeneric.attribute(2, of: SimulatedObjectModel.loadProfile)))
        #expect(rows.count == 6)  // s+10 ... s+15
        #expect(rows.allSatisfy { $0.count == SimulatedObjectModel.changedLoadProfileColumns.count })
    }
}
