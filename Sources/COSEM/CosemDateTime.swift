// COSEM date and time (Blue Book 4.1.6.1): a 12-byte octet-string with "not specified" markers, a deviation
// from UTC in minutes and a clock status byte. The conversion to Unix time is plain days-from-civil
// arithmetic in Int64 (no Foundation, no overflow on 32-bit ARM).

/// The clock status byte of a COSEM date-time.
public struct ClockStatus: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The time could not be recovered after a power failure.
    public static let invalidValue = ClockStatus(rawValue: 0x01)
    /// The time may be wrong (recovered, but not certain).
    public static let doubtfulValue = ClockStatus(rawValue: 0x02)
    /// The clock runs on another time base than the one configured.
    public static let differentClockBase = ClockStatus(rawValue: 0x04)
    /// The status itself is invalid.
    public static let invalidClockStatus = ClockStatus(rawValue: 0x08)
    /// Daylight saving time is active.
    public static let daylightSavingActive = ClockStatus(rawValue: 0x80)
    /// 0xFF: "not specified".
    public static let notSpecified = ClockStatus(rawValue: 0xFF)

    /// True when the meter flags the time as not trustworthy (invalid or doubtful), unless not specified.
    public var isSuspect: Bool {
        self != .notSpecified && !intersection([.invalidValue, .doubtfulValue, .invalidClockStatus]).isEmpty
    }
}

/// How a meter's `deviation` field relates local time to UTC. The Blue Book says UTC = local + deviation
/// (so Central European Time has deviation -60); many meters send the opposite sign. The meter wins: pick
/// the convention per meter.
public enum DeviationConvention: Sendable, Hashable {
    /// Blue Book: UTC = local time + deviation (CET = -60).
    case standard
    /// Many meters: local time = UTC + deviation (CET = +60).
    case localMinusUTC
}

/// A COSEM date (5 bytes: year, month, day of month, day of week). 0xFF / 0xFFFF = not specified.
public struct CosemDate: Hashable, Sendable {
    public var year: UInt16
    public var month: UInt8
    public var dayOfMonth: UInt8
    public var dayOfWeek: UInt8

    public init(year: UInt16, month: UInt8, dayOfMonth: UInt8, dayOfWeek: UInt8 = 0xFF) {
        self.year = year; self.month = month; self.dayOfMonth = dayOfMonth; self.dayOfWeek = dayOfWeek
    }

    public var bytes: [UInt8] {
        [UInt8(truncatingIfNeeded: year >> 8), UInt8(truncatingIfNeeded: year), month, dayOfMonth, dayOfWeek]
    }

    public static let byteCount = 5

    init(reading r: inout ByteReader) throws(COSEMError) {
        try r.need(5, "a date")
        self.init(year: try r.u16(), month: try r.u8(), dayOfMonth: try r.u8(), dayOfWeek: try r.u8())
    }
}

/// A COSEM time (4 bytes: hour, minute, second, hundredths). 0xFF = not specified.
public struct CosemTime: Hashable, Sendable {
    public var hour: UInt8
    public var minute: UInt8
    public var second: UInt8
    public var hundredths: UInt8

    public init(hour: UInt8, minute: UInt8, second: UInt8, hundredths: UInt8 = 0xFF) {
        self.hour = hour; self.minute = minute; self.second = second; self.hundredths = hundredths
    }

    public var bytes: [UInt8] { [hour, minute, second, hundredths] }

    public static let byteCount = 4

    init(reading r: inout ByteReader) throws(COSEMError) {
        try r.need(4, "a time")
        self.init(hour: try r.u8(), minute: try r.u8(), second: try r.u8(), hundredths: try r.u8())
    }
}

/// A COSEM date-time: 12 bytes `YY YY MM DD WD hh mm ss cc DV DV ST`.
///
/// Fields keep their wire values, including the "not specified" markers (0xFF, year 0xFFFF, deviation
/// 0x8000), so a decoded value re-encodes to the same bytes.
public struct CosemDateTime: Hashable, Sendable, CustomStringConvertible {
    public var date: CosemDate
    public var time: CosemTime
    /// Minutes between local time and UTC (see `DeviationConvention`); `CosemDateTime.deviationNotSpecified`
    /// (-32768, wire 0x8000) when the meter does not say.
    public var deviation: Int16
    public var clockStatus: ClockStatus

