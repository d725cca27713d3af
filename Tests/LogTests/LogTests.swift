import Log
import Synchronization
import Testing

/// Records events and counts how often the handler is reached.
private final class Recorder: Sendable {
    let events = Mutex<[LogEvent]>([])
    var all: [LogEvent] { events.withLock { $0 } }
}

private final class RecordingHandler: LogHandler, @unchecked Sendable {
    var logLevel: Logger.Level
    let recorder: Recorder
    init(logLevel: Logger.Level, recorder: Recorder) {
        self.logLevel = logLevel
        self.recorder = recorder
    }
    func log(event: LogEvent) { recorder.events.withLock { $0.append(event) } }
}

private func logger(_ level: Logger.Level) -> (Logger, Recorder) {
    let recorder = Recorder()
    return (Logger(label: "t") { _ in RecordingHandler(logLevel: level, recorder: recorder) }, recorder)
}

@Suite struct LogTests {
    @Test func levelsAreOrderedBySeverity() {
        #expect(Logger.Level.allCases == [.trace, .debug, .info, .notice, .warning, .error, .critical])
        for (i, a) in Logger.Level.allCases.enumerated() {
            for (j, b) in Logger.Level.allCases.enumerated() { #expect((a < b) == (i < j), "\(a) < \(b)") }
        }
        #expect(Logger.Level.warning.rawValue == "warning")
    }

    @Test func eventsBelowTheLevelNeverEvaluateTheirMessage() {
        let (log, recorder) = logger(.warning)
        let evaluated = Atomic<Int>(0)
        func expensive(_ text: String) -> String {
            evaluated.add(1, ordering: .relaxed)
            return text
        }
        log.trace("\(expensive("t"))", metadata: ["k": "\(expensive("m"))"])
        log.debug("\(expensive("d"))")
        log.info("\(expensive("i"))")
        log.notice("\(expensive("n"))")
        #expect(evaluated.load(ordering: .relaxed) == 0)
        #expect(recorder.all.isEmpty)
        log.warning("\(expensive("w"))", metadata: ["device_id": "\(expensive("m"))"])
        log.error("e")
        log.critical("c")
        #expect(evaluated.load(ordering: .relaxed) == 2)
        #expect(recorder.all.map(\.level) == [.warning, .error, .critical])
        #expect(recorder.all.map(\.message) == ["w", "e", "c"])
        #expect(recorder.all[0].metadata == ["device_id": "m"])
        #expect(recorder.all[1].metadata == nil)
    }

    @Test func settingTheLevelReachesLoggerAndHandler() {
        var (log, recorder) = logger(.info)
        #expect(log.logLevel == .info)
        log.debug("hidden")
        log.logLevel = .debug
        #expect(log.handler.logLevel == .debug)
        log.debug("shown")
        #expect(recorder.all.map(\.message) == ["shown"])
    }

    @Test func metadataLiteralsNestAndPrint() {
        let value: Logger.MetadataValue = ["token": "abc", "list": ["a", .stringConvertible(42)]]
        #expect(value.description == "[list: [a, 42], token: abc]")
        #expect(value == .dictionary(["list": .array([.string("a"), .stringConvertible(42)]), "token": "abc"]))
        #expect(Logger.MetadataValue.string("42") != .stringConvertible(42))
        let id = 7
        let interpolated: Logger.MetadataValue = "meter-\(id)"
        #expect(interpolated == .string("meter-7"))
    }

    @Test func bootstrapDecidesTheHandlerOfNewLoggers() {
        let recorder = Recorder()
        let before = Logger(label: "before")
        #expect(before.handler is StandardErrorLogHandler)
        LoggingSystem.bootstrap { _ in RecordingHandler(logLevel: .notice, recorder: recorder) }
        defer { LoggingSystem.bootstrap { StandardErrorLogHandler(label: $0) } }
        let after = Logger(label: "after")
        #expect(after.label == "after" && after.logLevel == .notice)
        after.info("dropped")
        after.notice("kept", metadata: ["n": .stringConvertible(1)])
        #expect(recorder.all.map(\.message) == ["kept"])
        #expect(NoOpLogHandler().logLevel == .critical)
    }
}
