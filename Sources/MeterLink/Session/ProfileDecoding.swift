import COSEM

// Profile generic rows as data: the header of one association, decoded rows, and what was wrong with the
// meter's answer. Pure functions of their inputs (no I/O), so every bad-input case has a unit test.

/// The header of a profile generic as read in one association: what each column of a row is.
public struct ProfileHeader: Sendable, Equatable {
    public var obis: ObisCode
    /// The capture objects (attribute 3), one per column.
    public var columns: [CaptureObjectDefinition]
    /// Attribute 4; 0 means captures happen on events (an event log), not periodically.
    public var capturePeriodSeconds: UInt32
    /// Scaler and unit per column (registers), nil for the others or when the meter refused them.
    public var scalers: [ScalerUnit?]
    /// The column holding the capture time (the clock 0-0:1.0.0.255 attribute 2).
    public var clockColumn: Int
    /// The column holding a profile status word (class 1 data `x-x:96.10.x.255`), when there is one.
    public var statusColumn: Int?

    public init(obis: ObisCode, columns: [CaptureObjectDefinition], capturePeriodSeconds: UInt32,
                scalers: [ScalerUnit?]) throws(ProfileHeaderError) {
        guard let clock = columns.firstIndex(where: { $0.classId == InterfaceClass.clock.rawValue && $0.attribute == 2 }) else {
            throw ProfileHeaderError(
                "profile \(obis.fullDescription) has no clock column among its \(columns.count) capture objects: its rows "
                + "cannot be placed in time nor read by range; remove it from DLMS_PROFILES")
        }
        self.obis = obis
        self.columns = columns
        self.capturePeriodSeconds = capturePeriodSeconds
        self.scalers = scalers
        self.clockColumn = clock
        self.statusColumn = columns.firstIndex { c in
            c.classId == InterfaceClass.data.rawValue && c.obis.c == 96 && c.obis.d == 10 && c.attribute == 2
        }
    }
}

/// A header that cannot be used; the description says why and what to do.
public struct ProfileHeaderError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The status of one row: the profile's own status word when it has a status column (AMR profile status,
/// IDIS/DSMR bit layout), else the clock status byte of the capture time.
public struct ProfileRowStatus: Sendable, Equatable {
    public enum Source: String, Sendable { case profileStatus = "profile_status", clockStatus = "clock_status" }
    public var source: Source
    public var word: UInt32

    /// The names of the set bits: `clock_invalid`, `power_down`, `daylight_saving`, ...
    public var flags: [String] {
        let names: [(UInt32, String)]
        switch source {
        case .profileStatus:
            names = [(0x01, "critical_error"), (0x02, "clock_invalid"), (0x04, "data_not_valid"),
                     (0x08, "daylight_saving"), (0x20, "clock_adjusted"), (0x40, "recovered_value"),
                     (0x80, "power_down")]
        case .clockStatus:
            if word == 0xFF { return [] }  // not specified
            names = [(0x01, "clock_invalid"), (0x02, "clock_doubtful"), (0x04, "different_clock_base"),
                     (0x08, "clock_status_invalid"), (0x80, "daylight_saving")]
        }
        return names.filter { word & $0.0 != 0 }.map { $0.1 }
    }

    /// True when the row's time cannot be trusted.
    public var clockInvalid: Bool { flags.contains("clock_invalid") || flags.contains("clock_status_invalid") }
}

/// One row of a profile, placed in time.
public struct ProfileRow: Sendable, Equatable {
    /// The capture time, UTC milliseconds (from the meter's clock and its deviation).
    public var captureTime: Int64
    public var status: ProfileRowStatus
    /// The cells as sent, one per column of the header.
    public var cells: [DataValue]
}

/// Something wrong or notable in a profile answer. Each is counted and logged; none stops the collection.
public enum ProfileIssue: Sendable, Equatable, CustomStringConvertible {
    /// Rows missing from the meter's buffer between two rows (it was unpowered): reported, never filled.
    case gap(after: Int64, before: Int64, missingRows: Int64)
    /// The buffer wrapped while nobody read it: rows after the cursor up to the oldest row are lost.
    case lossWindow(after: Int64, oldest: Int64)
    /// A row outside the requested range (the meter ignored the range): dropped.
    case rowOutsideRange(captureTime: Int64, from: Int64, to: Int64)
    /// A row with another number of cells than the header has columns: dropped, never mis-decoded.
    case rowShape(cells: Int, columns: Int)
    /// A row whose capture time is not a date-time or is not specified: dropped.
    case unreadableCaptureTime(String)
    /// A row whose clock status or status word says the time is invalid: kept, flagged.
    case clockInvalid(captureTime: Int64)
    /// A row not after the one before it: dropped (rows go out in capture-time order).
    case outOfOrder(captureTime: Int64, previous: Int64)
    /// The capture objects changed (the meter was reconfigured): the header was read again.
    case captureObjectsChanged(oldColumns: Int, newColumns: Int)
    /// The capture period is 0 (captures on events): read in fixed windows, gaps cannot be detected.
    case asynchronousCapture

