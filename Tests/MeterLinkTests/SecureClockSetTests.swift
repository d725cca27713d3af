import COSEM
import Platform
import Testing

@testable import MeterLink
@testable import MeterSimulator

/// SET of the clock on a secured association (issue 11 with issue 12): the SET-Request is ciphered like a GET
/// (glo-set-request), the meter deciphers it, sets its clock, and its ciphered answer is read.
@Suite(.serialized) struct SecureClockSetTests {
    @Test func aCipheredSetMovesTheSimulatorsClock() throws {
        let bench = try SecureSessionTests.Bench()
        let session = MeterSession(settings: bench.settings(), counterLease: InMemoryCounterLease())
        try session.open()
        defer { session.close() }
        let target = WallClock.milliseconds() - 600_000
        let clock = InterfaceClass.clock.attribute(2, of: .clock)
        let result = try session.writeAttribute(clock, value: .octetString(CosemDateTime(unixMilliseconds: target).bytes))
        #expect(result == .success)
        #expect(abs(bench.server.clockOffsetMilliseconds + 600_000) < 2000)
        let read = try Clock.time(try session.readAttribute(clock)).unixMilliseconds()
        #expect(abs(read - (WallClock.milliseconds() - 600_000)) < 3000)
        #expect(session.counters.securityFaults == 0)
    }
}
