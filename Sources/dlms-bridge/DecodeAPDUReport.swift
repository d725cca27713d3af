// `dlms-bridge decode`: rendering one APDU (COSEM.APDUDescription does the analysis).

import Agent
import COSEM
import DLMSCrypto

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
        case let .setRequest(s):
            w.member("invoke_id", s.invoke.invokeId)
            w.key("attribute"); attributeJSON(&w, s.attribute, s.access)
            w.member("value", s.value.description)
        case let .setResponse(s):
            w.member("invoke_id", s.invoke.invokeId)
            w.member("result_name", s.result.name)
            w.member("result_code", s.result.rawValue)
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
