import Agent
import COSEM
import DLMSCrypto
import HDLC
import Platform

import CLibc

/// `dlms-bridge decode`: explains HDLC frames and APDUs pasted from a log, field by field.
///
/// Exit status: 0 when every frame and APDU is valid, 1 when one fails a check (or bytes were discarded),
/// 2 when the input is not hex. Every field that could be read is printed even when a check fails.
enum DecodeCommand {
    static let spec = CommandSpec(
        name: "decode",
        abstract: "Explain HDLC frames or an APDU pasted from a log: fields, checksums, decoded APDU.",
        discussion: """
            Accepts hex with or without spaces, 0x prefixes, colons or commas, and whole lines of the
            `--verbose` trace (`2026-11-22T04:31:07.123Z TX 7E A0 ...`) or of the prototype's log (`TX: 7e
            a0 ...`). Several frames form a stream (RX chunks are joined) and are split by their length
            fields; bytes that are not part of a valid frame are reported. Input that starts with an APDU
            tag (60 AARQ, 61 AARE, C0 GET-Request, C4 GET-Response, C3/C7 ACTION, D8, 0E, 62/63, and the ciphered
            C8...D7, DB/DC) or with the LLC header is decoded as an APDU; input that starts with an IEC 62056-47
            wrapper header (00 01 <source wPort> <destination wPort> <length>) is decoded as header and APDU.

            Ciphered APDUs (security suite 0) are deciphered when --ek and --ak are given; --system-title is the
            sender's title for the glo-/ded- forms (general ciphering and the AARQ/AARE carry theirs). The tag
            verdict is shown: a tag that does not verify makes the APDU invalid. Keys are never printed.

            Passwords are never printed. Masked bytes (`**`) from the trace are accepted; checksums over
            them cannot be verified.

            Exit status: 0 all valid, 1 a frame or APDU failed a check, 2 the input is not hex.
            """,
        positionals: [("hex...", "Hex bytes (several arguments are joined); '-' or nothing reads stdin.")],
        options: [
            .flag("json", "Print the result as JSON."),
            .value("ek", "hex", "The global unicast encryption key (32 hex digits), to decipher ciphered APDUs."),
            .value("ak", "hex", "The authentication key (32 hex digits)."),
            .value("dk", "hex", "A dedicated key (32 hex digits), for ded- and general-ded-ciphered APDUs."),
            .value("system-title", "hex", "The sender's system title (16 hex digits) for glo-/ded- APDUs."),
        ]
    )

    static func main(_ arguments: [String]) -> Never {
        runCommand(spec, arguments[...]) { args throws(UsageError) in
            exit(run(hex: args.positionals, json: args.flag("json"), keys: try keys(args)))
        }
    }

    /// The deciphering keys from the options; nil without --ek. A bad value is named, never echoed.
    static func keys(_ args: ParsedArguments) throws(UsageError) -> DecodeKeys? {
        func key(_ name: String) throws(UsageError) -> SecurityKey? {
            guard let text = args.string(name) else { return nil }
            guard let key = SecurityKey(hex: text) else {
                throw UsageError(message: "--\(name) must be 32 hex digits (a 16-byte AES key); the value is not shown")
            }
            return key
        }
        let ek = try key("ek"), ak = try key("ak"), dk = try key("dk")
        var title: SystemTitle? = nil
        if let text = args.string("system-title") {
            guard let parsed = SystemTitle(hex: text) else {
                throw UsageError(message: "--system-title \(text) must be 16 hex digits (8 bytes, e.g. 4D4D4D0000BC614E)")
            }
            title = parsed
        }
        guard let ek else {
            if ak != nil || dk != nil || title != nil {
                throw UsageError(message: "--ak, --dk and --system-title need --ek (the encryption key) as well")
            }
            return nil
        }
        guard let ak else { throw UsageError(message: "--ek needs --ak (the authentication key) as well") }
        let engine: OpenSSLGCM
        do { engine = try OpenSSLGCM() } catch { throw UsageError(message: error.description) }
        return DecodeKeys(engine: engine, keys: SecurityKeys(encryption: ek, authentication: ak, dedicated: dk),
                          systemTitle: title)
    }

