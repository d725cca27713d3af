// A-XDR data and segmented responses from gurux-dlms: our decoder must read gurux's bytes as gurux reads
// them, and our encoder must write the bytes gurux writes for the same value.
import COSEM
import Foundation
import HDLC
import Testing

struct UnexpectedVector: Error, CustomStringConvertible {
    let description: String
}

/// The DataValue a typed JSON value (as gurux decoded it) stands for.
func dataValue(_ typed: JSON) throws -> DataValue {
    let type = try text(typed, "type")
    let v = typed["value"] ?? .null
    func int() throws -> Int {
        guard let i = v.int else { throw UnexpectedVector(description: "\(type) without an integer: \(typed)") }
        return i
    }
    func str() throws -> String {
        guard let s = v.string else { throw UnexpectedVector(description: "\(type) without a string: \(typed)") }
        return s
    }
    func check<T: FixedWidthInteger>(_: T.Type) throws -> T {
        let i = try int()
        guard let t = T(exactly: i) else { throw UnexpectedVector(description: "\(type) out of range: \(typed)") }
        return t
    }
    switch type {
    case "null": return .null
    case "array", "structure":
        let elements = try (v.array ?? []).map(dataValue)
        return type == "array" ? .array(elements) : .structure(elements)
    case "boolean":
        guard let b = v.bool else { throw UnexpectedVector(description: "boolean: \(typed)") }
        return .boolean(b)
    case "bit-string":
        return .bitString(BitString(bitCount: try field(v, "bits"), bytes: bytes(hex: try text(v, "hex"))))
    case "double-long": return .doubleLong(try check(Int32.self))
    case "double-long-unsigned": return .doubleLongUnsigned(try check(UInt32.self))
    case "octet-string": return .octetString(bytes(hex: try str()))
    case "visible-string": return .visibleString(Array(try str().utf8))
    case "utf8-string": return .utf8String(Array(try str().utf8))
    case "bcd": return .bcd(try check(UInt8.self))
    case "integer": return .integer(try check(Int8.self))
    case "long": return .long(try check(Int16.self))
    case "unsigned": return .unsigned(try check(UInt8.self))
    case "long-unsigned": return .longUnsigned(try check(UInt16.self))
    case "long64":
        guard let i = Int64(try str()) else { throw UnexpectedVector(description: "long64: \(typed)") }
        return .long64(i)
    case "long64-unsigned":
        guard let u = UInt64(try str()) else { throw UnexpectedVector(description: "long64-unsigned: \(typed)") }
        return .long64Unsigned(u)
    case "enum": return .enumerated(try check(UInt8.self))
    case "float32":
        guard let d = v.double else { throw UnexpectedVector(description: "float32: \(typed)") }
        return .float32(Float(d))
    case "float64":
        guard let d = v.double else { throw UnexpectedVector(description: "float64: \(typed)") }
        return .float64(d)
    case "date-time": return .dateTime(try CosemDateTime(bytes: bytes(hex: try str())))
    case "date":
        let b = bytes(hex: try str())
        guard b.count == 5 else { throw UnexpectedVector(description: "date: \(typed)") }
        return .date(CosemDate(year: UInt16(b[0]) << 8 | UInt16(b[1]), month: b[2], dayOfMonth: b[3], dayOfWeek: b[4]))
    case "time":
        let b = bytes(hex: try str())
        guard b.count == 4 else { throw UnexpectedVector(description: "time: \(typed)") }
        return .time(CosemTime(hour: b[0], minute: b[1], second: b[2], hundredths: b[3]))
    default:
        throw UnexpectedVector(description: "a type the interop test does not know: \(typed)")
    }
}

/// Checks our decoded value against gurux's typed JSON, field by field for dates and times (gurux reports
/// "not specified" as null, the wire as 0xFF / 0xFFFF / 0x8000).
func expectSame(_ ours: DataValue, _ gurux: JSON, _ what: String) throws {
    let type = try text(gurux, "type")
    #expect(ours.typeName == type || (type == "null" && ours == .null), "\(what): type \(ours.typeName) vs \(type)")
    switch ours {
    case let .array(elements), let .structure(elements):
        let theirs = gurux["value"]?.array ?? []
        #expect(elements.count == theirs.count, "\(what): element count")
        for (i, (a, b)) in zip(elements, theirs).enumerated() { try expectSame(a, b, "\(what)[\(i)]") }
        return
    case let .dateTime(dt):
        let f = gurux["fields"] ?? .null
        func wire(_ key: String, _ unspecified: Int) -> Int { f[key]?.int ?? unspecified }
        #expect(Int(dt.date.year) == wire("year", 0xFFFF), "\(what): year")
        #expect(Int(dt.date.month) == wire("month", 0xFF), "\(what): month")
        #expect(Int(dt.date.dayOfMonth) == wire("day", 0xFF), "\(what): day")
        #expect(Int(dt.date.dayOfWeek) == wire("dayOfWeek", 0xFF), "\(what): day of week")
        #expect(Int(dt.time.hour) == wire("hour", 0xFF), "\(what): hour")
        #expect(Int(dt.time.minute) == wire("minute", 0xFF), "\(what): minute")
        #expect(Int(dt.time.second) == wire("second", 0xFF), "\(what): second")
        #expect(Int(dt.time.hundredths) == wire("hundredths", 0xFF), "\(what): hundredths")
        #expect(Int(dt.deviation) == wire("deviation", Int(CosemDateTime.deviationNotSpecified)), "\(what): deviation")
        #expect(Int(dt.clockStatus.rawValue) == wire("clockStatus", 0xFF), "\(what): clock status")
    case let .date(d):
        let f = gurux["fields"] ?? .null
        #expect(Int(d.year) == (f["year"]?.int ?? 0xFFFF), "\(what): year")
        #expect(Int(d.month) == (f["month"]?.int ?? 0xFF), "\(what): month")
        #expect(Int(d.dayOfMonth) == (f["day"]?.int ?? 0xFF), "\(what): day")
    case let .time(t):
        let f = gurux["fields"] ?? .null
        #expect(Int(t.hour) == (f["hour"]?.int ?? 0xFF), "\(what): hour")
        #expect(Int(t.minute) == (f["minute"]?.int ?? 0xFF), "\(what): minute")
        #expect(Int(t.second) == (f["second"]?.int ?? 0xFF), "\(what): second")
    default:
        break
    }
    #expect(ours == (try dataValue(gurux)), "\(what): value")
}

