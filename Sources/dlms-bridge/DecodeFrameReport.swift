// `dlms-bridge decode`: rendering one HDLC frame (HDLC.FrameDescription does the analysis).

import Agent
import COSEM
import HDLC

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
