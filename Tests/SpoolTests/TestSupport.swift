import Platform
import Foundation
import Testing
@testable import Spool

/// A fresh directory under the system temporary directory, removed by `remove()`.
struct TempDir {
    let path: String

    init(_ label: String = "spool") {
        let base = FileManager.default.temporaryDirectory.path + "/\(label)-\(getpid())-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        path = base
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// The payload the tests store for a seq: deterministic, variable length, so the reader can check content.
func payload(for seq: UInt64, size: Int? = nil) -> [UInt8] {
    let n = size ?? (20 + Int(seq % 180))
    var out = Array("{\"seq\":\(seq),\"v\":\"".utf8)
    var x = seq &* 0x9E37_79B9_7F4A_7C15
    while out.count < n - 2 {
        x ^= x >> 33
        x &*= 0xFF51_AFD7_ED55_8CCD
        out.append(UInt8(97 + x % 26))
    }
    out += Array("\"}".utf8)
    return out
}

/// The seeded generator of the property tests (Platform.SplitMix64), under the name they use.
typealias SplitMix = SplitMix64

/// Every pending record, read in pages the way the agent's replay loop does.
func drain(_ spool: Spool, page: Int = 7) throws -> [SpoolRecord] {
    var out: [SpoolRecord] = []
    var after: UInt64 = 0
    while true {
        let batch = try spool.pending(after: after, limit: page)
        if batch.isEmpty { return out }
        out += batch
        after = batch.last!.seq
    }
}

/// Runs a command, returning its exit status and combined output.
@discardableResult
func run(_ arguments: [String]) -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = arguments
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    do { try p.run() } catch { return (-1, "\(error)") }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

func segmentFiles(_ dir: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".seg") }.sorted()
        .map { dir + "/" + $0 }
}
