import CLibc
import Log
import Platform

/// The log handler for a service under systemd: one line per event on stderr.
///
/// Under journald (stderr is the stream named by `$JOURNAL_STREAM`) each line starts with the syslog priority,
/// `<4>agent: meter down device_id=microstar-001 errors=10`, so `journalctl -p warning` filters it and journald
/// adds the timestamp. Elsewhere lines carry a UTC timestamp and the level:
/// `2026-11-22T04:07:25.123Z warning agent: meter down device_id=microstar-001 errors=10`.
/// Metadata is `key=value`, sorted by key, quoted when it has blanks; values of keys that name a secret
/// (`password`, `secret`, `token`, ...) print as `********`. Newlines in a message are escaped so that one
/// event never spans two journal entries.
public final class JournalLogHandler: LogHandler, @unchecked Sendable {
    /// How lines are laid out.
    public enum Format: Sendable, Equatable {
        /// `<N>` syslog priority prefix, no timestamp (journald stamps the line).
        case journald
        /// ISO 8601 UTC timestamp and level name.
        case plain
    }

    /// Where lines go. The default writes each line to stderr with one write(2), so lines of different
    /// threads never interleave.
    public typealias Sink = @Sendable (String) -> Void

    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public let label: String
    public let format: Format
    private let sink: Sink
    private let clock: @Sendable () -> Int64

    public init(
        label: String, format: Format, level: Logger.Level = .info,
        sink: @escaping Sink = JournalLogHandler.standardError,
        clock: @escaping @Sendable () -> Int64 = { WallClock.milliseconds() }
    ) {
        self.label = label
        self.format = format
        self.logLevel = level
        self.sink = sink
        self.clock = clock
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let own = event.metadata { for (key, value) in own { merged[key] = value } }
        sink(render(level: event.level, message: event.message, metadata: merged))
    }

    /// The line for one event, without its trailing newline.
    public func render(level: Logger.Level, message: String, metadata: Logger.Metadata) -> String {
        var line: String
        switch format {
        case .journald: line = "<\(Self.syslogPriority(level))>"
        case .plain: line = Self.timestamp(milliseconds: clock()) + " " + level.rawValue + " "
        }
        line += label + ": " + Self.oneLine(message)
        for key in metadata.keys.sorted() {
            let value = Self.isSecretKey(key) ? ConfigSecret.mask : Self.render(metadata[key]!)
            line += " " + key + "=" + Self.quotedIfNeeded(value)
        }
        return line
    }

    /// syslog(3) priorities: journald maps them to `PRIORITY=`.
    public static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    /// Metadata keys whose values are never printed.
    public static func isSecretKey(_ key: String) -> Bool {
        let k = key.lowercased()
        return ["password", "passwd", "secret", "token", "credential", "passphrase"].contains { k.containsText($0) }
    }

    /// True when stderr is the journal stream systemd connected (`$JOURNAL_STREAM` = `device:inode` of fd 2).
    public static func stderrIsJournal(environment: [String: String]) -> Bool {
        guard let stream = environment["JOURNAL_STREAM"] else { return false }
        let parts = stream.split(separator: ":")
        guard parts.count == 2, let dev = UInt64(parts[0]), let ino = UInt64(parts[1]) else { return false }
        var st = stat()
        guard fstat(2, &st) == 0 else { return false }
        return UInt64(st.st_dev) == dev && UInt64(st.st_ino) == ino
    }

    /// Installs this handler for every logger of the process: debug level when `verbose`, journald format
    /// when stderr is the journal.
    public static func bootstrap(verbose: Bool, environment: [String: String]) {
        let format: Format = stderrIsJournal(environment: environment) ? .journald : .plain
        LoggingSystem.bootstrap { label in
            JournalLogHandler(label: label, format: format, level: verbose ? .debug : .info)
        }
    }

    /// Writes `line` and a newline to fd 2 in one write(2), retrying short writes.
    public static let standardError: Sink = { line in StandardError.writeLine(line) }

    static func render(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let s): return s
        case .described(let text): return text
        case .array(let items): return "[" + items.map { render($0) }.joined(separator: ",") + "]"
        case .dictionary(let dict):
            return "{" + dict.keys.sorted().map { key in
                key + ":" + (isSecretKey(key) ? ConfigSecret.mask : render(dict[key]!))
            }.joined(separator: ",") + "}"
        }
    }

    static func oneLine(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D }) else { return text }
        return text.replacingAll("\r", with: "\\r").replacingAll("\n", with: "\\n")
    }

    static func quotedIfNeeded(_ value: String) -> String {
        let v = oneLine(value)
        guard v.isEmpty || v.utf8.contains(where: { $0 == 0x20 || $0 == 0x22 || $0 == 0x3D || $0 == 0x09 }) else {
            return v
        }
        return "\"" + v.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"") + "\""
    }

    /// `2026-11-22T04:07:25.123Z`.
    static func timestamp(milliseconds: Int64) -> String { UTCTime.iso8601(milliseconds: milliseconds) }
}