    public static let deviationNotSpecified: Int16 = Int16.min
    public static let byteCount = 12

    public init(date: CosemDate, time: CosemTime, deviation: Int16 = Int16.min,
                clockStatus: ClockStatus = .notSpecified) {
        self.date = date; self.time = time; self.deviation = deviation; self.clockStatus = clockStatus
    }

    public init(year: UInt16, month: UInt8, day: UInt8, hour: UInt8, minute: UInt8, second: UInt8,
                hundredths: UInt8 = 0, deviation: Int16 = Int16.min, clockStatus: ClockStatus = .notSpecified,
                dayOfWeek: UInt8? = nil) {
        var dow: UInt8 = 0xFF
        if let dayOfWeek { dow = dayOfWeek } else if year != 0xFFFF, (1...12).contains(month),
            day >= 1, day <= daysInMonth(Int64(year), Int64(month)) {
            dow = weekday(daysFromCivil(Int64(year), Int64(month), Int64(day)))
        }
        self.init(date: CosemDate(year: year, month: month, dayOfMonth: day, dayOfWeek: dow),
                  time: CosemTime(hour: hour, minute: minute, second: second, hundredths: hundredths),
                  deviation: deviation, clockStatus: clockStatus)
    }

    /// From exactly 12 bytes (an octet-string(12) or the payload of A-XDR tag 0x19).
    public init(bytes: [UInt8]) throws(COSEMError) {
        var r = ByteReader(bytes)
        try self.init(reading: &r)
        try r.expectEnd()
    }

    init(reading r: inout ByteReader) throws(COSEMError) {
        try r.need(12, "a date-time")
        let date = try CosemDate(reading: &r)
        let time = try CosemTime(reading: &r)
        let deviation = Int16(bitPattern: try r.u16())
        let status = ClockStatus(rawValue: try r.u8())
        self.init(date: date, time: time, deviation: deviation, clockStatus: status)
    }

    /// The 12 wire bytes.
    public var bytes: [UInt8] {
        var out = date.bytes + time.bytes
        out.appendU16(UInt16(bitPattern: deviation))
        out.append(clockStatus.rawValue)
        return out
    }

    /// Milliseconds since 1970-01-01T00:00:00Z.
    ///
    /// - Parameters:
    ///   - convention: the sign convention of `deviation` this meter uses.
    ///   - assumedDeviation: used when the meter's deviation is "not specified" (pass the configured zone
    ///     offset in the same convention); nil makes an unspecified deviation an error.
    /// - Throws: `COSEMError.dateTimeNotSpecified` when a date or time field is not specified or out of range.
    ///   Unspecified hundredths count as 0.
    public func unixMilliseconds(convention: DeviationConvention = .standard,
                                 assumedDeviation: Int16? = nil) throws(COSEMError) -> Int64 {
        let y = Int64(date.year), mo = Int64(date.month), d = Int64(date.dayOfMonth)
        guard date.year != 0xFFFF else { throw COSEMError.dateTimeNotSpecified(field: "year") }
        guard (1...12).contains(mo) else { throw COSEMError.dateTimeNotSpecified(field: "month") }
        guard d >= 1, d <= daysInMonth(y, mo) else { throw COSEMError.dateTimeNotSpecified(field: "day") }
        guard time.hour < 24 else { throw COSEMError.dateTimeNotSpecified(field: "hour") }
        guard time.minute < 60 else { throw COSEMError.dateTimeNotSpecified(field: "minute") }
        guard time.second < 60 else { throw COSEMError.dateTimeNotSpecified(field: "second") }
        let cs: Int64
        if time.hundredths == 0xFF { cs = 0 } else if time.hundredths < 100 { cs = Int64(time.hundredths) } else {
            throw COSEMError.dateTimeNotSpecified(field: "hundredths")
        }
        var dev = deviation
        if dev == Self.deviationNotSpecified {
            guard let assumedDeviation else { throw COSEMError.dateTimeNotSpecified(field: "deviation") }
            dev = assumedDeviation
        }
        guard dev >= -840, dev <= 840 else { throw COSEMError.dateTimeNotSpecified(field: "deviation") }
        let days = daysFromCivil(y, mo, d)
        let localSeconds = days * 86_400 + Int64(time.hour) * 3600 + Int64(time.minute) * 60 + Int64(time.second)
        let offsetSeconds = Int64(dev) * 60
        let utcSeconds = convention == .standard ? localSeconds + offsetSeconds : localSeconds - offsetSeconds
        return utcSeconds * 1000 + cs * 10
    }

