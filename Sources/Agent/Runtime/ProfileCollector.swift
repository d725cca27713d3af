import COSEM
import MeterLink

/// A meter's profile collection and clock check, driven after each poll on the meter's thread through
/// MeterLink's one ``ProfileReader`` per profile.
///
/// Per slot it makes at most one profile request (a slice by range, or the oldest-entry probe of a first
/// start; at a new association the header's few requests instead), round robin over the profiles that are due; a profile that has caught up with the meter's now
/// is next due one capture period after its last row. The position is the spool's cursor (the capture time
/// of the last row stored), so a restart continues where the stored rows end; in memory only the scan
/// past empty windows (a long gap) is kept.
final class ProfileCollector {
    let profiles: [ProfileConfiguration]
    let settings: ProfileSettings
    let pollPeriodMilliseconds: Int64
    let catalog: MeasurementCatalog
    private let readers: [ProfileReader]
    /// Per profile: where the scan goes on when it is past the cursor (empty windows), or the start of a
    /// first collection.
    private var scanFrom: [Int64?]
    /// Per profile: meter time (UTC ms) before which the profile is not read again (it is caught up).
    private var notBefore: [Int64]
    /// Per profile: the last failure logged (a repeated failure is counted, not logged again).
    private var lastFailure: [String?]
    /// Per profile: an empty slice after the cursor asks for the oldest row at the next slot (a buffer that
    /// wrapped during a long outage is then skipped to in one request, not in empty slices); once per scan.
    private var probeOldest: [Bool]
    private var probed: [Bool]
    private var nextProfile = 0
    /// The association whose clock was read, the meter's clock minus the gateway's, its deviation.
    private var clockAssociation = -1
    private(set) var driftMilliseconds: Int64 = 0
    private(set) var deviation: Int16 = 0
    private var refusalReported = false

    /// An event log (capture period 0) caught up is read again after this long.
    static let asynchronousRecheckMilliseconds: Int64 = 60_000

    init(settings: ProfileSettings, pollPeriodMilliseconds: Int64, catalog: MeasurementCatalog = .standard,
         rowsPerSlice: Int = 48) {
        self.profiles = settings.profiles
        self.settings = settings
        self.pollPeriodMilliseconds = pollPeriodMilliseconds
        self.catalog = catalog
        readers = settings.profiles.map { ProfileReader(obis: $0.obis, rowsPerSlice: rowsPerSlice) }
        scanFrom = settings.profiles.map { _ in nil }
        notBefore = settings.profiles.map { _ in Int64.min }
        lastFailure = settings.profiles.map { _ in nil }
        probeOldest = settings.profiles.map { _ in false }
        probed = settings.profiles.map { _ in false }
    }

    func afterPoll(session: MeterSession, cursor: (String) -> Int64?, now: Int64) -> AfterPollWork {
        guard session.isAssociated else { return AfterPollWork() }
        var work = AfterPollWork()
        if settings.clockSync != .off, session.counters.associations != clockAssociation {
            work.clock = checkClock(session: session, now: now)
            guard session.isAssociated else { return work }
        }
        work.collection = collectOne(session: session, cursor: cursor, now: now)
        return work
    }

    // MARK: Clock

    private func readClock(_ session: MeterSession, now: Int64) throws(MeterError) -> CosemDateTime {
        let value = try session.readAttribute(InterfaceClass.clock.attribute(2, of: .clock))
        do { return try Clock.time(value) } catch {
            throw MeterError(.objectUnavailable, "the meter's clock is not a date-time: \(error.description)")
        }
    }