    /// Decodes and prints; returns the exit status (2 for input that is not hex exits from here).
    static func run(hex: [String], json: Bool, keys: DecodeKeys? = nil) -> Int32 {
        let text: String
        if hex.isEmpty || hex == ["-"] {
            text = StandardInput.readAll()
        } else {
            text = hex.joined(separator: " ")
        }
        let input: HexInput
        switch HexInput.parse(text) {
        case let .success(parsed): input = parsed
        case let .failure(error):
            if json {
                var w = JSONWriter()
                w.beginObject()
                w.member("valid", false)
                w.member("error", error.description)
                w.member("character", error.character)
                w.endObject()
                print(w.output)
            }
            fail(error.description, code: 2)
        }
        let report = DecodeReport(input, keys: keys)
        if json {
            print(report.json())
        } else {
            print(report.text(), terminator: "")
        }
        return report.isValid ? 0 : 1
    }
}

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

// MARK: - The report

/// Everything found in the input, in input order.
struct DecodeReport {
    enum Item {
        case frame(FrameReport)
        case garbage(range: Range<Int>)
        case apdu(APDUReport)
    }

    let input: HexInput
    /// Keys to decipher ciphered APDUs with (`--ek`, `--ak`, ...); nil shows them as they are.
    let keys: DecodeKeys?
    var items: [Item] = []
    var counters = DeframerCounters()
    var usedDeframer = false

    var isValid: Bool {
        items.allSatisfy { item in
            switch item {
            case let .frame(f): return f.isValid
            case .garbage: return false
            case let .apdu(a): return a.isValid
            }
        }
    }

    init(_ input: HexInput, keys: DecodeKeys? = nil) {
        self.input = input
        self.keys = keys
        let bytes = input.bytes
        let first = bytes[0]
        if first != 0x7E && first & 0xF0 == 0xA0 {
            // A frame pasted without its flags.
            items.append(.frame(FrameReport(bytes, range: 0..<bytes.count, input: input, keys: keys)))
        } else if first == 0xE6, bytes.count > 3, bytes[2] == 0x00, bytes[1] == 0xE6 || bytes[1] == 0xE7 {
            items.append(.apdu(APDUReport(Array(bytes[3...]), origin: 3, masked: input.masked, keys: keys)))
        } else if let header = try? WrapperHeader.parse(bytes), Int(header.length) == bytes.count - WrapperHeader.size {
            // An IEC 62056-47 wrapper PDU: its header, then the APDU.
            let masked = Set(input.masked.compactMap { $0 >= WrapperHeader.size ? $0 - WrapperHeader.size : nil })
            var report = APDUReport(Array(bytes[WrapperHeader.size...]), origin: WrapperHeader.size, masked: masked, keys: keys)
            report.wrapper = header
            items.append(.apdu(report))
        } else if APDUDescription.knownTags.contains(first) {
            items.append(.apdu(APDUReport(bytes, origin: 0, masked: input.masked, keys: keys)))
        } else {
            decodeStream()
        }
        reassembleSegments()
    }

    /// Splits a stream with the Deframer (by length field, resynchronising as the agent does) and describes
    /// whatever it discarded.
    private mutating func decodeStream() {
        usedDeframer = true
        let bytes = input.bytes
        var deframer = Deframer()
        var valid: [Range<Int>] = []
        bytes.withUnsafeBytes { raw in
            for i in 0..<raw.count {
                // One byte at a time, so a frame's end is the current index.
                deframer.feed(UnsafeRawBufferPointer(rebasing: raw[i...i])) { frame, _ in
                    valid.append((i + 1 - frame.count)..<(i + 1))
                }
            }
        }
        // The end of the input is the inter-frame timeout: give up a frame that never completed, as the agent
        // does, so frames inside its declared length are still found.
        while deframer.hasPartialFrame {
            deframer.abandonPartialFrame()
            while true {
                guard let count = deframer.nextFrame({ (frame: HDLCFrame, _: UnsafeRawBufferPointer) in frame.count })
                else { break }
                // The closing flag stays buffered (it may open the next frame).
                let end = bytes.count - deframer.bufferedCount + 1
                valid.append((end - count)..<end)
            }
        }
        counters = deframer.counters
        var cursor = 0
        for range in valid {
            if range.lowerBound > cursor { describeGap(cursor..<range.lowerBound, next: range.lowerBound) }
            items.append(.frame(FrameReport(Array(bytes[range]), range: range, input: input, keys: keys)))
            cursor = range.upperBound
        }
        if cursor < bytes.count { describeGap(cursor..<bytes.count, next: nil) }
    }

