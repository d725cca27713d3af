import Foundation
import Testing

@testable import Spool

/// Cursors kept with the spool's state (issue 11: the profile collection's position per meter and
/// profile): persisted at commit, never ahead of unsynced records, readable by state files that predate them.
@Suite struct SpoolCursorTests {
    static let config = SpoolConfiguration(maxBytes: 1 << 20, segmentBytes: 4096, seqLease: 100)

    @Test func cursorsSurviveACleanCloseAndACrashAfterCommit() throws {
        let dir = TempDir(); defer { dir.remove() }
        do {
            let spool = try Spool(directory: dir.path, configuration: Self.config)
            _ = try spool.append { payload(for: $0) }
            #expect(spool.setCursor("p:1-0:99.1.0.255", 1_795_060_800_000))
            #expect(spool.setCursor("p:0-0:99.98.0.255", -5))
            #expect(spool.cursor("p:1-0:99.1.0.255") == 1_795_060_800_000)
            try spool.close()
        }
        do {
            let spool = try Spool(directory: dir.path, configuration: Self.config)
            #expect(spool.cursor("p:1-0:99.1.0.255") == 1_795_060_800_000)
            #expect(spool.cursor("p:0-0:99.98.0.255") == -5)
            #expect(spool.cursor("other") == nil)
            // Every cursor at once, in the order first set (what `spool-recover` reports).
            #expect(spool.cursors == [SpoolCursor(name: "p:1-0:99.1.0.255", value: 1_795_060_800_000),
                                      SpoolCursor(name: "p:0-0:99.98.0.255", value: -5)])
            _ = try spool.append { payload(for: $0) }
            spool.setCursor("p:1-0:99.1.0.255", 1_795_060_900_000)
            try spool.commit()
            // No close: a crash after the commit keeps the cursor.
        }
        let spool = try Spool(directory: dir.path, configuration: Self.config)
        #expect(spool.cursor("p:1-0:99.1.0.255") == 1_795_060_900_000)
        try spool.close()
    }

    @Test func aCursorNotCommittedIsNotPersisted() throws {
        let dir = TempDir(); defer { dir.remove() }
        do {
            let spool = try Spool(directory: dir.path, configuration: Self.config)
            spool.setCursor("p", 10)
            try spool.commit()
            _ = try spool.append { payload(for: $0) }
            spool.setCursor("p", 20)
            // Crash before any commit: the older cursor is what the state holds.
        }
        let spool = try Spool(directory: dir.path, configuration: Self.config)
        #expect(spool.cursor("p") == 10)
        try spool.close()
    }

    @Test func aLeaseWriteBeforeTheRecordsAreSyncedKeepsTheOldCursor() throws {
        let dir = TempDir(); defer { dir.remove() }
        let small = SpoolConfiguration(maxBytes: 1 << 20, segmentBytes: 4096, seqLease: 3)
        do {
            let spool = try Spool(directory: dir.path, configuration: small)
            spool.setCursor("p", 1)
            try spool.commit()
            _ = try spool.append { payload(for: $0) }
            spool.setCursor("p", 2)
            // These appends cross the 3-seq lease: the state is written, the records are not synced.
            for _ in 0..<5 { _ = try spool.append { payload(for: $0) } }
            let core = try StateFile.open(directory: dir.path, writable: false)
            #expect(core.1?.cursors == [SpoolCursor(name: "p", value: 1)])
            try spool.commit()
            let after = try StateFile.open(directory: dir.path, writable: false)
            #expect(after.1?.cursors == [SpoolCursor(name: "p", value: 2)])
            try spool.close()
        }
    }

    @Test func limitsAreEnforced() throws {
        let dir = TempDir(); defer { dir.remove() }
        let spool = try Spool(directory: dir.path, configuration: Self.config)
        #expect(!spool.setCursor(String(repeating: "x", count: 41), 1))
        for i in 0..<10 { #expect(spool.setCursor("c\(i)", Int64(i))) }
        #expect(!spool.setCursor("c10", 1))
        #expect(spool.setCursor("c3", 33))
        try spool.close()
        let reopened = try Spool(directory: dir.path, configuration: Self.config)
        #expect(reopened.cursor("c3") == 33 && reopened.cursor("c9") == 9)
        try reopened.close()
    }

    @Test func stateWithoutCursorsStillDecodesAndADamagedBlockIsIgnored() {
        var s = PersistedState()
        s.lowWater = 7
        s.leaseEnd = 99
        s.acked = [9, 12]
        let plain = StateFile.encode(s, generation: 3)
        let decoded = plain.withUnsafeBytes { StateFile.decode($0) }
        #expect(decoded?.1.lowWater == 7 && decoded?.1.cursors == [])
        s.cursors = [SpoolCursor(name: "p", value: 42)]
        var withCursor = StateFile.encode(s, generation: 4)
        #expect(withCursor.withUnsafeBytes { StateFile.decode($0) }?.1.cursors == s.cursors)
        // The cursor block sits after the state's CRC: damage in it loses the cursors, not the state.
        let blockStart = StateFile.fixedSize + 8 * 2 + 4
        withCursor[blockStart + 7] ^= 0xFF
        let damaged = withCursor.withUnsafeBytes { StateFile.decode($0) }
        #expect(damaged?.1.lowWater == 7 && damaged?.1.cursors == [])
    }
}
