import COSEM

/// One slice of a profile read by range.
public struct ProfileSlice: Sendable, Equatable {
    public var header: ProfileHeader
    /// New rows after the cursor, in capture-time order.
    public var rows: [ProfileRow]
    public var issues: [ProfileIssue]
    /// The range asked for (UTC ms, inclusive).
    public var from: Int64
    public var to: Int64
    /// Where the next slice starts (the scan moves on even through an empty window).
    public var nextFrom: Int64
    /// True when this slice reached the meter's now: the backlog is read.
    public var caughtUp: Bool
}

/// The one profile reader (`read --profile` and the agent's collection both use it): reads a profile
/// generic's header once per association (capture objects, capture period, the registers' scaler and unit),
/// then rows by clock range in bounded slices from a cursor to the meter's now. The header is read again
/// with every slice, in the same GET-With-List when the meter grants it (no extra round trip), so a
/// reconfigured meter is noticed before its rows are decoded.
///
/// Not thread-safe; one per meter and profile, used on the meter's thread.
public final class ProfileReader {
    public let obis: ObisCode
    /// The most rows one request asks for (the range spans this many capture periods).
    public let rowsPerSlice: Int
    /// The header of the current association (nil before the first read or after a re-association).
    public private(set) var header: ProfileHeader?
    private var headerAssociation = -1
    private var reportedAsynchronous = false

    /// The window of one request when the capture period is 0 (event logs): a day.
    public static let asynchronousWindowMilliseconds: Int64 = 86_400_000

    public init(obis: ObisCode, rowsPerSlice: Int = 48) {
        self.obis = obis
        self.rowsPerSlice = max(1, rowsPerSlice)
    }

    // MARK: Header

    /// True when the header of the session's current association is already read (no request needed).
    public func hasHeader(for session: MeterSession) -> Bool {
        header != nil && headerAssociation == session.counters.associations
    }

    /// The header for the session's current association: read (attributes 3 and 4, then the scalers) when
    /// the association is new, else the cached one.
    public func header(using session: MeterSession) throws(MeterError) -> ProfileHeader {
        if let header, headerAssociation == session.counters.associations { return header }
        let columns = try captureObjects(using: session)
        return try loadHeader(columns: columns, using: session)
    }

    private func captureObjects(_ value: DataValue) throws(MeterError) -> [CaptureObjectDefinition] {
        do { return try ProfileGeneric.captureObjects(value) } catch {
            throw MeterError(.objectUnavailable, "capture objects of profile \(obis.fullDescription) not understood: \(error.description)")
        }
    }

    private func captureObjects(using session: MeterSession) throws(MeterError) -> [CaptureObjectDefinition] {
        try captureObjects(try session.readAttribute(InterfaceClass.profileGeneric.attribute(3, of: obis)))
    }

    private func loadHeader(columns: [CaptureObjectDefinition], using session: MeterSession) throws(MeterError) -> ProfileHeader {
        let periodValue = try session.readAttribute(InterfaceClass.profileGeneric.attribute(4, of: obis))
        guard let period = periodValue.unsignedValue, period <= UInt64(UInt32.max) else {
            throw MeterError(.objectUnavailable,
                "capture period of profile \(obis.fullDescription) is \(periodValue.description), not a number of seconds")
        }
        // Scaler and unit of every register column, in one list request when granted.
        var requests: [AttributeRequest] = []
        var slots: [Int?] = []
        for c in columns {
            if c.attribute == 2, let kind = MeasurementKind(name: String(c.classId)), let attr = kind.scalerUnitAttribute {
                slots.append(requests.count)
                requests.append(AttributeRequest(AttributeDescriptor(classId: c.classId, obis: c.obis, attribute: attr)))
            } else {
                slots.append(nil)
            }
        }
        let results = requests.isEmpty ? [] : try session.readList(requests)
        // A register whose scaler cannot be read keeps its raw value (nil), as in the poll.
        let scalers: [ScalerUnit?] = slots.map { slot in
            guard let slot, slot < results.count, case let .success(v) = results[slot] else { return nil }
            return try? ScalerUnit(v)
        }
        let made: ProfileHeader
        do {
            made = try ProfileHeader(obis: obis, columns: columns, capturePeriodSeconds: UInt32(period), scalers: scalers)
        } catch {
            throw MeterError(.objectUnavailable, error.description)
        }
        header = made
        headerAssociation = session.counters.associations
        return made
    }

    // MARK: The oldest row

    /// The capture time of the oldest row in the meter's buffer (entry 1, clock column only), or nil when
    /// the buffer is empty. One small request; used to start a backfill and to tell a loss from a gap.
    public func oldestCaptureTime(using session: MeterSession, meterDeviation: Int16 = 0) throws(MeterError) -> Int64? {
        let h = try header(using: session)
        let column = UInt16(h.clockColumn + 1)
        let value = try session.readAttribute(InterfaceClass.profileGeneric.attribute(2, of: obis),
                                              access: .byEntry(fromEntry: 1, toEntry: 1, fromValue: column, toValue: column))
        let rows: [[DataValue]]
        do { rows = try ProfileGeneric.rows(value) } catch {
            throw MeterError(.objectUnavailable, "the first entry of profile \(obis.fullDescription) not understood: \(error.description)")
        }
        guard let first = rows.first?.first else { return nil }
        guard let time = try? Clock.time(first).unixMilliseconds(assumedDeviation: meterDeviation) else {
            throw MeterError(.objectUnavailable, "the oldest row of profile \(obis.fullDescription) has no readable capture time")
        }
        return time
    }

