import COSEM
import Testing

@Suite struct DataValueTests {
    static let samples: [(DataValue, String)] = [
        (.null, "00"),
        (.boolean(true), "03 01"),
        (.boolean(false), "03 00"),
        (.bitString(BitString(bitCount: 12, bytes: [0xAB, 0xC0])), "04 0C AB C0"),
        (.doubleLong(-2), "05 FF FF FF FE"),
        (.doubleLongUnsigned(0x0102_0304), "06 01 02 03 04"),
        (.octetString([1, 1, 32, 7, 0, 255]), "09 06 01 01 20 07 00 FF"),
        (.visibleString(Array("MSX".utf8)), "0A 03 4D 53 58"),
        (.utf8String(Array("añ".utf8)), "0C 03 61 C3 B1"),
        (.bcd(0x42), "0D 42"),
        (.integer(-1), "0F FF"),
        (.long(-300), "10 FE D4"),
        (.unsigned(200), "11 C8"),
        (.longUnsigned(2301), "12 08 FD"),
        (.compactArray(CompactArray(typeDescription: hx("01 00 03 12"), contents: hx("00 01 00 02 00 03"))),
         "13 01 00 03 12 06 00 01 00 02 00 03"),
        (.long64(-1), "14 FF FF FF FF FF FF FF FF"),
        (.long64Unsigned(0x0102_0304_0506_0708), "15 01 02 03 04 05 06 07 08"),
        (.enumerated(35), "16 23"),
        (.float32(1.5), "17 3F C0 00 00"),
        (.float64(-2.25), "18 C0 02 00 00 00 00 00 00"),
        (.dateTime(CosemDateTime(year: 2026, month: 11, day: 22, hour: 3, minute: 57, second: 5, hundredths: 0,
                                 deviation: -60, clockStatus: ClockStatus(rawValue: 0x80))),
         "19 07 EA 0B 16 07 03 39 05 00 FF C4 80"),
        (.date(CosemDate(year: 0xFFFF, month: 12, dayOfMonth: 0xFE)), "1A FF FF 0C FE FF"),
        (.time(CosemTime(hour: 23, minute: 59, second: 0xFF)), "1B 17 3B FF FF"),
        (.structure([.integer(-1), .enumerated(35)]), "02 02 0F FF 16 23"),
        (.array([.unsigned(1), .unsigned(2)]), "01 02 11 01 11 02"),
    ]

    @Test(arguments: 0..<samples.count)
    func everyTypeEncodesAndDecodes(_ index: Int) throws {
        let (value, hex) = Self.samples[index]
        #expect(value.encoded == hx(hex), "\(value.typeName)")
        #expect(try DataValue.decode(hx(hex)) == value, "\(value.typeName)")
    }

    @Test func lengthForms() throws {
        for (count, prefix) in [(0x7F, "7F"), (0x80, "81 80"), (0xFF, "81 FF"), (0x100, "82 01 00"),
                                (0xFFFF, "82 FF FF"), (0x10000, "84 00 01 00 00")] {
            let value = DataValue.octetString(Array(repeating: 0x55, count: count))
            #expect(Array(value.encoded.prefix(1 + hx(prefix).count)) == [0x09] + hx(prefix))
            #expect(try DataValue.decode(value.encoded) == value)
        }
        // 83 (three length bytes) is valid BER and accepted on decode.
        #expect(try DataValue.decode(hx("09 83 00 00 02 AA BB")) == .octetString([0xAA, 0xBB]))
    }

    @Test func truncatedLengthSaysWhereAndHowMuch() {
        // An octet-string claiming 300 bytes with 12 left.
        let bytes = hx("C4 01 C1 00 09 82 01 2C") + Array(repeating: 0, count: 12)
        let error = caught { () throws(COSEMError) in try GetResponse.decode(bytes) }
        #expect(error == .lengthExceedsInput(at: 5, declared: 300, remaining: 12))
        #expect(error?.description == "A-XDR length at byte 5 says 300 bytes but only 12 remain: the response was truncated (check the link for dropped frames, or lower the max PDU size)")
    }