    /// Bytes between valid frames: a frame that failed its checks, repeated flags, or garbage.
    private mutating func describeGap(_ gap: Range<Int>, next: Int?) {
        let bytes = input.bytes
        var i = gap.lowerBound
        var garbageStart: Int? = nil
        func flushGarbage(_ end: Int) {
            if let g = garbageStart, end > g { items.append(.garbage(range: g..<end)) }
            garbageStart = nil
        }
        while i < gap.upperBound {
            if bytes[i] == 0x7E {
                if i + 1 < gap.upperBound && bytes[i + 1] == 0x7E { flushGarbage(i); i += 1; continue }
                if i + 2 < bytes.count && bytes[i + 1] & 0xF0 == 0xA0 {
                    flushGarbage(i)
                    let total = (Int(bytes[i + 1] & 0x07) << 8 | Int(bytes[i + 2])) + 2
                    // A frame whose closing flag opens the next valid frame may include that flag.
                    var limit = gap.upperBound
                    if let next, next == gap.upperBound, next < bytes.count, bytes[next] == 0x7E { limit = next + 1 }
                    let end = max(i + 3, min(i + total, limit))
                    items.append(.frame(FrameReport(Array(bytes[i..<end]), range: i..<end, input: input, keys: keys)))
                    i = end
                    continue
                }
                if i + 1 == gap.upperBound && next != nil { i += 1; continue }  // the next frame's flag
            }
            if garbageStart == nil { garbageStart = i }
            i += 1
        }
        flushGarbage(gap.upperBound)
    }

    /// Joins the information fields of segmented I-frames and decodes the APDU once, on the last segment.
    private mutating func reassembleSegments() {
        var pending: [UInt8]? = nil
        var pendingFrames = 0
        var pendingMasked: Set<Int> = []
        for index in items.indices {
            guard case var .frame(f) = items[index], f.description.isValid || f.onlyMaskedProblems,
                  let control = f.description.control, control.isInformation || isUI(control),
                  f.description.infoRange != nil
            else { continue }
            let segmented = f.description.segmented ?? false
            if pending == nil && !segmented { continue }
            let part = pending == nil ? f.description.apdu : f.description.info
            let partOffset = pending == nil ? (f.description.apduRange?.lowerBound ?? 0) : (f.description.infoRange?.lowerBound ?? 0)
            var joined = pending ?? []
            for (k, _) in part.enumerated() where input.masked.contains(f.range.lowerBound + partOffset + k) {
                pendingMasked.insert(joined.count + k)
            }
            joined += part
            pendingFrames += 1
            if segmented {
                pending = joined
                f.segmentNote = "segment \(pendingFrames): \(part.count) bytes; the APDU continues in the next I-frame"
                f.apdu = nil
            } else {
                f.segmentNote = "last segment: APDU of \(joined.count) bytes reassembled from \(pendingFrames) frames"
                f.apdu = APDUReport(joined, origin: nil, masked: pendingMasked, keys: keys)
                pending = nil
                pendingFrames = 0
                pendingMasked = []
            }
            items[index] = .frame(f)
        }
    }

    private func isUI(_ c: Control) -> Bool {
        if case .unnumberedInformation = c { return true }
        return false
    }

    // MARK: Text

    func text() -> String {
        var out = ""
        let frameCount = items.filter { if case .frame = $0 { return true } else { return false } }.count
        var frameNumber = 0
        for item in items {
            switch item {
            case let .frame(f):
                frameNumber += 1
                out += f.text(number: frameNumber, of: frameCount, inputCount: input.bytes.count)
            case let .garbage(range):
                out += "discarded   \(range.count) bytes at input bytes \(range.lowerBound + 1)-\(range.upperBound) "
                    + "are not part of a valid frame: \(maskedHex(input.bytes, range: range, masked: input.masked, limit: 32))\n"
            case let .apdu(a):
                out += "APDU (\(a.bytes.count) bytes" + (a.origin == 3 ? ", after the LLC header" : "")
                    + (a.wrapper == nil ? "" : ", after the IEC 62056-47 wrapper header") + ")\n"
                out += a.text(indent: "")
            }
            out += "\n"
        }
        let discarded = items.contains { if case .garbage = $0 { return true } else { return false } }
        if usedDeframer && discarded {
            // What the agent's health counters would show for this input.
            out += "deframer    \(counters.description)\n"
        }
        if !input.skippedLines.isEmpty {
            out += "note        skipped log lines without frame bytes: \(input.skippedLines.map(String.init).joined(separator: ", "))\n"
        }
        if !input.masked.isEmpty {
            out += "note        \(input.masked.count) masked bytes (**) in the input: checksums over them cannot be verified\n"
        }
        out += isValid ? "result      valid\n" : "result      INVALID (see the lines marked WRONG / INVALID above)\n"
        return out
    }

