import Foundation
import Testing
@testable import Spool

/// The power-loss checker's test switch (Tests/powerloss) must be off and change nothing unless its variable
/// names a descriptor: the production agent never sets it.
@Suite struct PowerLossTraceTests {
    @Test func offByDefaultAndChangesNothing() {
        #expect(ProcessInfo.processInfo.environment["DLMS_BRIDGE_POWERLOSS_FD"] == nil)
        #expect(!PowerLossTrace.enabled)
        #expect(!PowerLossTrace.settings.commitBeforeSync && !PowerLossTrace.settings.skipDirectorySync)
        let config = SpoolConfiguration(maxBytes: 1 << 20, commit: CommitPolicy(everyRecords: 8))
        #expect(PowerLossTrace.adjust(config) == config)
    }

    /// The directories a spool creates (fsyncing each one's parent, so a power cut cannot drop them) hold a
    /// working spool; an existing one is reused.
    @Test func createsNestedDirectoriesAndReopens() throws {
        let tmp = TempDir()
        defer { tmp.remove() }
        let dir = tmp.path + "/a/b/spool/meter-1"
        let spool = try Spool(directory: dir)
        let receipt = try spool.append(Array("x".utf8))
        try spool.close()
        #expect(FileManager.default.fileExists(atPath: dir + "/state"))
        let again = try Spool(directory: dir)
        #expect(try again.pending(limit: 10).map(\.seq) == [receipt.seq])
        try again.close()
    }
}