    /// The health counter this issue increments.
    public var counter: String {
        switch self {
        case .gap: return "profile_gaps"
        case .lossWindow: return "profile_loss_windows"
        case .rowOutsideRange: return "profile_rows_outside_range"
        case .rowShape: return "profile_short_rows"
        case .unreadableCaptureTime: return "profile_unreadable_times"
        case .clockInvalid: return "profile_invalid_clock_rows"
        case .outOfOrder: return "profile_out_of_order_rows"
        case .captureObjectsChanged: return "profile_header_changes"
        case .asynchronousCapture: return "profile_asynchronous"
        }
    }

    public var description: String {
        switch self {
        case let .gap(after, before, missing):
            return "gap in the meter's buffer: \(missing) row(s) missing between \(utcText(after)) and \(utcText(before)) "
                + "(the meter recorded nothing then, e.g. it was unpowered); not filled"
        case let .lossWindow(after, oldest):
            return "loss window: the meter's buffer wrapped while it was not read; rows after \(utcText(after)) and before "
                + "its oldest row \(utcText(oldest)) are gone (shorten outages or raise the meter's profile depth)"
        case let .rowOutsideRange(t, from, to):
            return "the meter sent a row at \(utcText(t)) outside the requested range \(utcText(from)) ... \(utcText(to)): dropped"
        case let .rowShape(cells, columns):
            return "a row with \(cells) value(s) where the header has \(columns) column(s): dropped, not decoded"
        case let .unreadableCaptureTime(what):
            return "a row whose capture time cannot be read (\(what)): dropped"
        case let .clockInvalid(t):
            return "a row at \(utcText(t)) whose status says the meter's clock was invalid: published with clock_invalid"
        case let .outOfOrder(t, previous):
            return "a row at \(utcText(t)) not after the row before it (\(utcText(previous))): dropped"
        case let .captureObjectsChanged(old, new):
            return "the capture objects changed (\(old) → \(new) columns; the meter was reconfigured): header read again, "
                + "rows decoded with the new layout"
        case .asynchronousCapture:
            return "capture period 0 (captures on events): read in windows of a day; gaps cannot be detected"
        }
    }
}

/// `2026-12-07T01:02:03Z`.
public func utcText(_ unixMilliseconds: Int64) -> String {
    let t = CosemDateTime(unixMilliseconds: unixMilliseconds)
    func two(_ v: UInt8) -> String { v < 10 ? "0\(v)" : "\(v)" }
    return "\(t.date.year)-\(two(t.date.month))-\(two(t.date.dayOfMonth))T\(two(t.time.hour)):\(two(t.time.minute)):\(two(t.time.second))Z"
}

/// Decodes buffer rows against a header.
public enum ProfileDecoder {
    /// The rows of a range answer (`from...to`, UTC ms), in order, after `previous` (the capture time of the
    /// last row already handed on; nil on a first start). Rows at or before `previous` are repeats of the
    /// inclusive range and are dropped silently; `meterDeviation` is used when a row's deviation is not
    /// specified. Gaps are detected between rows and from `previous` when the capture period is known.
    /// `rangeAskedOfMeter` false (the whole buffer was read) drops rows outside the range without an issue.
    public static func decode(_ cells: [[DataValue]], header: ProfileHeader, from: Int64, to: Int64,
                              previous: Int64?, meterDeviation: Int16 = 0, rangeAskedOfMeter: Bool = true)
        -> (rows: [ProfileRow], issues: [ProfileIssue])
    {
        var rows: [ProfileRow] = []
        var issues: [ProfileIssue] = []
        var last = previous
        let periodMs = Int64(header.capturePeriodSeconds) * 1000
        for row in cells {
            guard row.count == header.columns.count else {
                issues.append(.rowShape(cells: row.count, columns: header.columns.count))
                continue
            }
            let dateTime: CosemDateTime
            do { dateTime = try Clock.time(row[header.clockColumn]) } catch {
                issues.append(.unreadableCaptureTime(error.description))
                continue
            }
            let time: Int64
            do { time = try dateTime.unixMilliseconds(assumedDeviation: meterDeviation) } catch {
                issues.append(.unreadableCaptureTime(error.description))
                continue
            }
            // Outside the range first: a row before `from` is not a repeat when it is after the cursor.
            if time > to || (time < from && (previous.map { time > $0 } ?? true)) {
                if rangeAskedOfMeter { issues.append(.rowOutsideRange(captureTime: time, from: from, to: to)) }
                continue
            }
            if let last, time <= last {
                if previous == nil || time > previous! { issues.append(.outOfOrder(captureTime: time, previous: last)) }
                continue
            }
            var status = ProfileRowStatus(source: .clockStatus, word: UInt32(dateTime.clockStatus.rawValue))
            if let column = header.statusColumn, let word = row[column].unsignedValue {
                status = ProfileRowStatus(source: .profileStatus, word: UInt32(truncatingIfNeeded: word))
            }
            if status.clockInvalid { issues.append(.clockInvalid(captureTime: time)) }
            if periodMs > 0, let last, time - last > periodMs {
                let missing = (time - last) / periodMs - ((time - last) % periodMs == 0 ? 1 : 0)
                if missing > 0 { issues.append(.gap(after: last, before: time, missingRows: missing)) }
            }
            rows.append(ProfileRow(captureTime: time, status: status, cells: row))
            last = time
        }
        return (rows, issues)
    }
}
