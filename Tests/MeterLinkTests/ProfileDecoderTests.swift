import COSEM
import Testing

@testable import MeterLink

/// Profile rows decoded against a header: every bad-input case of issue 11 is a specific issue, and the
/// good rows around it still come through.
@Suite struct ProfileDecoderTests {
    static let obis = ObisCode(1, 0, 99, 1, 0, 255)
    static let clock = CaptureObjectDefinition(classId: 8, obis: .clock, attribute: 2)
    static let energy = CaptureObjectDefinition(classId: 3, obis: ObisCode(1, 1, 1, 8, 0), attribute: 2)
    static let statusColumn = CaptureObjectDefinition(classId: 1, obis: ObisCode(0, 0, 96, 10, 1, 255), attribute: 2)
    static let t0: Int64 = 1_795_060_800_000

    static func header(period: UInt32 = 900, status: Bool = false) throws -> ProfileHeader {
        try ProfileHeader(obis: obis, columns: status ? [clock, statusColumn, energy] : [clock, energy], capturePeriodSeconds: period,
                          scalers: status ? [nil, nil, ScalerUnit(scaler: 0, unit: .wattHour)] : [nil, ScalerUnit(scaler: 0, unit: .wattHour)])
    }

    static func row(_ ms: Int64, _ value: UInt32, clockStatus: UInt8 = 0, deviation: Int16 = 0) -> [DataValue] {
        [.octetString(CosemDateTime(unixMilliseconds: ms, deviation: deviation, clockStatus: ClockStatus(rawValue: clockStatus)).bytes),
         .doubleLongUnsigned(value)]
    }

    @Test func goodRowsComeInOrderWithTheirTimes() throws {
        let rows = (0..<4).map { Self.row(Self.t0 + Int64($0) * 900_000, UInt32(100 + $0)) }
        let (out, issues) = ProfileDecoder.decode(rows, header: try Self.header(), from: Self.t0, to: Self.t0 + 3_600_000, previous: nil)
        #expect(issues.isEmpty)
        #expect(out.map { $0.captureTime } == (0..<4).map { Self.t0 + Int64($0) * 900_000 })
        #expect(out[2].cells[1] == .doubleLongUnsigned(102))
        #expect(out[0].status.source == .clockStatus && out[0].status.flags.isEmpty)
    }

    @Test func aDeviationIsAppliedToTheCaptureTime() throws {
        // Local 05:00 with deviation -60 (CET, Blue Book sign) is 04:00 UTC.
        let rows = [Self.row(Self.t0, 1, deviation: -60)]
        let (out, _) = ProfileDecoder.decode(rows, header: try Self.header(), from: Self.t0, to: Self.t0, previous: nil)
        #expect(out.first?.captureTime == Self.t0)
    }

    @Test func missingRowsAreAGapNotFilled() throws {
        let rows = [Self.row(Self.t0 + 900_000, 1), Self.row(Self.t0 + 4 * 900_000, 2)]
        let (out, issues) = ProfileDecoder.decode(rows, header: try Self.header(), from: Self.t0, to: Self.t0 + 3_600_000, previous: Self.t0)
        #expect(out.count == 2)
        #expect(issues == [.gap(after: Self.t0 + 900_000, before: Self.t0 + 3_600_000, missingRows: 2)])
        #expect(issues[0].counter == "profile_gaps")
        #expect(issues[0].description.contains("2 row(s) missing"))
    }

    @Test func aGapFromTheCursorIsReported() throws {
        let rows = [Self.row(Self.t0 + 3 * 900_000, 1)]
        let (_, issues) = ProfileDecoder.decode(rows, header: try Self.header(), from: Self.t0 + 1000, to: Self.t0 + 3_600_000, previous: Self.t0)
        #expect(issues == [.gap(after: Self.t0, before: Self.t0 + 2_700_000, missingRows: 2)])
    }

    @Test func rowsOutsideTheRangeAreDroppedAndCounted() throws {
        let rows = [Self.row(Self.t0 - 900_000, 1), Self.row(Self.t0, 2), Self.row(Self.t0 + 7_200_000, 3)]
        let (out, issues) = ProfileDecoder.decode(rows, header: try Self.header(), from: Self.t0, to: Self.t0 + 3_600_000, previous: nil)
        #expect(out.map { $0.captureTime } == [Self.t0])
        #expect(issues.count == 2 && issues.allSatisfy { $0.counter == "profile_rows_outside_range" })
        // Without selective access the whole buffer comes: rows outside are expected, not an issue.
        let (same, quiet) = ProfileDecoder.decode(rows, header: try Self.header(), from: Self.t0, to: Self.t0 + 3_600_000,
                                                  previous: nil, rangeAskedOfMeter: false)
        #expect(same.count == 1 && quiet.isEmpty)
    }