    private func checkClock(session: MeterSession, now: Int64) -> ClockObservation {
        clockAssociation = session.counters.associations
        var notes: [ProfileNote] = []
        let time: CosemDateTime
        do { time = try readClock(session, now: now) } catch {
            if !error.keepsAssociation { session.abort() }
            return ClockObservation(driftMilliseconds: nil, notes: [
                ProfileNote(counter: "clock_read_failures", message: "the meter's clock could not be read: \(error.description)")])
        }
        deviation = time.deviation == CosemDateTime.deviationNotSpecified ? 0 : time.deviation
        guard let meterNow = try? time.unixMilliseconds(assumedDeviation: 0) else {
            return ClockObservation(driftMilliseconds: nil, notes: [
                ProfileNote(counter: "clock_read_failures", message: "the meter's clock reads \(time.description), not a complete date-time")])
        }
        if time.clockStatus.isSuspect {
            notes.append(ProfileNote(counter: "clock_invalid_status",
                message: "the meter flags its clock as invalid or doubtful (status \(time.clockStatus.rawValue)); its profile times may be wrong"))
        }
        driftMilliseconds = meterNow - now
        let limit = Int64(settings.clockMaxDriftSeconds) * 1000
        guard settings.clockSync == .set, abs(driftMilliseconds) > limit else {
            if abs(driftMilliseconds) > limit {
                notes.append(ProfileNote(counter: "clock_drift_reports",
                    message: "the meter's clock is \(driftMilliseconds / 1000) s off the gateway's UTC (more than "
                        + "DLMS_CLOCK_MAX_DRIFT_S=\(settings.clockMaxDriftSeconds)); DLMS_CLOCK_SYNC=set would correct it"))
            }
            return ClockObservation(driftMilliseconds: driftMilliseconds, notes: notes)
        }
        // Set: the gateway's UTC in the meter's own deviation.
        let drift = driftMilliseconds
        let value = DataValue.octetString(CosemDateTime(unixMilliseconds: now, deviation: deviation,
                                                        clockStatus: ClockStatus(rawValue: 0)).bytes)
        let result: DataAccessResult
        do { result = try session.writeAttribute(InterfaceClass.clock.attribute(2, of: .clock), value: value) } catch {
            if !error.keepsAssociation { session.abort() }
            notes.append(ProfileNote(counter: "clock_set_failures", message: "setting the meter's clock failed: \(error.description)"))
            return ClockObservation(driftMilliseconds: drift, notes: notes)
        }
        guard result == .success else {
            if !refusalReported {
                refusalReported = true
                notes.append(ProfileNote(counter: "clock_set_refusals",
                    message: "the meter refused to set its clock (\(result.name)): client SAP \(session.settings.clientSAP) "
                        + "may not write it; use a client with the right (Microstar: 1 or the management client 32 with its "
                        + "password) or DLMS_CLOCK_SYNC=report. Reported once; the drift stays on the health topic"))
            } else {
                notes.append(ProfileNote(counter: "clock_set_refusals", message: "", warning: false))
            }
            return ClockObservation(driftMilliseconds: drift, notes: notes)
        }
        var after = drift
        if let again = try? readClock(session, now: now), let ms = try? again.unixMilliseconds(assumedDeviation: 0) {
            after = ms - now
        }
        driftMilliseconds = after
        notes.append(ProfileNote(counter: "clock_sets",
            message: "the meter's clock was \(drift / 1000) s off the gateway's UTC: set (now \(after) ms off)", warning: false))
        return ClockObservation(driftMilliseconds: after, corrected: true, notes: notes)
    }

    // MARK: Profiles

    private func collectOne(session: MeterSession, cursor: (String) -> Int64?, now: Int64) -> ProfileCollection? {
        guard !profiles.isEmpty else { return nil }
        let meterNow = now + driftMilliseconds
        for step in 0..<profiles.count {
            let i = (nextProfile + step) % profiles.count
            guard notBefore[i] <= meterNow else { continue }
            nextProfile = (i + 1) % profiles.count
            return collect(i, session: session, stored: cursor(profiles[i].cursorName), meterNow: meterNow)
        }
        return nil
    }

