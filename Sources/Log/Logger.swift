// Log: the logging API the agent uses, without swift-log.
import Platform
//
// Why it exists: measured on the static binary (make static-size-report, lld --why-extract), swift-log's
// `Logger` is what pulled libswift_Concurrency and libdispatch into the link (its task-local metadata
// provider), ~0.8 MB of a 12 MB budget for a feature the agent never uses. This module keeps the subset of
// swift-log's API the code calls (`Logger`, `LogHandler`, `LoggingSystem.bootstrap`, `Logger.Metadata`,
// levels), so call sites read the same, and adds nothing else: no task locals, no Foundation.
//
// Cost: the logger keeps its own copy of the level, and the level methods are inlinable, so a call at a
// disabled level is one compare; the message and metadata autoclosures are not evaluated and the handler
// (a class-bound existential, which Embedded Swift allows) is not touched.

import CLibc

/// A named source of log events that hands enabled events to its `LogHandler`.
public struct Logger: Sendable {
    /// The logger's name, given to the handler factory (`dlms-bridge.agent`, ...).
    public let label: String
    /// The handler events go to. An existential, reached only for events at an enabled level.
    public var handler: any LogHandler
    /// Events below this level are dropped at the call site. Setting it also sets the handler's level.
    public var logLevel: Level {
        get { level }
        set {
            level = newValue
            handler.logLevel = newValue
        }
    }
    /// The cached level the inlinable methods compare against (kept equal to `handler.logLevel`).
    @usableFromInline var level: Level

    /// A logger whose handler comes from the factory installed by `LoggingSystem.bootstrap` (a line per event
    /// on stderr until then).
    public init(label: String) {
        self.init(label: label, handler: LoggingSystem.factory(label))
    }

    /// A logger with a handler of its own (tests, or a logger that must not follow the process-wide set-up).
    public init(label: String, factory: (String) -> any LogHandler) {
        self.init(label: label, handler: factory(label))
    }

    private init(label: String, handler: any LogHandler) {
        self.label = label
        self.handler = handler
        self.level = handler.logLevel
    }

    /// Hands an event to the handler if `level` is enabled.
    @inlinable
    public func log(level: Level, _ message: @autoclosure () -> Message, metadata: @autoclosure () -> Metadata? = nil) {
        if self.level <= level {
            handler.log(event: LogEvent(level: level, message: message(), metadata: metadata()))
        }
    }

    /// Very detailed diagnostics (libmosquitto's own debug lines).
    @inlinable
    public func trace(_ message: @autoclosure () -> Message, metadata: @autoclosure () -> Metadata? = nil) {
        log(level: .trace, message(), metadata: metadata())
    }

    /// Diagnostics for `VERBOSE=true` (frame dumps, repeated failures).
    @inlinable
    public func debug(_ message: @autoclosure () -> Message, metadata: @autoclosure () -> Metadata? = nil) {
        log(level: .debug, message(), metadata: metadata())
    }

    /// Normal operation worth a line (connected, stopped).
    @inlinable
    public func info(_ message: @autoclosure () -> Message, metadata: @autoclosure () -> Metadata? = nil) {
        log(level: .info, message(), metadata: metadata())
    }

    /// Significant normal events (started, recovered).
    @inlinable
    public func notice(_ message: @autoclosure () -> Message, metadata: @autoclosure () -> Metadata? = nil) {
        log(level: .notice, message(), metadata: metadata())
    }

    /// Something is wrong but the agent copes (a poll failed, a reading waits in the spool).
    @inlinable
    public func warning(_ message: @autoclosure () -> Message, metadata: @autoclosure () -> Metadata? = nil) {
        log(level: .warning, message(), metadata: metadata())
    }

    /// Something is wrong and needs the operator (meter down, flash not writable).
    @inlinable
    public func error(_ message: @autoclosure () -> Message, metadata: @autoclosure () -> Metadata? = nil) {
        log(level: .error, message(), metadata: metadata())
    }

    /// The agent cannot go on.
    @inlinable
    public func critical(_ message: @autoclosure () -> Message, metadata: @autoclosure () -> Metadata? = nil) {
        log(level: .critical, message(), metadata: metadata())
    }
}

extension Logger {
    /// A log message: any string, including interpolations (swift-log wraps it in a struct; a plain `String`
    /// is enough here).
    public typealias Message = String

    /// Structured context of an event, rendered as `key=value` by the handlers.
    public typealias Metadata = [String: MetadataValue]

    /// Severity, lowest first; the raw value is the name printed in plain-text lines.
    public enum Level: String, Sendable, CaseIterable, Comparable {
        case trace, debug, info, notice, warning, error, critical