    @Test func repeatsOfTheCursorRowAreSilent() throws {
        let rows = [Self.row(Self.t0, 1), Self.row(Self.t0 + 900_000, 2)]
        let (out, issues) = ProfileDecoder.decode(rows, header: try Self.header(), from: Self.t0, to: Self.t0 + 900_000, previous: Self.t0)
        #expect(out.map { $0.captureTime } == [Self.t0 + 900_000])
        #expect(issues.isEmpty)
    }

    @Test func shortAndLongRowsAreNeverMisDecoded() throws {
        let rows = [[Self.row(Self.t0, 1)[0]], Self.row(Self.t0 + 900_000, 2) + [.unsigned(9)], Self.row(Self.t0 + 1_800_000, 3)]
        let (out, issues) = ProfileDecoder.decode(rows, header: try Self.header(), from: Self.t0, to: Self.t0 + 3_600_000, previous: nil)
        #expect(out.map { $0.captureTime } == [Self.t0 + 1_800_000])
        #expect(issues == [.rowShape(cells: 1, columns: 2), .rowShape(cells: 3, columns: 2)])
    }

    @Test func unreadableTimesAreDropped() throws {
        var unspecified = CosemDateTime(unixMilliseconds: Self.t0).bytes
        unspecified[0] = 0xFF; unspecified[1] = 0xFF  // year not specified
        let rows: [[DataValue]] = [[.octetString(unspecified), .doubleLongUnsigned(1)], [.unsigned(3), .doubleLongUnsigned(1)],
                                   Self.row(Self.t0, 2)]
        let (out, issues) = ProfileDecoder.decode(rows, header: try Self.header(), from: Self.t0, to: Self.t0, previous: nil)
        #expect(out.count == 1)
        #expect(issues.count == 2 && issues.allSatisfy { $0.counter == "profile_unreadable_times" })
    }

    @Test func invalidClockRowsAreKeptAndFlagged() throws {
        let rows = [Self.row(Self.t0, 1, clockStatus: 0x01), Self.row(Self.t0 + 900_000, 2, clockStatus: 0x80)]
        let (out, issues) = ProfileDecoder.decode(rows, header: try Self.header(), from: Self.t0, to: Self.t0 + 900_000, previous: nil)
        #expect(out.count == 2)
        #expect(out[0].status.flags == ["clock_invalid"] && out[0].status.clockInvalid)
        #expect(out[1].status.flags == ["daylight_saving"] && !out[1].status.clockInvalid)
        #expect(issues == [.clockInvalid(captureTime: Self.t0)])
    }

    @Test func aStatusColumnIsTheStatusWord() throws {
        let rows: [[DataValue]] = [[Self.row(Self.t0, 0)[0], .unsigned(0x82), .doubleLongUnsigned(5)]]
        let (out, issues) = ProfileDecoder.decode(rows, header: try Self.header(status: true), from: Self.t0, to: Self.t0, previous: nil)
        #expect(out[0].status.source == .profileStatus && out[0].status.word == 0x82)
        #expect(out[0].status.flags == ["clock_invalid", "power_down"])
        #expect(issues == [.clockInvalid(captureTime: Self.t0)])
    }

    @Test func outOfOrderRowsAreDropped() throws {
        let rows = [Self.row(Self.t0 + 900_000, 1), Self.row(Self.t0, 2), Self.row(Self.t0 + 1_800_000, 3)]
        let (out, issues) = ProfileDecoder.decode(rows, header: try Self.header(), from: Self.t0, to: Self.t0 + 1_800_000, previous: nil)
        #expect(out.map { $0.captureTime } == [Self.t0 + 900_000, Self.t0 + 1_800_000])
        #expect(issues == [.outOfOrder(captureTime: Self.t0, previous: Self.t0 + 900_000)])
    }

    @Test func aProfileWithoutClockColumnIsRefusedClearly() {
        #expect(throws: ProfileHeaderError.self) {
            try ProfileHeader(obis: Self.obis, columns: [Self.energy], capturePeriodSeconds: 900, scalers: [nil])
        }
        do {
            _ = try ProfileHeader(obis: Self.obis, columns: [Self.energy], capturePeriodSeconds: 900, scalers: [nil])
        } catch {
            #expect(error.description.contains("no clock column") && error.description.contains("DLMS_PROFILES"))
        }
    }

    @Test func periodZeroDetectsNoGaps() throws {
        let rows = [Self.row(Self.t0, 1), Self.row(Self.t0 + 86_000_000, 2)]
        let (out, issues) = ProfileDecoder.decode(rows, header: try Self.header(period: 0), from: Self.t0, to: Self.t0 + 86_400_000, previous: nil)
        #expect(out.count == 2 && issues.isEmpty)
    }
}
