import Foundation
import Testing

@testable import Spool

/// The invocation counter lease beside a meter's spool: durable, never moving back, surviving a torn slot.
@Suite struct CounterLeaseFileTests {
    @Test func leaseSurvivesReopeningAndNeverMovesBack() throws {
        let dir = TempDir("lease")
        defer { dir.remove() }
        let meter = dir.path + "/meter-1"
        let file = try CounterLeaseFile(directory: meter)
        #expect(file.leaseEnd == nil)
        try file.store(1000)
        try file.store(2000)
        try file.store(1500)  // never below what is stored
        #expect(file.leaseEnd == 2000)
        #expect(try CounterLeaseFile(directory: meter).leaseEnd == 2000)
        let attributes = try FileManager.default.attributesOfItem(atPath: file.path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test func aTornSlotLeavesThePreviousLease() throws {
        let dir = TempDir("lease")
        defer { dir.remove() }
        let file = try CounterLeaseFile(directory: dir.path)
        try file.store(1000)
        try file.store(2000)  // generation 2: slot 0
        // Tear the newest slot: its CRC fails, the older slot (1000) is what a restart sees. The session stores a
        // lease before using any counter in it, so 1000 still bounds every counter sent before the tear.
        let handle = try #require(FileHandle(forUpdatingAtPath: file.path))
        try handle.seek(toOffset: 17)
        handle.write(Data([0xFF]))
        try handle.close()
        #expect(try CounterLeaseFile(directory: dir.path).leaseEnd == 1000)
    }

    @Test func leaseFileDoesNotDisturbTheSpool() throws {
        let dir = TempDir("lease")
        defer { dir.remove() }
        let spool = try Spool(directory: dir.path, configuration: SpoolConfiguration())
        _ = try spool.append(Array("{}".utf8), timestamp: 1)
        try spool.close()
        try CounterLeaseFile(directory: dir.path).store(42)
        let reopened = try Spool(directory: dir.path, configuration: SpoolConfiguration())
        #expect(reopened.stats.pendingRecords == 1)
        try reopened.close()
    }
}