    private func collect(_ i: Int, session: MeterSession, stored: Int64?, meterNow: Int64) -> ProfileCollection {
        let profile = profiles[i]
        let reader = readers[i]
        do {
            // A new association: its header first (capture objects, period, scalers), alone in this slot.
            if !reader.hasHeader(for: session) {
                _ = try reader.header(using: session)
                lastFailure[i] = nil
                return ProfileCollection(profile: profile)
            }
            let from: Int64
            if let stored, probeOldest[i] {
                probeOldest[i] = false
                probed[i] = true
                if let oldest = try reader.oldestCaptureTime(using: session, meterDeviation: deviation),
                    oldest > max((stored / 1000 + 1) * 1000, scanFrom[i] ?? Int64.min) {
                    scanFrom[i] = oldest  // the rows before it are gone: the next slice reports the loss window
                }
                lastFailure[i] = nil
                return ProfileCollection(profile: profile)
            } else if let stored {
                from = max((stored / 1000 + 1) * 1000, scanFrom[i] ?? Int64.min)
            } else if let start = scanFrom[i] {
                from = start
            } else {
                // A first start: from the backfill window's start, or the oldest row when that is later.
                let oldest = try reader.oldestCaptureTime(using: session, meterDeviation: deviation)
                let window = settings.backfillSeconds.map { meterNow - $0 * 1000 } ?? Int64.min
                scanFrom[i] = max(oldest ?? meterNow, window)
                lastFailure[i] = nil
                return ProfileCollection(profile: profile)
            }
            let slice = try reader.readSlice(using: session, from: from, previous: stored, meterNow: meterNow,
                                             meterDeviation: deviation)
            if slice.rows.isEmpty {
                scanFrom[i] = slice.nextFrom
                if stored != nil && !slice.caughtUp && !probed[i] { probeOldest[i] = true }
            } else {
                probed[i] = false
            }
            if slice.caughtUp {
                let period = Int64(slice.header.capturePeriodSeconds) * 1000
                let last = slice.rows.last?.captureTime ?? stored ?? slice.to
                notBefore[i] = period > 0
                    ? max(last + period, slice.to) + 1000
                    : meterNow + max(Self.asynchronousRecheckMilliseconds, pollPeriodMilliseconds)
            }
            lastFailure[i] = nil
            return ProfileCollection(profile: profile, rows: slice.rows.map { reading(of: $0, header: slice.header) },
                                     issues: slice.issues.map { issueNote($0) })
        } catch {
            if !error.keepsAssociation { session.abort() }  // the next poll reconnects
            // A refusal (no such profile, a header this reader cannot use) is asked again in a minute, not
            // at every slot: the other profiles and the polls go on meanwhile.
            if error.keepsAssociation {
                notBefore[i] = meterNow + max(Self.asynchronousRecheckMilliseconds, pollPeriodMilliseconds)
            }
            let message = "profile \(profile.name) (\(profile.obis.fullDescription)) not read: \(error.description)"
            let repeated = lastFailure[i] == message
            lastFailure[i] = message
            return ProfileCollection(profile: profile, failure: ProfileNote(
                counter: "profile_read_failures", message: repeated ? "" : message))
        }
    }

    private func issueNote(_ issue: ProfileIssue) -> ProfileNote {
        switch issue {
        case .captureObjectsChanged, .asynchronousCapture:
            return ProfileNote(counter: issue.counter, message: issue.description, warning: false)
        default:
            return ProfileNote(counter: issue.counter, message: issue.description)
        }
    }

    /// A row as the payload carries it: every column but the capture time and the status word, scaled like
    /// the telemetry measurements, named by the catalog when the meter catalog knows the object.
    func reading(of row: ProfileRow, header: ProfileHeader) -> ProfileRowReading {
        var values: [MeasurementReading] = []
        for (index, column) in header.columns.enumerated()
        where index != header.clockColumn && index != header.statusColumn && index < row.cells.count {
            let known = catalog.measurements.first { $0.obis == column.obis && $0.kind != .profile && column.attribute == 2 }
            let kind = known?.kind ?? MeasurementKind(name: String(column.classId)) ?? .data
            let key = known?.key ?? (column.obis.description + (column.attribute == 2 ? "" : "/\(column.attribute)"))
            let measurement = Measurement(key: key, obis: column.obis, kind: kind,
                                          description: known?.description ?? "captured \(column.obis.fullDescription)")
            let reading = Reading(measurement: measurement, raw: row.cells[index],
                                  scalerUnit: index < header.scalers.count ? header.scalers[index] : nil, captureTime: nil)
            if let m = MeasurementReading(reading) { values.append(m) }
        }
        return ProfileRowReading(captureTime: row.captureTime, statusWord: row.status.word,
                                 statusSource: row.status.source.rawValue, statusFlags: row.status.flags, values: values)
    }
}
