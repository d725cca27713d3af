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
