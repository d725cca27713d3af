import Agent
import MeterLink
import Platform
import Spool

import CLibc

/// `dlms-bridge spool-recover` (hidden from --help): the power-loss checker's view of recovery. For each
/// state directory given (default: SPOOL_DIR) and each configured meter it opens the store exactly as `run`
/// does (`MeterAssembly.openStore`), drains what `run` would replay, appends and commits one record, drains
/// again, then drops the store without closing it (as a crash would), reopens it and drains a third time:
/// the third drain must equal the second (recovery is idempotent). One line per meter on stdout:
///
///     recovered <dir> <device> open_us=N sealed=N lost=N truncated=N capped=N capped_by_append=N d1=SEQ:HASH,... a=SEQ:HASH d2=... d3=... lease=N cursors=NAME@VALUE,...
///
/// or `failed <dir> <device> <why>`. HASH is FNV-1a 64 of the payload, so the checker can tell a corrupt
/// reading from the one it recorded without the payloads crossing the pipe. `lease` is the invocation
/// counter lease end a secured meter's `run` would resume above (opened first, as `run` opens it; `-` for
/// an unsecured meter or a lease file with no valid slot); `cursors` the profile cursors the spool
/// recovered (a name's spaces as `+`; `-` for none). Exit status 1 if any failed.
struct RecoverCommand {
    static let spec = CommandSpec(
        name: "spool-recover",
        abstract: "Test tool: open spool state directories as `run` does and print what recovery returns.",
        positionals: [("directories...", "SPOOL_DIR roots to recover (default: SPOOL_DIR of the configuration).")],
        options: [
            .value("env-file", "path", "A .env file (as for run)."),
            .value("config", "path", "A configuration file with [meter] sections (as for run)."),
        ])

    static func main(_ arguments: ArraySlice<String>) -> Never {
        runCommand(spec, arguments) { a throws(UsageError) in
            let config: AgentConfiguration
            do throws(ConfigError) {
                config = try ConfigurationLoader.loadFromSystem(
                    envFile: a.string("env-file"), configFile: a.string("config"),
                    knownMeasurements: Set(MeasurementCatalog.standard.keys))
            } catch {
                fail("invalid configuration: \(error.description)", code: ConfigError.exitStatus)
            }
            let roots = a.positionals.isEmpty ? [config.spool.directory] : a.positionals
            var failures = 0
            for root in roots {
                var settings = config.spool
                settings.directory = root
                for meter in config.meters {
                    let line: String
                    do throws(StoreFailure) { line = try recover(settings, meter: meter) } catch {
                        failures += 1
                        line = "failed \(root) \(meter.deviceID) \(error.description)"
                    }
                    print(line)
                }
            }
            if failures > 0 { exit(1) }
        }
    }

    private static func recover(_ settings: SpoolSettings, meter: MeterConfiguration) throws(StoreFailure) -> String {
        // The lease first, as `run` opens it (MeterAssembly.meters): the value its session would resume above.
        var lease = "-"
        if meter.security != nil {
            do throws(MeterError) {
                let file = try SpoolCounterLease(root: settings.directory, deviceID: meter.deviceID)
                if let end = try file.loadLeaseEnd() { lease = String(end) }
            } catch {
                throw StoreFailure("invocation counter lease: \(error.description)")
            }
        }
        let started = MonotonicInstant.now()
        var store: SpoolReadingStore? = try MeterAssembly.openStore(settings, meter: meter)
        let openMicroseconds = MonotonicInstant.now().microseconds(since: started)
        let stats = store!.spool.stats
        let recoveredCursors = store!.spool.cursors
        let first = try drain(store!)
        let seq = try store!.append(timestampMilliseconds: WallClock.milliseconds()) { seq in
            Array("{\"recovery_check\":\(seq)}".utf8)
        }
        do { try store!.spool.commit() } catch { throw StoreFailure("commit: \(error.description)") }
        // The append may take the spool over its cap, which then drops the oldest segment, as in `run`.
        let cappedByAppend = store!.spool.stats.droppedByCap - stats.droppedByCap
        let second = try drain(store!)
        let appended = second.last.map { $0.seq == seq ? entry($0) : "missing" } ?? "missing"
        store = nil  // no close(): the reopen below recovers as after a crash
        let reopened = try MeterAssembly.openStore(settings, meter: meter)
        let third = try drain(reopened)
        reopened.close()
        return "recovered \(settings.directory) \(meter.deviceID) open_us=\(openMicroseconds) sealed=\(stats.segmentsTakenFromSeals) lost=\(stats.lostInRecovery) "
            + "truncated=\(stats.bytesTruncatedInRecovery) capped=\(stats.droppedByCap) capped_by_append=\(cappedByAppend) d1=\(list(first)) a=\(appended) d2=\(list(second)) d3=\(list(third))"
            + " lease=\(lease) cursors=\(cursorList(recoveredCursors))"
    }

    private static func cursorList(_ cursors: [SpoolCursor]) -> String {
        guard !cursors.isEmpty else { return "-" }
        return cursors.map { c in
            String(decoding: c.name.utf8.map { $0 == UInt8(ascii: " ") ? UInt8(ascii: "+") : $0 }, as: UTF8.self)
                + "@\(c.value)"
        }.joined(separator: ",")
    }

    /// Everything pending, in the order `run`'s replay reads it.
    private static func drain(_ store: SpoolReadingStore) throws(StoreFailure) -> [StoredReading] {
        var out: [StoredReading] = []
        while true {
            let page = try store.pending(after: out.last?.seq ?? 0, limit: 256)
            if page.isEmpty { return out }
            out += page
        }
    }

    private static func entry(_ r: StoredReading) -> String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in r.payload { hash = (hash ^ UInt64(b)) &* 0x100_0000_01B3 }
        return "\(r.seq):\(String(hash, radix: 16))"
    }

    private static func list(_ records: [StoredReading]) -> String {
        records.isEmpty ? "-" : records.map(entry).joined(separator: ",")
    }
}