        @inlinable var severity: UInt8 {
            switch self {
            case .trace: 0
            case .debug: 1
            case .info: 2
            case .notice: 3
            case .warning: 4
            case .error: 5
            case .critical: 6
            }
        }

        @inlinable public static func < (lhs: Level, rhs: Level) -> Bool { lhs.severity < rhs.severity }
    }

    /// One metadata value: a string, something printable, or a nested list or dictionary.
    public enum MetadataValue: Sendable {
        case string(String)
        /// A value's description, taken when the event is made (`.stringConvertible(rtt)`). Kept apart from
        /// `.string` so that a number stays a number to a structured handler. (Not an existential: Embedded
        /// Swift has none of non-class protocols.)
        case described(String)
        case dictionary(Metadata)
        case array([MetadataValue])

        /// The description of `value`, as swift-log's case of the same name.
        public static func stringConvertible<T: CustomStringConvertible>(_ value: T) -> MetadataValue {
            .described(value.description)
        }
    }
}

extension Logger.MetadataValue: ExpressibleByStringLiteral, ExpressibleByStringInterpolation,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, CustomStringConvertible, Equatable
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: Logger.MetadataValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, Logger.MetadataValue)...) {
        var dict: Logger.Metadata = [:]
        for (key, value) in elements { dict[key] = value }
        self = .dictionary(dict)
    }

    /// The value as text (nested values in brackets and braces, keys sorted so the text is stable).
    public var description: String {
        switch self {
        case .string(let s): return s
        case .described(let text): return text
        case .array(let items): return "[" + items.map { $0.description }.joined(separator: ", ") + "]"
        case .dictionary(let dict):
            return "[" + dict.keys.sorted().map { $0 + ": " + dict[$0]!.description }.joined(separator: ", ") + "]"
        }
    }

    /// Equal when both print the same way and have the same shape.
    public static func == (lhs: Self, rhs: Self) -> Bool {
        switch (lhs, rhs) {
        case (.string(let a), .string(let b)): return a == b
        case (.described(let a), .described(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.dictionary(let a), .dictionary(let b)): return a == b
        default: return false
        }
    }
}

/// One event handed to a `LogHandler`.
public struct LogEvent: Sendable {
    public var level: Logger.Level
    public var message: Logger.Message
    /// The call's own metadata, if it gave any.
    public var metadata: Logger.Metadata?

    @inlinable
    public init(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?) {
        self.level = level
        self.message = message
        self.metadata = metadata
    }
}

/// Where a logger's enabled events go (the agent's is `JournalLogHandler`). A class, so that loggers can hold
/// it as an existential in Embedded Swift too; copies of a `Logger` share their handler.
public protocol LogHandler: AnyObject, Sendable {
    /// The lowest level this handler wants; `Logger` copies it at creation and compares against its copy.
    var logLevel: Logger.Level { get set }
    /// Writes one event. Called only for events at or above `logLevel`, from any thread.
    func log(event: LogEvent)
}

/// Drops every event (tests that do not look at the log).
public final class NoOpLogHandler: LogHandler, @unchecked Sendable {
    public var logLevel: Logger.Level = .critical
    public init() {}
    public func log(event: LogEvent) {}
}

/// `label: level message key=value` on stderr, one write(2) per line: what loggers use before
/// `LoggingSystem.bootstrap` (so nothing is lost if a log call comes first).
public final class StandardErrorLogHandler: LogHandler, @unchecked Sendable {
    public var logLevel: Logger.Level
    public let label: String

    public init(label: String, level: Logger.Level = .info) {
        self.label = label
        self.logLevel = level
    }

    public func log(event: LogEvent) {
        var line = label + ": " + event.level.rawValue + " " + event.message
        if let metadata = event.metadata {
            for key in metadata.keys.sorted() { line += " " + key + "=" + metadata[key]!.description }
        }
        StandardError.writeLine(line)
    }
}

/// The process-wide handler factory behind `Logger(label:)`.
public enum LoggingSystem {
    public typealias Factory = @Sendable (String) -> any LogHandler

    private static let current = Locked<Factory>({ StandardErrorLogHandler(label: $0) })

    /// Installs the factory for loggers created from now on (`JournalLogHandler.bootstrap` at start-up).
    /// Unlike swift-log it may be called again (tests); loggers already made keep their handler.
    public static func bootstrap(_ factory: @escaping Factory) {
        current.withLock { $0 = factory }
    }

    static func factory(_ label: String) -> any LogHandler {
        let make = current.withLock { $0 }
        return make(label)
    }
}