@Suite("gurux-dlms interop: A-XDR data and responses")
struct GuruxDataTests {
    @Test("A-XDR data of every type decodes and encodes like gurux")
    func axdr() throws {
        let doc = try GuruxVectors.get()
        let vectors = try list(doc, "axdr")
        for vector in vectors {
            let name = try text(vector, "name")
            let wire = bytes(hex: try text(vector, "hex"))
            let gurux = vector["value"] ?? .null
            let ours = try DataValue.decode(wire)
            try expectSame(ours, gurux, name)
            // Encoding the value gurux decoded gives gurux's bytes.
            #expect(hex(try dataValue(gurux).encoded) == hex(wire), "\(name): encode")
        }
    }

    /// The data of every GET-Response gurux encoded (the A-XDR part) decodes like gurux decoded it.
    @Test("GET-Response data decodes like gurux's client decodes it")
    func getResponseData() throws {
        let doc = try GuruxVectors.get()
        for vector in try list(doc, "getResponses") {
            let name = try text(vector, "name")
            let result = vector["result"] ?? .null
            guard result["kind"]?.string == "data" else { continue }
            let data = bytes(hex: try text(vector, "data"))
            try expectSame(try DataValue.decode(data), result["value"] ?? .null, name)
        }
    }

    // MARK: Conversations over HDLC

    /// A GET whose response gurux segments into I-frames and/or blocks: every frame parses, the client's
    /// RR frames are the bytes we would send (N(R) = the meter's N(S) + 1), and the reassembled
    /// information fields are the GET-Response APDUs.
    @Test("segmented responses: frames parse, our RR equals gurux's, segments reassemble")
    func conversations() throws {
        let doc = try GuruxVectors.get()
        for vector in try list(doc, "conversations") {
            let name = try text(vector, "name")
            let params = vector["params"] ?? .null
            let server = try serverAddress(params)
            let client = try HDLCAddress.client(sap: UInt8(try field(params, "clientSAP")))
            var lastMeterSend: UInt8? = nil
            var apdu: [UInt8] = []
            var apdus: [[UInt8]] = []
            var firstOfAPDU = true
            for (index, step) in try list(vector, "steps").enumerated() {
                let what = "\(name) step \(index) \(step["what"]?.string ?? "")"
                let frameBytes = bytes(hex: try text(step, "hex"))
                let frame = try HDLCFrame.parse(frameBytes)
                let fromMeter = step["from"]?.string == "meter"
                #expect((fromMeter ? frame.source : frame.destination).isSameStation(as: server), "\(what)")
                #expect((fromMeter ? frame.destination : frame.source) == client, "\(what)")
                switch step["what"]?.string {
                case "ua":
                    #expect(frame.control == .unnumberedAcknowledge(final: true), "\(what)")
                    let ua = try LinkParameters.decode(info(of: frame, in: frameBytes))
                    let proposal = try linkProposal(params)
                    #expect(proposal.negotiated(withPeer: ua) == proposal, "\(what): negotiated")
                case "rr":
                    let send = try #require(lastMeterSend, "\(what): RR before any I-frame")
                    let ours = try HDLCFrame.encode(destination: server, source: client,
                                                    control: .receiveReady(receive: (send &+ 1) & 7, poll: true))
                    #expect(hex(ours) == hex(frameBytes), "\(what): RR")
                case "i-frame", "i-frame segment":
                    guard case let .information(send, _, _) = frame.control else {
                        Issue.record("\(what): not an I-frame: \(frame.control)")
                        continue
                    }
                    lastMeterSend = send
                    var payload = info(of: frame, in: frameBytes)
                    if firstOfAPDU {
                        #expect(payload.withUnsafeBytes { LLCHeader.detect($0) } == .response, "\(what): LLC")
                        payload.removeFirst(min(LLCHeader.count, payload.count))
                    }
                    apdu += payload
                    firstOfAPDU = !frame.segmented
                    if !frame.segmented {
                        apdus.append(apdu)
                        apdu = []
                    }
                default:
                    break
                }
            }
            #expect(apdus.count == (try field(vector, "blocks")), "\(name): APDU count")
            #expect(apdus.allSatisfy { $0.first == 0xC4 }, "\(name): every APDU is a GET-Response")
        }
    }
}
