/// A parser for `.env` files with python-dotenv's rules, so the prototype's files work unchanged:
/// blank lines and `#` comment lines; an optional `export ` prefix; spaces around `=`; unquoted values end at
/// a `#` preceded by whitespace (`DLMS_HOST=192.168.5.177   # IP del medidor`); single-quoted values are
/// literal (only `\\` and `\'` are escapes); double-quoted values understand `\n \t \r \" \\` and may span
/// lines; `${NAME}` and `${NAME:-default}` expand in unquoted and double-quoted values, from keys earlier in
/// the file first, then the environment. A line without `=` defines nothing.
///
/// Where python-dotenv logs and skips a line it cannot parse, this parser refuses it with its line number:
/// a silently ignored setting is worse on a gateway than an agent that will not start.
public enum DotEnv {
    /// One assignment of the file.
    public struct Entry: Sendable, Equatable {
        public var key: String
        public var value: String
        /// 1-based line where the assignment starts.
        public var line: Int
    }

    /// The assignments of `text`, in file order. `fileName` is used in error messages; `environment` serves
    /// `${NAME}` expansion for names the file has not defined yet.
    public static func parse(
        _ text: String, fileName: String = ".env", environment: [String: String] = [:]
    ) throws(ConfigError) -> [Entry] {
        var parser = Parser(bytes: Array(text.utf8), fileName: fileName, environment: environment)
        return try parser.parseAll()
    }

    private struct Parser {
        let bytes: [UInt8]
        let fileName: String
        let environment: [String: String]
        var i = 0
        var line = 1
        var defined: [String: String] = [:]

        init(bytes: [UInt8], fileName: String, environment: [String: String]) {
            self.bytes = bytes
            self.fileName = fileName
            self.environment = environment
            // A UTF-8 byte order mark, as some Windows editors write.
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3 }
        }

        var atEnd: Bool { i >= bytes.count }
        func peek(_ offset: Int = 0) -> UInt8? { i + offset < bytes.count ? bytes[i + offset] : nil }

        mutating func advance() {
            if bytes[i] == 0x0A { line += 1 }
            i += 1
        }

        mutating func skipBlanks() { while let c = peek(), c == 0x20 || c == 0x09 { advance() } }

        mutating func skipRestOfLine() {
            while let c = peek(), c != 0x0A { advance() }
            if !atEnd { advance() }
        }

        func malformed(_ at: Int, _ problem: String, _ expected: String) -> ConfigError {
            ConfigError(variable: fileName, value: nil, origin: "line \(at)", problem: problem, expected: expected)
        }

        mutating func parseAll() throws(ConfigError) -> [Entry] {
            var entries: [Entry] = []
            while !atEnd {
                skipBlanks()
                guard let c = peek() else { break }
                if c == 0x0A || c == 0x0D || c == 0x23 {  // blank line, CR, comment
                    skipRestOfLine()
                    continue
                }
                let start = line
                // `export KEY=...`
                if bytes[i...].starts(with: Array("export".utf8)), let next = peek(6), next == 0x20 || next == 0x09 {
                    i += 6
                    skipBlanks()
                }
                let key = try parseKey(start)
                skipBlanks()
                guard let eq = peek(), eq == 0x3D else {
                    // python-dotenv: a bare key has no value; it defines nothing. Anything else is an error.
                    if peek() == nil || peek() == 0x0A || peek() == 0x0D || peek() == 0x23 {
                        skipRestOfLine()
                        continue
                    }
                    throw malformed(start, "`\(key)` is not followed by `=`", "lines of the form KEY=value")
                }
                advance()
                skipBlanks()
                let value = try parseValue(start, key: key)
                defined[key] = value
                entries.append(Entry(key: key, value: value, line: start))
            }
            return entries
        }

        mutating func parseKey(_ start: Int) throws(ConfigError) -> String {
            if peek() == 0x27 {  // 'quoted key'
                advance()
                var key: [UInt8] = []
                while let c = peek(), c != 0x27, c != 0x0A { key.append(c); advance() }
                guard peek() == 0x27 else { throw malformed(start, "a quoted key is not closed", "'KEY'=value") }
                advance()
                return String(decoding: key, as: UTF8.self)
            }
            var key: [UInt8] = []
            while let c = peek(), c != 0x3D, c != 0x23, c != 0x20, c != 0x09, c != 0x0A, c != 0x0D {
                key.append(c)
                advance()
            }
            if key.isEmpty { throw malformed(start, "a line starts with `=`", "lines of the form KEY=value") }
            return String(decoding: key, as: UTF8.self)
        }