    // MARK: JSON

    func json() -> String {
        var w = JSONWriter(style: .compact, reservingCapacity: 1024)
        w.beginObject()
        w.member("valid", isValid)
        w.key("input")
        w.beginObject()
        w.member("bytes", input.bytes.count)
        w.member("masked_bytes", input.masked.count)
        w.key("skipped_lines"); w.beginArray(); for l in input.skippedLines { w.integer(l) }; w.endArray()
        w.endObject()
        w.key("items")
        w.beginArray()
        for item in items {
            switch item {
            case let .frame(f): f.json(&w)
            case let .garbage(range):
                w.beginObject()
                w.member("kind", "garbage")
                w.member("offset", range.lowerBound)
                w.member("length", range.count)
                w.member("hex", maskedHex(input.bytes, range: range, masked: input.masked, limit: Int.max))
                w.endObject()
            case let .apdu(a):
                w.beginObject()
                w.member("kind", "apdu")
                w.member("offset", a.origin ?? 0)
                a.jsonMembers(&w)
                w.endObject()
            }
        }
        w.endArray()
        if usedDeframer {
            w.key("deframer")
            w.beginObject()
            w.member("frames", counters.frames)
            w.member("garbage_bytes", counters.garbageBytes)
            w.member("repeated_flags", counters.repeatedFlags)
            w.member("malformed_headers", counters.malformedHeaders)
            w.member("hcs_errors", counters.hcsErrors)
            w.member("fcs_errors", counters.fcsErrors)
            w.member("truncated_frames", counters.truncatedFrames)
            w.member("oversize_frames", counters.oversizeFrames)
            w.endObject()
        }
        w.key("errors")
        w.beginArray()
        for item in items {
            switch item {
            case let .frame(f): for p in f.problemMessages { w.string(p) }
            case let .garbage(range):
                w.string("\(range.count) bytes at input bytes \(range.lowerBound + 1)-\(range.upperBound) are not part of a valid frame")
            case let .apdu(a): if let e = a.errorMessage { w.string(e) }
            }
        }
        w.endArray()
        w.endObject()
        return w.output
    }
}

// MARK: - One frame

struct FrameReport {
    /// Where the frame lies in the input.
    let range: Range<Int>
    let description: FrameDescription
    /// Input bytes of this frame that were `**` in the trace (offsets within the frame).
    let masked: Set<Int>
    var apdu: APDUReport?
    var parameters: Result<LinkParameters, FrameError>?
    var segmentNote: String?

    init(_ bytes: [UInt8], range: Range<Int>, input: HexInput, keys: DecodeKeys?) {
        self.range = range
        description = FrameDescription(bytes)
        masked = Set(input.masked.compactMap { range.contains($0) ? $0 - range.lowerBound : nil })
        if let control = description.control, let infoRange = description.infoRange {
            switch control {
            case .setNormalResponseMode, .unnumberedAcknowledge:
                parameters = description.info.withUnsafeBytes { raw in
                    do throws(FrameError) { return .success(try LinkParameters.decode(raw)) } catch { return .failure(error) }
                }
            case .information, .unnumberedInformation:
                if let apduRange = description.apduRange, !apduRange.isEmpty {
                    let apduMasked = Set(masked.compactMap { apduRange.contains($0) ? $0 - apduRange.lowerBound : nil })
                    apdu = APDUReport(description.apdu, origin: apduRange.lowerBound, masked: apduMasked, keys: keys)
                }
            default:
                _ = infoRange
            }
        } else if let control = description.control, description.infoRange == nil, description.isValid {
            if case .setNormalResponseMode = control { parameters = .success(.defaults) }
            if case .unnumberedAcknowledge = control { parameters = .success(.defaults) }
        }
    }

    /// Problems other than checksum mismatches caused by masked (`**`) input bytes.
    var realProblems: [FrameError] {
        guard !masked.isEmpty else { return description.problems }
        return description.problems.filter { p in
            switch p {
            case .hcsMismatch, .fcsMismatch: return false
            default: return true
            }
        }
    }

    var onlyMaskedProblems: Bool { !masked.isEmpty && realProblems.isEmpty }

    var isValid: Bool {
        realProblems.isEmpty && (apdu?.isValid ?? true) && (parameters.map { if case .success = $0 { return true } else { return false } } ?? true)
    }