    /// The local date-time of instant `unixMilliseconds` with the given deviation (in `convention`), the day
    /// of week filled in and the hundredths from the milliseconds.
    public init(unixMilliseconds ms: Int64, deviation: Int16 = 0, convention: DeviationConvention = .standard,
                clockStatus: ClockStatus = ClockStatus(rawValue: 0)) {
        // Instants beyond ±2^62 ms (±146 million years) are clamped, so no input can overflow.
        let limit: Int64 = 1 << 62
        let clamped = Swift.min(Swift.max(ms, -limit), limit)
        let offsetMs = Int64(deviation) * 60_000
        let local = convention == .standard ? clamped - offsetMs : clamped + offsetMs
        let days = floorDiv(local, 86_400_000)
        let msOfDay = local - days * 86_400_000
        let (y, m, d) = civilFromDays(days)
        let year = UInt16(clamping: y)
        self.init(
            date: CosemDate(year: year, month: UInt8(m), dayOfMonth: UInt8(d), dayOfWeek: weekday(days)),
            time: CosemTime(hour: UInt8(msOfDay / 3_600_000), minute: UInt8(msOfDay / 60_000 % 60),
                            second: UInt8(msOfDay / 1000 % 60), hundredths: UInt8(msOfDay % 1000 / 10)),
            deviation: deviation, clockStatus: clockStatus)
    }

    /// `2026-11-22 03:57:05.00 dev -60 status 00`, with `*` for not-specified fields.
    public var description: String {
        func f(_ v: UInt8, _ width: Int) -> String {
            if v == 0xFF { return width == 2 ? "**" : "*" }
            return v < 10 && width == 2 ? "0\(v)" : "\(v)"
        }
        let y = date.year == 0xFFFF ? "****" : "\(date.year)"
        var text = "\(y)-\(f(date.month, 2))-\(f(date.dayOfMonth, 2)) \(f(time.hour, 2)):\(f(time.minute, 2))"
        text += ":\(f(time.second, 2)).\(f(time.hundredths, 2))"
        text += deviation == Self.deviationNotSpecified ? " dev *" : " dev \(deviation)"
        text += " status " + hex(clockStatus.rawValue)
        return text
    }
}

// MARK: - Calendar arithmetic (proleptic Gregorian, after H. Hinnant's days_from_civil)

func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}

/// Days since 1970-01-01 of the civil date y-m-d.
func daysFromCivil(_ year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
    let y = month <= 2 ? year - 1 : year
    let era = floorDiv(y, 400)
    let yoe = y - era * 400
    let mp = month > 2 ? month - 3 : month + 9
    let doy = (153 * mp + 2) / 5 + day - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146_097 + doe - 719_468
}

/// The civil date of `days` since 1970-01-01.
func civilFromDays(_ days: Int64) -> (Int64, Int64, Int64) {
    let z = days + 719_468
    let era = floorDiv(z, 146_097)
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let d = doy - (153 * mp + 2) / 5 + 1
    let m = mp < 10 ? mp + 3 : mp - 9
    return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
}

/// ISO day of week (Monday = 1 ... Sunday = 7) of `days` since 1970-01-01 (a Thursday).
func weekday(_ days: Int64) -> UInt8 {
    UInt8((days % 7 + 7 + 3) % 7 + 1)
}

func daysInMonth(_ year: Int64, _ month: Int64) -> Int64 {
    switch month {
    case 4, 6, 9, 11: return 30
    case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
    default: return 31
    }
}
