import Foundation
import Testing
@testable import Spool

/// Random sequences of append, acknowledge (any order), replay pages, commit and reopen, checked against a
/// plain model: the set of un-acknowledged seqs. Replay interleaved with live appends is how the agent
/// drains a backlog, so the read cursor is exercised across segment rolls and deletions.
@Suite struct SpoolModelTests {
    @Test(arguments: 0..<12)
    func randomOperationsMatchTheModel(seed: UInt64) throws {
        var rng = SplitMix(seed: 1000 + seed)
        let dir = TempDir("spool-model"); defer { dir.remove() }
        let config = SpoolConfiguration(
            maxBytes: 1 << 20, segmentBytes: 1024 * Int.random(in: 1...4, using: &rng),
            commit: .init(everyRecords: Int.random(in: 1...30, using: &rng), everyMilliseconds: 3_600_000))
        var spool = try Spool(directory: dir.path, configuration: config)
        var unacked: [UInt64] = []  // sorted
        var lastSeq: UInt64 = 0
        var replayAfter: UInt64 = 0
        var ackedSinceCommit = Set<UInt64>()  // may come back after an unclean restart (at least once)
        for step in 0..<1500 {
            let op = Int.random(in: 0..<100, using: &rng)
            switch op {
            case 0..<45:
                let seq = try spool.append { payload(for: $0) }.seq
                #expect(seq == lastSeq + 1, "step \(step): seq continues")
                lastSeq = seq
                unacked.append(seq)
            case 45..<75:
                guard !unacked.isEmpty else { continue }
                // Mostly near the oldest (in-flight window), sometimes anywhere.
                let i = Bool.random(using: &rng)
                    ? Int.random(in: 0..<min(unacked.count, 20), using: &rng)
                    : Int.random(in: 0..<unacked.count, using: &rng)
                #expect(spool.acknowledge(unacked[i]), "step \(step): ack \(unacked[i])")
                ackedSinceCommit.insert(unacked[i])
                unacked.remove(at: i)
            case 75..<92:
                let page = try spool.pending(after: replayAfter, limit: Int.random(in: 1...25, using: &rng))
                let expected = Array(unacked.filter { $0 > replayAfter }.prefix(page.count))
                #expect(page.map(\.seq) == expected, "step \(step): replay page after \(replayAfter)")
                #expect(page.count == min(unacked.filter { $0 > replayAfter }.count, page.count))
                #expect(page.allSatisfy { $0.payload == payload(for: $0.seq) })
                if let last = page.last { replayAfter = last.seq } else { replayAfter = 0 }  // backlog done: restart
            case 92..<97:
                try spool.commit()
                ackedSinceCommit = []
            default:
                // A restart, clean or not.
                let clean = Bool.random(using: &rng)
                if clean { try spool.close() }
                spool = try Spool(directory: dir.path, configuration: config)
                replayAfter = 0
                let now = try drain(spool).map(\.seq)
                if clean {
                    #expect(now == unacked, "step \(step): clean restart keeps exactly the un-acknowledged")
                } else {
                    #expect(Set(unacked).isSubset(of: Set(now)), "step \(step): nothing un-acknowledged lost")
                    #expect(Set(now).isSubset(of: Set(unacked).union(ackedSinceCommit)),
                            "step \(step): only acknowledgements not yet committed come back")
                    unacked = now
                }
                ackedSinceCommit = []
            }
            let st = spool.stats
            #expect(st.pendingRecords == unacked.count, "step \(step): pending count")
            #expect(st.oldestPendingSeq == unacked.first && st.newestPendingSeq == unacked.last, "step \(step)")
        }
        // After a restart without close, acks since the last commit may come back: at least once.
        #expect(try drain(spool).map(\.seq) == unacked)
    }
}