    var problemMessages: [String] {
        var out = realProblems.map { $0.description }
        if let apdu, let e = apdu.errorMessage { out.append(e) }
        if case let .failure(e)? = parameters { out.append(e.description) }
        return out
    }

    /// The role of each address, from the control field and the LLC header.
    var direction: (destination: String, source: String)? {
        if let llc = description.llc { return llc == .request ? ("server", "client") : ("client", "server") }
        switch description.control {
        case .setNormalResponseMode?, .disconnect?: return ("server", "client")
        case .unnumberedAcknowledge?, .disconnectedMode?, .frameReject?: return ("client", "server")
        default:
            // The client address is one byte; a longer one is the server's.
            if let d = description.destination, let s = description.source {
                if d.byteCount > 1 && s.byteCount == 1 { return ("server", "client") }
                if s.byteCount > 1 && d.byteCount == 1 { return ("client", "server") }
            }
            return nil
        }
    }

    func addressText(_ a: HDLCAddress, role: String?) -> String {
        let width = a.byteCount == 1 ? "1 byte" : "\(a.byteCount) bytes"
        let wire = spacedHex(a.bytes)
        if role == "client" { return "\(wire): client SAP \(a.physical) (\(width))" }
        let who = role.map { "\($0) " } ?? ""
        return "\(wire): \(who)logical \(a.logical), physical \(a.physical) (\(width))"
    }

    func controlKind(_ c: Control) -> (kind: String, ns: UInt8?, nr: UInt8?, pf: Bool) {
        switch c {
        case let .information(s, r, p): return ("I", s, r, p)
        case let .receiveReady(r, p): return ("RR", nil, r, p)
        case let .receiveNotReady(r, p): return ("RNR", nil, r, p)
        case let .setNormalResponseMode(p): return ("SNRM", nil, nil, p)
        case let .unnumberedAcknowledge(f): return ("UA", nil, nil, f)
        case let .disconnect(p): return ("DISC", nil, nil, p)
        case let .disconnectedMode(f): return ("DM", nil, nil, f)
        case let .frameReject(f): return ("FRMR", nil, nil, f)
        case let .unnumberedInformation(p): return ("UI", nil, nil, p)
        }
    }

    func checksumText(_ v: ChecksumVerdict, coveredMasked: Bool) -> String {
        let at = "at frame byte \(v.offset + 1)"
        guard let actual = v.actual else { return "missing (the frame ends before byte \(v.offset + 1)), expected \(wire(v.expected))" }
        if coveredMasked { return "\(wire(actual)) \(at): not checked (masked bytes in the input)" }
        return v.isValid ? "\(wire(actual)) \(at): ok" : "\(wire(actual)) \(at): WRONG, expected \(wire(v.expected))"
    }

    func text(number: Int, of total: Int, inputCount: Int) -> String {
        let d = description
        var out = ""
        let kind = d.control.map { controlKind($0).kind } ?? "frame"
        let title = total > 1 || range.count != inputCount
            ? "frame \(number) (input bytes \(range.lowerBound + 1)-\(range.upperBound))" : "frame"
        out += "\(title): \(kind), \(range.count) bytes, " + (isValid ? "valid" : "INVALID") + "\n"
        func line(_ name: String, _ value: String) { out += "  " + pad(name, 12) + value + "\n" }
        if let format = d.format {
            let seg = (d.segmented ?? false) ? "segmented (more segments follow)" : "not segmented"
            line("format", "\(hex4(format)): type \(d.formatType ?? 0), \(seg), length \(d.declaredLength ?? 0)")
        }
        let roles = direction
        if let dst = d.destination { line("destination", addressText(dst, role: roles?.destination)) }
        if let src = d.source { line("source", addressText(src, role: roles?.source)) }
        if let cb = d.controlByte {
            if let c = d.control {
                let k = controlKind(c)
                var text = "\(hexString([cb])): \(k.kind)"
                if let ns = k.ns { text += ", N(S)=\(ns)" }
                if let nr = k.nr { text += ", N(R)=\(nr)" }
                text += ", P/F=\(k.pf ? 1 : 0)"
                line("control", text)
            } else {
                line("control", "\(hexString([cb])): unknown control byte")
            }
        }
        let maskedCovered = !masked.isEmpty
        if let hcs = d.hcs { line("HCS", checksumText(hcs, coveredMasked: maskedCovered && masked.contains { $0 < hcs.offset })) }
        else if d.control != nil { line("HCS", "none (no information field)") }
        if let info = d.infoRange {
            line("info", "\(info.count) bytes at frame bytes \(info.lowerBound + 1)-\(info.upperBound)")
            if let llc = d.llc {
                line("LLC", llc == .request ? "E6 E6 00 (request, client to server)" : "E6 E7 00 (response, server to client)")
            }
        }
        if let fcs = d.fcs { line("FCS", checksumText(fcs, coveredMasked: maskedCovered)) }
        if d.hasClosingFlag == false && d.problems.isEmpty == false { line("flag", "closing flag missing") }
        switch parameters {
        case let .success(p)?:
            line("parameters", (p == .defaults ? "defaults: " : "") + p.description)
        case let .failure(e)?:
            line("parameters", "INVALID: " + e.description)
        case nil: break
        }
        if let segmentNote { line("segment", segmentNote) }
        if let apdu {
            out += apdu.text(indent: "  ")
        } else if let control = d.control, case .frameReject = control, d.infoRange != nil {
            line("reject", "reason bytes " + spacedHex(d.info))
        } else if d.infoRange != nil, d.apduRange != nil, segmentNote == nil, parameters == nil {
            line("data", maskedHex(d.bytes, range: d.apduRange!, masked: masked, limit: 64))
        }
        for p in realProblems { line("INVALID", p.description) }
        return out
    }

