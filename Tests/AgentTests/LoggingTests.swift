import Foundation
import Log
import Synchronization
import Testing

@testable import Agent

private final class Lines: Sendable {
    let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    func append(_ line: String) { lines.withLock { $0.append(line) } }
}

@Suite struct LoggingTests {
    private func logger(_ format: JournalLogHandler.Format, level: Logger.Level = .info) -> (Logger, Lines) {
        let lines = Lines()
        let handler = JournalLogHandler(
            label: "agent", format: format, level: level, sink: { lines.append($0) }, clock: { 1_728_564_123_456 })
        return (Logger(label: "agent", factory: { _ in handler }), lines)
    }

    @Test func journaldLinesCarryTheSyslogPriority() {
        let (log, lines) = logger(.journald)
        log.warning("meter down", metadata: ["device_id": "microstar-001", "errors": "10"])
        log.error("spool full")
        log.info("started")
        log.critical("x")
        log.notice("n")
        #expect(lines.all == [
            "<4>agent: meter down device_id=microstar-001 errors=10", "<3>agent: spool full", "<6>agent: started",
            "<2>agent: x", "<5>agent: n",
        ])
    }

    @Test func plainLinesCarryATimestampAndLevel() {
        let (log, lines) = logger(.plain)
        log.info("poll done", metadata: ["rtt_ms": .stringConvertible(42), "note": "two words"])
        #expect(lines.all == [#"2024-10-10T12:42:03.456Z info agent: poll done note="two words" rtt_ms=42"#])
    }

    @Test func verboseSwitchesToDebug() {
        let (quiet, q) = logger(.plain, level: .info)
        quiet.debug("frame")
        #expect(q.all.isEmpty)
        let (loud, l) = logger(.journald, level: .debug)
        loud.debug("TX 7e a0 07")
        #expect(l.all == ["<7>agent: TX 7e a0 07"])
    }

    @Test func secretsAndNewlinesNeverReachTheLog() {
        let (log, lines) = logger(.journald)
        log.info("config\nloaded", metadata: [
            "mqtt_password": "hunter2", "DLMS_PASSWORD": "22222222", "nested": ["token": "abc", "user": "u"],
            "secret_value": .stringConvertible(ConfigSecret("s3")),
        ])
        log.info("password is \(ConfigSecret("22222222"))")
        let text = lines.all.joined(separator: "\n")
        #expect(lines.all.count == 2)
        #expect(!text.contains("hunter2") && !text.contains("22222222") && !text.contains("abc"))
        #expect(lines.all[0] == "<6>agent: config\\nloaded DLMS_PASSWORD=******** mqtt_password=******** "
            + "nested={token:********,user:u} secret_value=********")
        #expect(lines.all[1] == "<6>agent: password is ********")
    }

    @Test func journalStreamMustMatchStderr() throws {
        #expect(!JournalLogHandler.stderrIsJournal(environment: [:]))
        #expect(!JournalLogHandler.stderrIsJournal(environment: ["JOURNAL_STREAM": "garbage"]))
        var st = stat()
        #expect(fstat(2, &st) == 0)
        #expect(JournalLogHandler.stderrIsJournal(environment: ["JOURNAL_STREAM": "\(st.st_dev):\(st.st_ino)"]))
        #expect(!JournalLogHandler.stderrIsJournal(environment: ["JOURNAL_STREAM": "\(st.st_dev):\(st.st_ino &+ 1)"]))
    }
}
