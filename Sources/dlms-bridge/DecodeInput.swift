// `dlms-bridge decode`: reading hex from arguments, stdin and log lines.

// MARK: - Hex input

/// Hex bytes recovered from pasted text, with the bytes that were masked (`**`) in a trace.
struct HexInput {
    var bytes: [UInt8] = []
    /// Indices of bytes given as `**` (stand-in value 0).
    var masked: Set<Int> = []
    /// Lines skipped because they are log prose, not hex (1-based line numbers).
    var skippedLines: [Int] = []

    enum Failure: Error, CustomStringConvertible {
        case notHex(character: Int, found: Unicode.Scalar, line: Int)
        case oddDigits(character: Int, token: String)
        case empty

        var character: Int {
            switch self {
            case let .notHex(c, _, _), let .oddDigits(c, _): return c
            case .empty: return 0
            }
        }

        var description: String {
            switch self {
            case let .notHex(c, found, line):
                let shown = found.value < 0x20 || found.value == 0x7F ? "U+\(String(found.value, radix: 16, uppercase: true))" : "'\(found)'"
                return "input is not hex: \(shown) at character \(c)" + (line > 1 ? " (line \(line))" : "")
                    + "; paste the frame's bytes as hex (7E A0 07 ... or 7ea007...), optionally with 0x, colons or a log prefix"
            case let .oddDigits(c, token):
                return "odd number of hex digits in '\(token)' ending at character \(c): a digit is missing or extra; "
                    + "each byte needs two digits (07, not 7)"
            case .empty:
                return "no bytes in the input: pass the frame as hex (dlms-bridge decode 7E A0 07 03 03 93 8C 11 7E) or on stdin"
            }
        }
    }

    static let separators: Set<Unicode.Scalar> = [" ", "\t", "\r", ",", ":", ";", "|", "[", "]", "(", ")", "{", "}", "\"", "'", "-"]

    static func parse(_ text: String) -> Result<HexInput, Failure> {
        var result = HexInput()
        let scalars = Array(text.unicodeScalars)
        // Lines, as (start, end) scalar offsets.
        var lines: [(Int, Int)] = []
        var lineStart = 0
        for (i, s) in scalars.enumerated() where s == "\n" {
            lines.append((lineStart, i))
            lineStart = i + 1
        }
        lines.append((lineStart, scalars.count))
        let nonEmpty = lines.filter { l in scalars[l.0..<l.1].contains { !separators.contains($0) && $0 != "\n" } }.count
        for (lineIndex, (start, end)) in lines.enumerated() {
            let line = Array(scalars[start..<end])
            var from = contentStart(line)
            if nonEmpty > 1 && isProse(Array(line[from...])) {
                result.skippedLines.append(lineIndex + 1)
                continue
            }
            // Tokens between separators.
            while from < line.count {
                while from < line.count && separators.contains(line[from]) { from += 1 }
                var to = from
                while to < line.count && !separators.contains(line[to]) { to += 1 }
                if to > from {
                    if let failure = appendToken(line, from, to, offset: start, line: lineIndex + 1, into: &result) {
                        return .failure(failure)
                    }
                }
                from = to
            }
        }
        if result.bytes.isEmpty { return .failure(.empty) }
        return .success(result)
    }

    /// Where the hex starts in a log line: after the last `TX`/`RX` marker, else after a leading timestamp.
    static func contentStart(_ line: [Unicode.Scalar]) -> Int {
        func isAlnum(_ s: Unicode.Scalar) -> Bool { s.properties.isAlphabetic || ("0"..."9").contains(s) }
        var marker = -1
        var i = 0
        while i + 1 < line.count {
            let pair = String(line[i]) + String(line[i + 1])
            if (pair == "TX" || pair == "RX") && (i == 0 || !isAlnum(line[i - 1]))
                && (i + 2 == line.count || !isAlnum(line[i + 2])) {
                marker = i + 2
            }
            i += 1
        }
        if marker >= 0 { return marker }
        // `2026-11-22T04:31:07.123Z` or `2024-05-01 10:00:00,123`: a date first, then maybe a time.
        func digits(_ at: Int, _ n: Int) -> Bool {
            at + n <= line.count && line[at..<(at + n)].allSatisfy { ("0"..."9").contains($0) }
        }
        guard digits(0, 4), line.count > 10, line[4] == "-", digits(5, 2), line[7] == "-", digits(8, 2) else { return 0 }
        var p = 10
        if p < line.count && (line[p] == "T" || line[p] == " ") && digits(p + 1, 2) && p + 3 < line.count && line[p + 3] == ":" {
            p += 1
            while p < line.count && (("0"..."9").contains(line[p]) || [":", ".", ",", "Z", "+"].contains(line[p])) { p += 1 }
        }
        return p
    }

    /// Log text rather than bytes: a word of four or more letters that is not hex (`meter`, `associated`).
    static func isProse(_ line: [Unicode.Scalar]) -> Bool {
        var run = 0
        var nonHex = false
        for s in line + [" "] {
            if s.properties.isAlphabetic {
                run += 1
                if !s.properties.isASCIIHexDigit { nonHex = true }
            } else {
                if run >= 4 && nonHex { return true }
                run = 0
                nonHex = false
            }
        }
        return false
    }

    private static func appendToken(
        _ line: [Unicode.Scalar], _ from: Int, _ to: Int, offset: Int, line lineNumber: Int, into result: inout HexInput
    ) -> Failure? {
        var p = from
        if to - p >= 2, line[p] == "0", line[p + 1] == "x" || line[p + 1] == "X" { p += 2 }
        var digits: [UInt8] = []
        var firstDigitAt = p
        while p < to {
            let s = line[p]
            if s == "*" {
                guard p + 1 < to, line[p + 1] == "*", digits.isEmpty else {
                    return .notHex(character: offset + p + 1, found: s, line: lineNumber)
                }
                result.masked.insert(result.bytes.count)
                result.bytes.append(0)
                p += 2
                firstDigitAt = p
                continue
            }
            guard let v = hexValue(s) else { return .notHex(character: offset + p + 1, found: s, line: lineNumber) }
            digits.append(v)
            if digits.count == 2 {
                result.bytes.append(digits[0] << 4 | digits[1])
                digits.removeAll(keepingCapacity: true)
                firstDigitAt = p + 1
            }
            p += 1
        }
        if !digits.isEmpty {
            return .oddDigits(character: offset + to, token: String(String.UnicodeScalarView(line[from..<to])))
        }
        _ = firstDigitAt
        return nil
    }

    static func hexValue(_ s: Unicode.Scalar) -> UInt8? {
        switch s.value {
        case 0x30...0x39: return UInt8(s.value - 0x30)
        case 0x41...0x46: return UInt8(s.value - 0x41 + 10)
        case 0x61...0x66: return UInt8(s.value - 0x61 + 10)
        default: return nil
        }
    }
}