    func json(_ w: inout JSONWriter) {
        let d = description
        w.beginObject()
        w.member("kind", "frame")
        w.member("offset", range.lowerBound)
        w.member("length", range.count)
        w.member("valid", isValid)
        w.key("problems"); w.beginArray(); for p in problemMessages { w.string(p) }; w.endArray()
        w.key("format")
        if let format = d.format {
            w.beginObject()
            w.member("hex", hex4(format))
            w.member("type", d.formatType ?? 0)
            w.member("segmented", d.segmented ?? false)
            w.member("length", d.declaredLength ?? 0)
            w.endObject()
        } else { w.null() }
        let roles = direction
        func address(_ name: String, _ a: HDLCAddress?, _ role: String?) {
            w.key(name)
            guard let a else { w.null(); return }
            w.beginObject()
            w.member("hex", spacedHex(a.bytes))
            w.member("width", a.byteCount)
            w.member("logical", a.logical)
            w.member("physical", a.physical)
            w.member("role", role)
            if role == "client" { w.member("sap", a.physical) }
            w.endObject()
        }
        address("destination", d.destination, roles?.destination)
        address("source", d.source, roles?.source)
        w.key("control")
        if let cb = d.controlByte {
            w.beginObject()
            w.member("hex", hexString([cb]))
            if let c = d.control {
                let k = controlKind(c)
                w.member("kind", k.kind)
                w.key("send_sequence"); if let ns = k.ns { w.integer(ns) } else { w.null() }
                w.key("receive_sequence"); if let nr = k.nr { w.integer(nr) } else { w.null() }
                w.member("poll_final", k.pf)
            } else {
                w.member("kind", "unknown")
            }
            w.endObject()
        } else { w.null() }
        func checksum(_ name: String, _ v: ChecksumVerdict?) {
            w.key(name)
            guard let v else { w.null(); return }
            w.beginObject()
            w.member("offset", v.offset)
            w.member("expected", wire(v.expected))
            w.member("actual", v.actual.map(wire))
            w.member("valid", v.isValid)
            w.member("verifiable", masked.isEmpty)
            w.endObject()
        }
        checksum("hcs", d.hcs)
        checksum("fcs", d.fcs)
        w.member("info_length", d.infoRange?.count ?? 0)
        w.member("llc", d.llc.map { $0 == .request ? "request" : "response" })
        w.key("parameters")
        switch parameters {
        case let .success(p)?:
            w.beginObject()
            w.member("max_info_transmit", p.maxInfoTransmit)
            w.member("max_info_receive", p.maxInfoReceive)
            w.member("window_transmit", p.windowTransmit)
            w.member("window_receive", p.windowReceive)
            w.member("defaults", p == .defaults)
            w.endObject()
        case let .failure(e)?: w.beginObject(); w.member("error", e.description); w.endObject()
        case nil: w.null()
        }
        w.member("segment", segmentNote)
        w.key("apdu")
        if let apdu {
            w.beginObject()
            apdu.jsonMembers(&w)
            w.endObject()
        } else { w.null() }
        w.endObject()
    }
}

// MARK: - One APDU

/// The AES-GCM engine and keys of `--ek`/`--ak`/`--dk`/`--system-title`.
typealias DecodeKeys = DecipheringKeys<OpenSSLGCM>