        mutating func parseValue(_ start: Int, key: String) throws(ConfigError) -> String {
            switch peek() {
            case 0x27:  // 'literal'
                advance()
                var out: [UInt8] = []
                while true {
                    guard let c = peek() else {
                        throw malformed(start, "the single-quoted value of \(key) is not closed", "a closing '")
                    }
                    if c == 0x5C, let n = peek(1), n == 0x27 || n == 0x5C { out.append(n); advance(); advance(); continue }
                    if c == 0x27 { advance(); break }
                    out.append(c)
                    advance()
                }
                try endOfQuotedValue(start, key: key)
                return String(decoding: out, as: UTF8.self)
            case 0x22:  // "escaped"
                advance()
                var out: [UInt8] = []
                while true {
                    guard let c = peek() else {
                        throw malformed(start, "the double-quoted value of \(key) is not closed", "a closing \"")
                    }
                    if c == 0x5C, let n = peek(1) {
                        let mapped: UInt8?
                        switch n {
                        case 0x6E: mapped = 0x0A  // \n
                        case 0x74: mapped = 0x09  // \t
                        case 0x72: mapped = 0x0D  // \r
                        case 0x22: mapped = 0x22
                        case 0x5C: mapped = 0x5C
                        case 0x27: mapped = 0x27
                        case 0x62: mapped = 0x08
                        case 0x66: mapped = 0x0C
                        case 0x30: mapped = 0x00
                        default: mapped = nil
                        }
                        if let mapped { out.append(mapped); advance(); advance(); continue }
                        // Unknown escapes stay as written, like Python's codecs for e.g. `\d`.
                    }
                    if c == 0x22 { advance(); break }
                    out.append(c)
                    advance()
                }
                try endOfQuotedValue(start, key: key)
                return expand(String(decoding: out, as: UTF8.self))
            default:
                var out: [UInt8] = []
                while let c = peek(), c != 0x0A {
                    // An inline comment starts at `#` after whitespace.
                    if c == 0x23, let last = out.last, last == 0x20 || last == 0x09 { break }
                    out.append(c)
                    advance()
                }
                skipRestOfLine()
                while let last = out.last, last == 0x20 || last == 0x09 || last == 0x0D { out.removeLast() }
                return expand(String(decoding: out, as: UTF8.self))
            }
        }

        mutating func endOfQuotedValue(_ start: Int, key: String) throws(ConfigError) {
            skipBlanks()
            if peek() == 0x0D { advance() }
            guard let c = peek() else { return }
            if c == 0x0A || c == 0x23 { skipRestOfLine(); return }
            throw malformed(
                start, "text follows the closing quote of \(key)'s value",
                "nothing after a quoted value except a # comment")
        }

        /// `${NAME}` and `${NAME:-default}` (python-dotenv's POSIX-style expansion).
        func expand(_ value: String) -> String {
            let v = Array(value.utf8)
            guard v.contains(0x24) else { return value }
            var out: [UInt8] = []
            var k = 0
            while k < v.count {
                if v[k] == 0x24, k + 1 < v.count, v[k + 1] == 0x7B, let close = v[(k + 2)...].firstIndex(of: 0x7D) {
                    let inner = Array(v[(k + 2)..<close])
                    var name = inner
                    var fallback: [UInt8] = []
                    if let colon = inner.firstIndex(of: 0x3A), colon + 1 < inner.count, inner[colon + 1] == 0x2D {
                        name = Array(inner[..<colon])
                        fallback = Array(inner[(colon + 2)...])
                    }
                    let n = String(decoding: name, as: UTF8.self)
                    if let found = defined[n] ?? environment[n] {
                        out.append(contentsOf: found.utf8)
                    } else {
                        out.append(contentsOf: fallback)
                    }
                    k = close + 1
                } else {
                    out.append(v[k])
                    k += 1
                }
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}