    @Test func rejectsBadInputCleanly() {
        #expect(caught { () throws(COSEMError) in try DataValue.decode(hx("07 00")) } == .unknownDataTag(at: 0, tag: 0x07))
        #expect(caught { () throws(COSEMError) in try DataValue.decode(hx("09 80")) } == .invalidLengthForm(at: 1, byte: 0x80))
        #expect(caught { () throws(COSEMError) in try DataValue.decode(hx("09 85 00 00 00 00 01")) } == .invalidLengthForm(at: 1, byte: 0x85))
        #expect(caught { () throws(COSEMError) in try DataValue.decode(hx("12 08")) }
                == .truncated(at: 1, needed: 2, remaining: 1, what: "a long-unsigned"))
        #expect(caught { () throws(COSEMError) in try DataValue.decode(hx("11 01 00")) } == .trailingBytes(at: 2, count: 1))
        // A 4-byte length of 4 GiB: rejected before allocating.
        #expect(caught { () throws(COSEMError) in try DataValue.decode(hx("01 84 FF FF FF FF 00")) }
                == .lengthExceedsInput(at: 1, declared: Int(Int32.max), remaining: 1))
        #expect(caught { () throws(COSEMError) in try DataValue.decode(hx("19 07 EA")) } != nil)
    }

    @Test func depthLimit() {
        let deep: [UInt8] = (0..<100).flatMap { _ in [UInt8(0x02), 0x01] } + [0x00]
        let error = caught { () throws(COSEMError) in try DataValue.decode(deep) }
        #expect(error == .nestingTooDeep(at: 32, limit: 16))
        var ok: [UInt8] = (0..<16).flatMap { _ in [UInt8(0x01), 0x01] } + [0x00]
        #expect(caught { () throws(COSEMError) in try DataValue.decode(ok) } == nil)
        ok = (0..<17).flatMap { _ in [UInt8(0x01), 0x01] } + [0x00]
        #expect(caught { () throws(COSEMError) in try DataValue.decode(ok) } == .nestingTooDeep(at: 32, limit: 16))
    }

    @Test func elementAndSizeLimits() {
        let limits = DecodingLimits(maxDepth: 4, maxElements: 3, maxValueBytes: 4)
        #expect(caught { () throws(COSEMError) in try DataValue.decode(hx("01 04 00 00 00 00"), limits: limits) }
                == .tooManyElements(at: 1, count: 4, limit: 3))
        #expect(caught { () throws(COSEMError) in try DataValue.decode(hx("01 02 01 02 00 00 00"), limits: limits) }
                == .tooManyElements(at: 3, count: 2, limit: 3))
        #expect(caught { () throws(COSEMError) in try DataValue.decode(hx("09 05 01 02 03 04 05"), limits: limits) }
                == .valueTooLarge(at: 1, size: 5, limit: 4))
    }

    @Test func accessors() {
        #expect(DataValue.longUnsigned(2301).integerValue == 2301)
        #expect(DataValue.float32(0.5).doubleValue == 0.5)
        #expect(DataValue.octetString([1, 1, 32, 7, 0, 255]).obisValue == ObisCode(1, 1, 32, 7, 0))
        #expect(DataValue.visibleString(Array("abc".utf8)).text == "abc")
        #expect(DataValue.structure([.integer(-1), .enumerated(35)]).description == "structure[2] { integer -1, enum 35 }")
        #expect(DataValue.float32(.nan) == DataValue.float32(.nan))
    }
}