    // MARK: Slices

    /// The end of the slice starting at `from`, for a meter whose clock reads `meterNow`.
    public func sliceEnd(from: Int64, meterNow: Int64, header: ProfileHeader) -> Int64 {
        let span = header.capturePeriodSeconds > 0
            ? Int64(header.capturePeriodSeconds) * 1000 * Int64(rowsPerSlice) - 1000
            : Self.asynchronousWindowMilliseconds
        return min(from + max(0, span), meterNow)
    }

    /// Reads the rows in `from ... min(from + slice, meterNow)` (UTC ms) after `previous` (the cursor: the
    /// capture time of the last row handed on; nil on a first start). One request (header and rows in one
    /// GET-With-List when granted) plus its blocks; a gap right after the cursor costs one more request
    /// (the oldest entry) to tell a wrapped buffer (a loss window) from rows the meter never recorded.
    public func readSlice(using session: MeterSession, from: Int64, previous: Int64?, meterNow: Int64,
                          meterDeviation: Int16 = 0) throws(MeterError) -> ProfileSlice {
        var h = try header(using: session)
        var issues: [ProfileIssue] = []
        if h.capturePeriodSeconds == 0 && !reportedAsynchronous {
            reportedAsynchronous = true
            issues.append(.asynchronousCapture)
        }
        let to = sliceEnd(from: from, meterNow: meterNow, header: h)
        // Without selective access the whole buffer comes and is filtered here (the rows outside are expected).
        let selective = session.granted?.contains(.selectiveAccess) ?? false
        // Range bounds in the meter's own deviation: some meters compare local time fields.
        let access = SelectiveAccess.byRange(
            restrictingObject: h.columns[h.clockColumn],
            from: .octetString(CosemDateTime(unixMilliseconds: from, deviation: meterDeviation).bytes),
            to: .octetString(CosemDateTime(unixMilliseconds: to, deviation: meterDeviation).bytes),
            selectedValues: [])
        let bufferAttribute = InterfaceClass.profileGeneric.attribute(2, of: obis)
        let answers = try session.readList([
            AttributeRequest(InterfaceClass.profileGeneric.attribute(3, of: obis)),
            AttributeRequest(bufferAttribute, access: selective ? access : nil),
        ])
        let columns = try captureObjects(try answers[0].get())
        var buffer = try answers[1].get()
        if columns != h.columns {
            issues.append(.captureObjectsChanged(oldColumns: h.columns.count, newColumns: columns.count))
            h = try loadHeader(columns: columns, using: session)
            // The rows may predate the answer's header (a change between the two reads): read them again.
            buffer = try session.readAttribute(bufferAttribute, access: selective ? access : nil)
            if try captureObjects(using: session) != h.columns {
                throw MeterError(.objectUnavailable,
                    "the capture objects of profile \(obis.fullDescription) keep changing; its rows are not decoded now")
            }
        }
        let cells: [[DataValue]]
        do { cells = try ProfileGeneric.rows(buffer) } catch {
            throw MeterError(.objectUnavailable, "buffer of profile \(obis.fullDescription) not understood: \(error.description)")
        }
        let decoded = ProfileDecoder.decode(cells, header: h, from: from, to: to, previous: previous,
                                            meterDeviation: meterDeviation, rangeAskedOfMeter: selective)
        issues += decoded.issues
        // A gap right after the cursor is a loss when the row after it is the oldest the meter still has.
        if let previous, let first = decoded.rows.first,
            let index = issues.firstIndex(where: { if case let .gap(after, _, _) = $0 { return after == previous } else { return false } }),
            let oldest = try oldestCaptureTime(using: session, meterDeviation: meterDeviation), oldest >= first.captureTime {
            issues[index] = .lossWindow(after: previous, oldest: oldest)
        }
        return ProfileSlice(header: h, rows: decoded.rows, issues: issues, from: from, to: to,
                            nextFrom: (to / 1000 + 1) * 1000, caughtUp: to >= meterNow)
    }

    /// Reads everything in `from ... to` (the `read --profile` command): slices until `to`.
    public func readRange(using session: MeterSession, from: Int64, to: Int64, meterDeviation: Int16 = 0)
        throws(MeterError) -> (header: ProfileHeader, rows: [ProfileRow], issues: [ProfileIssue])
    {
        var rows: [ProfileRow] = []
        var issues: [ProfileIssue] = []
        var start = from
        var previous: Int64? = nil
        var h = try header(using: session)
        while start <= to {
            let slice = try readSlice(using: session, from: start, previous: previous, meterNow: to, meterDeviation: meterDeviation)
            h = slice.header
            rows += slice.rows
            issues += slice.issues
            previous = slice.rows.last?.captureTime ?? previous
            if slice.caughtUp { break }
            start = slice.nextFrom
        }
        return (h, rows, issues)
    }
}