/// Renders one `APDUDescription` (COSEM works out what the APDU means; this only lays it out).
struct APDUReport {
    let bytes: [UInt8]
    /// Offset of the APDU's first byte in the frame (or input); nil when reassembled from segments.
    let origin: Int?
    let description: APDUDescription
    /// The IEC 62056-47 header in front of the APDU, when the input was a wrapper PDU.
    var wrapper: WrapperHeader?
    /// Indices within `bytes` never to print: the AARQ password and bytes masked in the input.
    let hidden: Set<Int>

    init(_ bytes: [UInt8], origin: Int?, masked: Set<Int>, keys: DecodeKeys?) {
        self.bytes = bytes
        self.origin = origin
        description = keys.map { APDUDescription(bytes, deciphering: $0) } ?? APDUDescription(bytes)
        hidden = masked.union(description.hidden)
    }

    var isValid: Bool { description.isValid }

    var errorMessage: String? {
        guard let e = description.error else { return nil }
        var text = "APDU: " + e.description
        if let at = e.byteOffset {
            text += " (APDU byte \(at + 1)" + (origin.map { ", frame byte \($0 + at + 1)" } ?? "") + ")"
        }
        return text
    }

    func text(indent: String) -> String {
        var out = ""
        func line(_ name: String, _ value: String) { out += indent + pad(name, 12) + value + "\n" }
        if let wrapper {
            line("wrapper", "version 1, source wPort \(wrapper.source), destination wPort \(wrapper.destination), "
                + "length \(wrapper.length)")
        }
        line("APDU", maskedHex(bytes, range: 0..<bytes.count, masked: hidden, limit: 96) + " (\(bytes.count) bytes)")
        if description.apdu != nil || description.ciphered != nil {
            line("type", description.name)
            for detail in description.lines { line("", detail) }
        }
        if !description.isValid { line("INVALID", errorMessage ?? "") }
        return out
    }

    func jsonMembers(_ w: inout JSONWriter) {
        w.member("hex", maskedHex(bytes, range: 0..<bytes.count, masked: hidden, limit: Int.max))
        w.member("length", bytes.count)
        w.member("valid", isValid)
        w.member("error", errorMessage)
        if let wrapper {
            w.key("wrapper")
            w.beginObject()
            w.member("version", 1)
            w.member("source_wport", wrapper.source)
            w.member("destination_wport", wrapper.destination)
            w.member("length", wrapper.length)
            w.endObject()
        }
        if let ciphered = description.ciphered {
            w.key("ciphered")
            w.beginObject()
            w.member("name", CipheringTags.name(of: ciphered.tag))
            w.member("security_control", ciphered.security.rawValue)
            w.member("invocation_counter", ciphered.invocationCounter)
            w.member("system_title", ciphered.systemTitle?.description)
            w.member("deciphered", description.plaintext != nil)
            w.member("tag_verified", description.verdict == .verified)
            w.member("verdict", description.verdict?.description)
            w.member("plain_hex", description.plaintext.map { spacedHex($0) })
            w.endObject()
        }
        if description.ciphered == nil, let verdict = description.verdict {
            // A ciphered InitiateRequest/Response inside the AARQ/AARE.
            w.member("user_information_verdict", verdict.description)
            w.member("user_information_tag_verified", verdict == .verified)
        }
        guard let apdu = description.apdu else {
            w.member("type", description.ciphered == nil ? nil as String? : description.name)
            return
        }
        w.member("type", apdu.name)
        w.member("description", apdu.description)
        switch apdu {
        case let .aarq(a):
            w.member("application_context", a.applicationContext.name)
            switch a.authentication {
            case .none:
                w.member("authentication", "none")
                w.member("password", nil as String?)
            case let .lowLevel(password):
                w.member("authentication", "low-level")
                w.member("password", String(repeating: "*", count: password.count))
                w.member("password_length", password.count)
            case .highLevelGMAC, .other:
                w.member("authentication", a.authentication.summary)
                w.member("password", nil as String?)
            }
            w.member("proposed_conformance", a.initiateRequest.proposedConformance.description)
            w.member("client_max_receive_pdu", a.initiateRequest.clientMaxReceivePDUSize)
        case let .aare(a):
            w.member("result", a.result.rawValue)
            w.member("result_name", a.result.name)
            w.member("diagnostic", a.diagnostic.rawValue)
            w.member("diagnostic_name", a.diagnostic.name)
            if let r = a.initiateResponse {
                w.member("granted_conformance", r.negotiatedConformance.description)
                w.member("server_max_receive_pdu", r.serverMaxReceivePDUSize)
            }
        case let .getRequest(g):
            w.member("invoke_id", g.invoke.invokeId)
            w.member("high_priority", g.invoke.isHighPriority)
            switch g {
            case let .normal(_, attribute, access):
                w.key("attributes"); w.beginArray(); attributeJSON(&w, attribute, access); w.endArray()
            case let .next(_, block):
                w.member("block", block)
            case let .withList(_, list):
                w.key("attributes"); w.beginArray(); for item in list { attributeJSON(&w, item.attribute, item.access) }; w.endArray()
            }
        case let .getResponse(g):
            w.member("invoke_id", g.invoke.invokeId)
            w.member("high_priority", g.invoke.isHighPriority)
            switch g {
            case let .normal(_, result):
                w.key("results"); w.beginArray(); resultJSON(&w, result); w.endArray()
            case let .withDatablock(_, block):
                w.member("block", block.blockNumber)
                w.member("last_block", block.lastBlock)
                switch block.result {
                case let .raw(raw): w.member("raw_length", raw.count)
                case let .error(e): w.member("error_name", e.name); w.member("error_code", e.rawValue)
                }
            case let .withList(_, results):
                w.key("results"); w.beginArray(); for r in results { resultJSON(&w, r) }; w.endArray()
            }
        case let .exceptionResponse(e):
            w.member("state_error", e.stateErrorName)
            w.member("service_error", e.serviceErrorName)
        case let .confirmedServiceError(e):
            w.member("service", e.serviceName)
            w.member("error_name", e.errorName)
        case let .rlrq(r):
            w.key("reason"); if let reason = r.content.reason { w.integer(reason) } else { w.null() }
        case let .rlre(r):
            w.key("reason"); if let reason = r.content.reason { w.integer(reason) } else { w.null() }
        case let .actionRequest(a):
            w.member("invoke_id", a.invoke.invokeId)
            w.member("method", a.method.description)
        case let .actionResponse(a):
            w.member("invoke_id", a.invoke.invokeId)
            w.member("action_result", a.result.description)
        }
    }