@Suite struct DateTimeTests {
    @Test func unixRoundTrip() throws {
        // 2026-11-22T03:57:05.120Z = 1795319825120 ms.
        let ms: Int64 = 1_795_319_825_120
        let utc = CosemDateTime(unixMilliseconds: ms, deviation: 0)
        #expect(utc.date == CosemDate(year: 2026, month: 11, dayOfMonth: 22, dayOfWeek: 7))
        #expect(utc.time == CosemTime(hour: 3, minute: 57, second: 5, hundredths: 12))
        #expect(try utc.unixMilliseconds() == ms)
        // CET: Blue Book deviation -60, local hour 4.
        let cet = CosemDateTime(unixMilliseconds: ms, deviation: -60)
        #expect(cet.time.hour == 4)
        #expect(try cet.unixMilliseconds() == ms)
        // The opposite convention many meters use.
        let meter = CosemDateTime(unixMilliseconds: ms, deviation: 60, convention: .localMinusUTC)
        #expect(meter.time.hour == 4)
        #expect(try meter.unixMilliseconds(convention: .localMinusUTC) == ms)
    }

    @Test(arguments: [Int64(0), -10, 951_782_400_000, 4_102_444_800_000, -62_135_596_800_000, 253_402_300_799_990])
    func edgeInstants(_ ms: Int64) throws {
        #expect(try CosemDateTime(unixMilliseconds: ms).unixMilliseconds() == ms)
    }

    @Test func extremeInstantsDoNotTrap() {
        for ms in [Int64.max, Int64.min, Int64.max - 1, Int64.min + 1] {
            for deviation in [Int16.max, Int16.min, 0, 840, -840] {
                let dt = CosemDateTime(unixMilliseconds: ms, deviation: deviation)
                _ = try? dt.unixMilliseconds()
                _ = dt.description
            }
        }
        #expect(BitString(bitCount: -3, bytes: [1]).bitCount == 0)
        var odd = BitString(bitCount: 3, bytes: [0xE0])
        odd.bitCount = -9
        #expect(DataValue.bitString(odd).encoded == [0x04, 0x00])
    }

    @Test func knownDates() throws {
        #expect(try CosemDateTime(year: 1970, month: 1, day: 1, hour: 0, minute: 0, second: 0, deviation: 0).unixMilliseconds() == 0)
        #expect(try CosemDateTime(year: 2000, month: 2, day: 29, hour: 0, minute: 0, second: 0, deviation: 0).unixMilliseconds() == 951_782_400_000)
        #expect(CosemDateTime(year: 2000, month: 2, day: 29, hour: 0, minute: 0, second: 0).date.dayOfWeek == 2)
    }

    @Test func notSpecifiedFields() throws {
        let noDeviation = CosemDateTime(year: 2026, month: 1, day: 1, hour: 0, minute: 0, second: 0)
        #expect(caught { () throws(COSEMError) in try noDeviation.unixMilliseconds() } == .dateTimeNotSpecified(field: "deviation"))
        #expect(try noDeviation.unixMilliseconds(assumedDeviation: 0) == 1_767_225_600_000)
        let noYear = CosemDateTime(year: 0xFFFF, month: 1, day: 1, hour: 0, minute: 0, second: 0, deviation: 0)
        #expect(caught { () throws(COSEMError) in try noYear.unixMilliseconds() } == .dateTimeNotSpecified(field: "year"))
        let feb30 = CosemDateTime(year: 2026, month: 2, day: 30, hour: 0, minute: 0, second: 0, deviation: 0)
        #expect(caught { () throws(COSEMError) in try feb30.unixMilliseconds() } == .dateTimeNotSpecified(field: "day"))
    }

    @Test func bytesRoundTrip() throws {
        let bytes = hx("07 EA 0B 16 07 03 39 05 FF 80 00 FF")
        let dt = try CosemDateTime(bytes: bytes)
        #expect(dt.deviation == CosemDateTime.deviationNotSpecified)
        #expect(dt.clockStatus == .notSpecified)
        #expect(dt.bytes == bytes)
        #expect(dt.description == "2026-11-22 03:57:05.** dev * status FF")
    }
}
