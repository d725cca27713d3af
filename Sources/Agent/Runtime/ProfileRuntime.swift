import Log
import Platform

// The runtime's side of the profile collection (issue 11): each row becomes one spool record (its payload
// names the profile, see SpoolEnvelope) and is published like a live reading, but never ahead of a backlog
// (so rows first arrive in capture-time order even across outages and restarts); the profile's cursor moves
// only after its rows are in the spool, so the spool's commit makes both durable together.

extension AgentRuntime {
    func handle(_ work: AfterPollWork, meter index: Int) {
        let id = meters[index].configuration.deviceID
        if let clock = work.clock {
            health[index].recordClock(driftMilliseconds: clock.driftMilliseconds, notes: clock.notes)
            for note in clock.notes where !note.message.isEmpty {
                if note.warning {
                    logger.warning("\(note.message)", metadata: ["device_id": "\(id)"])
                } else {
                    logger.notice("\(note.message)", metadata: ["device_id": "\(id)"])
                }
            }
        }
        guard let collection = work.collection else { return }
        let name = collection.profile.name
        var notes = collection.issues
        if let failure = collection.failure { notes.append(failure) }
        for note in notes where !note.message.isEmpty {
            if note.warning {
                logger.warning("\(note.message)", metadata: ["device_id": "\(id)", "profile": "\(name)"])
            } else {
                logger.notice("\(note.message)", metadata: ["device_id": "\(id)", "profile": "\(name)"])
            }
        }
        let stored = storeProfileRows(collection, meter: index)
        health[index].recordProfile(rows: UInt64(stored), notes: notes)
    }

    /// Appends each row (in capture-time order) and publishes it when the broker is up; then moves the
    /// cursor to the last row stored. Returns how many were stored.
    private func storeProfileRows(_ collection: ProfileCollection, meter index: Int) -> Int {
        let id = meters[index].configuration.deviceID
        let store = meters[index].store
        let units = configuration.unitCodes
        var last: Int64? = nil
        var count = 0
        for row in collection.rows {
            var payload: [UInt8] = []
            let seq: UInt64
            do {
                seq = try store.append(timestampMilliseconds: row.captureTime) { seq in
                    payload = SpoolEnvelope.profile(
                        name: collection.profile.name,
                        message: ProfilePayload.render(deviceID: id, profile: collection.profile, row: row, seq: seq, units: units))
                    return payload
                }
            } catch {
                state.withLock { $0.storeFailures += 1 }
                logger.error("profile row not stored, it is read again later: \(error)",
                             metadata: ["device_id": "\(id)", "profile": "\(collection.profile.name)"])
                break  // the cursor stays before this row: rows go to the spool in order or not at all
            }
            last = row.captureTime
            count += 1
            let ring = state.withLock { s -> Bool in
                let first = !s.storeActivity
                s.storeActivity = true
                // Rows go out in capture-time order: while older records wait for replay (an outage, a
                // restart), a new row waits behind them instead of overtaking them live.
                guard s.connected, !s.backlog[index] else {
                    s.backlog[index] = true
                    s.replayExhausted[index] = false  // a batch read before this row must not end the replay
                    return true
                }
                publishLocked(&s, meter: index, seq: seq, payload: payload)
                return first
            }
            if ring { housekeepingBell.ring() }
        }
        if let last { store.setCursor(collection.profile.cursorName, last) }
        return count
    }
}