    private func attributeJSON(_ w: inout JSONWriter, _ a: AttributeDescriptor, _ access: SelectiveAccess?) {
        w.beginObject()
        w.member("class_id", a.classId)
        w.member("obis", a.obis.fullDescription)
        w.member("attribute", a.attribute)
        w.key("access")
        if let access {
            w.beginObject()
            w.member("selector", access.selector)
            w.member("parameters", access.parameters.description)
            w.endObject()
        } else { w.null() }
        w.endObject()
    }

    private func resultJSON(_ w: inout JSONWriter, _ r: GetDataResult) {
        w.beginObject()
        switch r {
        case let .data(v):
            w.member("type", v.typeName)
            w.key("value")
            switch v {
            case let .float32(f): w.number(Double(f))
            case let .float64(f): w.number(f)
            case let .boolean(b): w.bool(b)
            case let .long64Unsigned(u): w.integer(u)
            default:
                if let i = v.integerValue { w.integer(i) }
                else if let o = v.obisValue { w.string(o.fullDescription) }
                else if let t = v.dateTimeValue { w.string(t.description) }
                else { w.null() }
            }
            w.member("text", v.description)
        case let .error(e):
            w.member("error_name", e.name)
            w.member("error_code", e.rawValue)
        }
        w.endObject()
    }
}

// MARK: - Hex helpers


func hex4(_ v: UInt16) -> String { hexString([UInt8(v >> 8)]) + hexString([UInt8(v & 0xFF)]) }

/// A checksum as its two bytes appear on the wire, low byte first (`AF9F`), as FrameError prints it.
func wire(_ v: UInt16) -> String { hexString([UInt8(v & 0xFF)]) + hexString([UInt8(v >> 8)]) }

func spacedHex(_ bytes: [UInt8]) -> String { hexString(bytes) }

/// `bytes[range]` as spaced hex with `masked` indices as `**`, cut after `limit` bytes.
func maskedHex(_ bytes: [UInt8], range: Range<Int>, masked: Set<Int>, limit: Int) -> String {
    var parts: [String] = []
    for i in range {
        if parts.count == limit { parts.append("... (\(range.count - limit) more)"); break }
        parts.append(masked.contains(i) ? "**" : hexString([bytes[i]]))
    }
    return parts.joined(separator: " ")
}
