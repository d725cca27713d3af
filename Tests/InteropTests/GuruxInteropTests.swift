// Interop with an independent implementation (issue 2): every vector is produced at test time by
// gurux-dlms 1.0.203 (Tests/Interop/gurux_vectors.py). Our code must build the same bytes from the same
// settings and decode gurux's bytes to the values gurux itself decodes them to.
import Foundation
import HDLC
import Testing

// MARK: - Helpers shared by the suites

/// The width setting that corresponds to gurux's `serverAddressSize` (0 = smallest that fits).
func addressWidth(_ size: Int) -> AddressWidth {
    switch size {
    case 1: return .one
    case 2: return .two
    case 4: return .four
    default: return .auto
    }
}

/// A server address from a vector's params.
func serverAddress(_ params: JSON) throws -> HDLCAddress {
    try HDLCAddress(
        logical: UInt16(try field(params, "serverLogical")),
        physical: UInt16(try field(params, "serverPhysical")),
        width: addressWidth(try field(params, "addressSize")))
}

/// The link sizes a gurux vector's `params` propose (maxInfoTX / maxInfoRX).
func linkProposal(_ params: JSON) throws -> LinkParameters {
    LinkParameters(maxInfoTransmit: try field(params, "maxInfoTX"), maxInfoReceive: try field(params, "maxInfoRX"))
}

/// A client link set up as a gurux conversation vector's `params` say (addresses and the proposed sizes).
func clientLink(_ params: JSON) throws -> HDLCLink {
    HDLCLink(.client(
        try .client(sap: UInt8(try field(params, "clientSAP"))), server: try serverAddress(params),
        parameters: try linkProposal(params)))
}

struct MissingField: Error, CustomStringConvertible {
    let key: String
    let in_: JSON
    var description: String { "the vector has no integer field \"\(key)\": \(in_)" }
}

/// An integer field of a vector, or an error naming it (a malformed vector fails the test).
func field(_ json: JSON, _ key: String) throws -> Int {
    guard let v = json[key]?.int else { throw MissingField(key: key, in_: json) }
    return v
}

func text(_ json: JSON, _ key: String) throws -> String {
    guard let v = json[key]?.string else { throw MissingField(key: key, in_: json) }
    return v
}

func list(_ json: JSON, _ key: String) throws -> [JSON] {
    guard let v = json[key]?.array else { throw MissingField(key: key, in_: json) }
    return v
}

/// The information field of a parsed frame.
func info(of frame: HDLCFrame, in bytes: [UInt8]) -> [UInt8] {
    Array(bytes[frame.infoRange])
}

// MARK: - The generator and its coverage

@Suite("gurux-dlms interop vectors")
struct GuruxInteropTests {
    @Test("the generator runs and covers the issue's matrix")
    func generatorCoversTheMatrix() throws {
        let doc = try GuruxVectors.get()
        let allRequests = try list(doc, "requests")
        func requests(_ kind: String) -> [JSON] { allRequests.filter { $0["kind"]?.string == kind } }

        // Addresses: logical 0 and 1, physical 1 and 1234, widths 1/2/4 and auto; every combination is
        // either a vector or listed as one gurux cannot express.
        let inexpressible = try list(doc, "inexpressible")
        for logical in [0, 1] {
            for physical in [1, 1234] {
                for size in [0, 1, 2, 4] {
                    let covered = try requests("snrm").contains {
                        let p = $0["params"] ?? .null
                        return try field(p, "serverLogical") == logical && field(p, "serverPhysical") == physical
                            && field(p, "addressSize") == size
                    }
                    let listed = try inexpressible.contains {
                        try field($0, "serverLogical") == logical && field($0, "serverPhysical") == physical
                            && field($0, "addressSize") == size
                    }
                    #expect(covered != listed, "address logical \(logical) physical \(physical) width \(size)")
                }
            }
        }
        for sap in [1, 16, 32] {
            #expect(try requests("snrm").contains { try field($0["params"] ?? .null, "clientSAP") == sap })
            #expect(try requests("aarq").contains { try field($0["params"] ?? .null, "clientSAP") == sap })
        }
        for passwordLength in [0, 8, 10] {
            #expect(requests("aarq").contains { ($0["params"]?["password"]?.string?.count ?? 0) == passwordLength })
        }
        for maxInfo in [32, 128] {
            #expect(try requests("aarq").contains { try field($0["params"] ?? .null, "maxInfoTX") == maxInfo })
        }
        for kind in ["disc", "get-normal", "get-with-list", "get-selective-range", "get-selective-entry"] {
            #expect(!requests(kind).isEmpty, "no \(kind) vectors")
        }
        #expect(try list(doc, "axdr").count >= 40)
        let conversations = try list(doc, "conversations")
        #expect(try conversations.contains { try field($0, "blocks") > 1 }, "no block transfer conversation")
        #expect(try conversations.contains { try list($0, "steps").contains { $0["what"]?.string == "rr" } },
                "no segmented conversation")
        let responses = try list(doc, "getResponses")
        for kind in ["get-response-normal", "get-response-datablock", "get-response-with-list"] {
            #expect(responses.contains { $0["kind"]?.string == kind }, "no \(kind) vectors")
        }
    }

    // MARK: HDLC addresses

    @Test("server and client addresses are the bytes gurux sends")
    func addressesMatchGurux() throws {
        let doc = try GuruxVectors.get()
        var checked = 0
        for vector in try list(doc, "requests") {
            let name = try text(vector, "name")
            let params = vector["params"] ?? .null
            let frames = try list(vector, "frames").compactMap(\.string).map { bytes(hex: $0) }
            let decoded = try list(vector, "decoded")
            for (frameBytes, gurux) in zip(frames, decoded) {
                let ours = try serverAddress(params)
                #expect(hex(ours.bytes) == gurux["destination"]?.string, "\(name): destination")
                let client = try HDLCAddress.client(sap: UInt8(try field(params, "clientSAP")))
                #expect(hex(client.bytes) == gurux["source"]?.string, "\(name): source")
                // And our parser reads gurux's bytes as gurux itself reads them.
                let frame = try HDLCFrame.parse(frameBytes)
                #expect(Int(frame.destination.logical) == gurux["serverLogical"]?.int, "\(name): logical")
                #expect(Int(frame.destination.physical) == gurux["serverPhysical"]?.int, "\(name): physical")
                #expect(Int(frame.source.sap) == gurux["clientSAP"]?.int, "\(name): client SAP")
                checked += 1
            }
        }
        #expect(checked > 100)
    }

    /// gurux cannot put these on the wire (it truncates or shortens them); ours must either refuse the
    /// width or produce the requested width that reads back as the requested station.
    @Test("addresses gurux cannot express are refused or encoded as asked")
    func inexpressibleAddresses() throws {
        let doc = try GuruxVectors.get()
        for entry in try list(doc, "inexpressible") {
            let logical = UInt16(try field(entry, "serverLogical"))
            let physical = UInt16(try field(entry, "serverPhysical"))
            let size = try field(entry, "addressSize")
            let address: HDLCAddress
            do {
                address = try HDLCAddress(logical: logical, physical: physical, width: addressWidth(size))
            } catch {
                // Refused with a typed error that names the problem.
                #expect(!error.description.isEmpty)
                continue
            }
            if size != 0 { #expect(address.byteCount == size, "\(entry)") }
            let frameBytes = try HDLCFrame.encode(
                destination: address, source: try .client(sap: 16), control: .setNormalResponseMode(poll: true))
            let parsed = try HDLCFrame.parse(frameBytes)
            #expect(parsed.destination.isSameStation(as: address), "\(entry)")
            #expect(hex(address.bytes) != entry["guruxDestination"]?.string,
                    "ours matches gurux's wrong bytes for \(entry)")
        }
    }

    // MARK: Request frames (client to meter)

    @Test("every request frame gurux builds parses and re-encodes byte for byte")
    func requestFramesMatchGurux() throws {
        let doc = try GuruxVectors.get()
        for vector in try list(doc, "requests") {
            let name = try text(vector, "name")
            let params = vector["params"] ?? .null
            let frames = try list(vector, "frames").compactMap(\.string).map { bytes(hex: $0) }
            let decoded = try list(vector, "decoded")
            #expect(frames.count == decoded.count, "\(name)")
            var apdu: [UInt8] = []
            var firstOfAPDU = true
            for (index, (frameBytes, gurux)) in zip(frames, decoded).enumerated() {
                let what = "\(name) frame \(index)"
                let frame = try HDLCFrame.parse(frameBytes)
                #expect(frame.count == frameBytes.count, "\(what)")
                #expect(frame.segmented == gurux["segmented"]?.bool, "\(what): segmentation bit")
                #expect(Int(frame.control.byte) == gurux["control"]?.int, "\(what): control")
                var payload = info(of: frame, in: frameBytes)
                var llc: LLCHeader? = nil
                if frame.control.isInformation && firstOfAPDU {
                    llc = payload.withUnsafeBytes { LLCHeader.detect($0) }
                    #expect(llc == .request, "\(what): a client's first I-frame carries E6 E6 00")
                    if llc != nil { payload.removeFirst(LLCHeader.count) }
                }
                #expect(hex(payload) == gurux["payload"]?.string, "\(what): payload")
                apdu += payload
                firstOfAPDU = !frame.segmented

                // Rebuild the frame from the settings and gurux's control byte.
                let controlByte = UInt8(try field(gurux, "control"))
                let control = try #require(Control(byte: controlByte), "\(what): control \(controlByte)")
                let rebuilt = try HDLCFrame.encode(
                    destination: try serverAddress(params),
                    source: try .client(sap: UInt8(try field(params, "clientSAP"))),
                    control: control, segmented: frame.segmented, llc: llc, info: payload)
                #expect(hex(rebuilt) == hex(frameBytes), "\(what): encode")
            }
            #expect(hex(apdu) == vector["apdu"]?.string, "\(name): reassembled APDU")
        }
    }

    /// SNRM with default parameters has no information field; with others gurux sends only the parameters
    /// that differ from the defaults.
    @Test("SNRM parameters decode to the settings gurux was given")
    func snrmParameters() throws {
        let doc = try GuruxVectors.get()
        var checks: [String] = []
        var wanted: [(String, LinkParameters)] = []
        for vector in try list(doc, "requests") where vector["kind"]?.string == "snrm" {
            let name = try text(vector, "name")
            let params = vector["params"] ?? .null
            let frameBytes = bytes(hex: try #require(try list(vector, "frames").first?.string, "\(name)"))
            let frame = try HDLCFrame.parse(frameBytes)
            #expect(frame.control == .setNormalResponseMode(poll: true), "\(name)")
            let expected = LinkParameters(
                maxInfoTransmit: params["maxInfoTX"]?.int ?? 128, maxInfoReceive: params["maxInfoRX"]?.int ?? 128,
                windowTransmit: params["windowTX"]?.int ?? 1, windowReceive: params["windowRX"]?.int ?? 1)
            let decodedParameters = try LinkParameters.decode(info(of: frame, in: frameBytes))
            #expect(decodedParameters == expected, "\(name)")
            // Both leave out each parameter equal to its default (all defaults: an empty SNRM).
            #expect(hex(expected.encode(omittingDefaults: true)) == hex(info(of: frame, in: frameBytes)),
                    "\(name): SNRM parameters")
            // The SNRM our client link sends for these settings, for gurux to read back below.
            var link = HDLCLink(.client(try .client(sap: UInt8(try field(params, "clientSAP"))),
                                        server: try serverAddress(params), parameters: expected))
            let ours = try #require(sentFrames(link.connect()).first, "\(name): no SNRM from our link")
            checks.append("snrm " + hex(ours))
            wanted.append((name, expected))
        }
        // gurux reads the parameters of our SNRMs as we meant them.
        for ((name, p), answer) in zip(wanted, try GuruxVectors.guruxReads(checks)) {
            let g = answer["parameters"] ?? .null
            #expect(g["maxInfoTX"]?.int == p.maxInfoTransmit && g["maxInfoRX"]?.int == p.maxInfoReceive
                        && g["windowTX"]?.int == p.windowTransmit && g["windowRX"]?.int == p.windowReceive,
                    "\(name): gurux read our SNRM as \(answer)")
        }
        #expect(!checks.isEmpty)
    }
}

// MARK: - The HDLC link against gurux's frames

/// Frames our link asked to send, in order.
func sentFrames(_ events: [HDLCLink.Event]) -> [[UInt8]] {
    events.compactMap { if case let .send(f) = $0 { return f } else { return nil } }
}

/// An SNRM to the same station with the same parameters and bytes as gurux's (each field checked first, so
/// a failure says which differs).
func expectSameSNRM(_ ours: [UInt8], _ gurux: [UInt8], _ what: String) throws {
    let a = try HDLCFrame.parse(ours)
    let b = try HDLCFrame.parse(gurux)
    #expect(a.destination == b.destination && a.source == b.source, "\(what): addresses")
    #expect(a.control == .setNormalResponseMode(poll: true) && b.control == a.control, "\(what): control")
    #expect(try LinkParameters.decode(info(of: a, in: ours)) == LinkParameters.decode(info(of: b, in: gurux)),
            "\(what): parameters")
    #expect(hex(ours) == hex(gurux), "\(what): bytes")
}

@Suite("gurux-dlms interop: HDLC link")
struct GuruxLinkTests {
    /// Replays gurux's GET exchanges (segmented I-frames and/or GET-Response blocks) against our client
    /// link: it must send gurux's client frames byte for byte (SNRM, the GET, every RR, every GET-Next)
    /// and deliver each reassembled response APDU once.
    @Test("our client link replays gurux's segmented and block-transfer exchanges byte for byte")
    func conversations() throws {
        let doc = try GuruxVectors.get()
        for vector in try list(doc, "conversations") {
            let name = try text(vector, "name")
            let params = vector["params"] ?? .null
            var link = try clientLink(params)
            var pending: [[UInt8]] = []
            var apdus: [[UInt8]] = []
            var connected: LinkParameters? = nil
            func absorb(_ events: [HDLCLink.Event], _ what: String) {
                for event in events {
                    switch event {
                    case let .send(frame): pending.append(frame)
                    case let .apdu(apdu): apdus.append(apdu)
                    case let .connected(p): connected = p
                    default: Issue.record("\(what): unexpected event \(event)")
                    }
                }
            }
            for (index, step) in try list(vector, "steps").enumerated() {
                let what = "\(name) step \(index) \(step["what"]?.string ?? "")"
                let frameBytes = bytes(hex: try text(step, "hex"))
                if step["from"]?.string == "meter" {
                    absorb(link.receive(frame: frameBytes), what)
                    continue
                }
                switch step["what"]?.string {
                case "snrm":
                    absorb(link.connect(), what)
                case "get-request-normal", "get-request-next":
                    // The request APDU as gurux built it; the link must frame it as gurux did.
                    let frame = try HDLCFrame.parse(frameBytes)
                    let apdu = Array(info(of: frame, in: frameBytes).dropFirst(LLCHeader.count))
                    absorb(try link.send(apdu: apdu), what)
                default:
                    break  // an RR: the link produced it when the segment arrived
                }
                let ours = pending.isEmpty ? [] : pending.removeFirst()
                if step["what"]?.string == "snrm" {
                    try expectSameSNRM(ours, frameBytes, what)
                } else {
                    #expect(hex(ours) == hex(frameBytes), "\(what)")
                }
            }
            #expect(pending.isEmpty, "\(name): our link sent frames gurux did not: \(pending.map(hex))")
            #expect(connected == (try linkProposal(params)), "\(name): negotiated parameters")
            #expect(apdus.count == (try field(vector, "blocks")), "\(name): APDUs delivered")
            #expect(apdus.allSatisfy { $0.first == 0xC4 }, "\(name): GET-Responses")
        }
    }

    /// gurux's client segments requests longer than the max info field (AARQ, GET-With-List and
    /// selective access at 32 bytes); our server link must reassemble them (answering each segment
    /// with RR) into the APDU gurux sent.
    @Test("our server link reassembles gurux's segmented requests")
    func segmentedRequests() throws {
        let doc = try GuruxVectors.get()
        var segmentedSeen = 0
        for vector in try list(doc, "requests") {
            let frames = try list(vector, "frames").compactMap(\.string).map { bytes(hex: $0) }
            guard frames.count > 1 else { continue }
            segmentedSeen += 1
            let name = try text(vector, "name")
            let params = vector["params"] ?? .null
            let server = try serverAddress(params)
            let client = try HDLCAddress.client(sap: UInt8(try field(params, "clientSAP")))
            let size = try field(params, "maxInfoTX")
            var link = HDLCLink(.server(server, parameters: LinkParameters(maxInfoTransmit: size, maxInfoReceive: size)))
            // Bring the link up with an SNRM as gurux sends it for these settings.
            let snrm = try HDLCFrame.encode(destination: server, source: client, control: .setNormalResponseMode(poll: true),
                                            info: LinkParameters(maxInfoTransmit: size, maxInfoReceive: size).encode())
            _ = link.receive(frame: snrm)
            // gurux numbers the frames as if earlier exchanges happened; align V(R) by replaying I-frames
            // it would have sent before (only the sequence matters here).
            let first = try HDLCFrame.parse(frames[0])
            guard case let .information(firstSend, _, _) = first.control else {
                Issue.record("\(name): the first frame is not an I-frame")
                continue
            }
            for n in 0..<Int(firstSend) {
                let filler = try HDLCFrame.encode(destination: server, source: client,
                    control: .information(send: UInt8(n), receive: 0, poll: true), llc: .request, info: [0x00])
                _ = link.receive(frame: filler)
            }
            var delivered: [[UInt8]] = []
            for (index, frameBytes) in frames.enumerated() {
                for event in link.receive(frame: frameBytes) {
                    switch event {
                    case let .apdu(a): delivered.append(a)
                    case let .send(f):
                        let rr = try HDLCFrame.parse(f)
                        if case .receiveReady = rr.control {} else { Issue.record("\(name) frame \(index): sent \(rr.control)") }
                        #expect(index < frames.count - 1, "\(name): RR after the last segment")
                    default: Issue.record("\(name) frame \(index): \(event)")
                    }
                }
            }
            #expect(delivered.map(hex) == [try text(vector, "apdu")], "\(name)")
        }
        #expect(segmentedSeen > 0)
    }
}

extension GuruxLinkTests {
    /// gurux's client segments an AARQ longer than the max info field. Ours must cut the same APDU into
    /// frames gurux's meter side would accept: same addresses, control sequence and segmentation bits,
    /// each info field within the max, and the same APDU when joined.
    @Test("our client link segments long requests like gurux")
    func segmentsRequestsLikeGurux() throws {
        let doc = try GuruxVectors.get()
        var compared = 0
        var checks: [String] = []
        var expected: [(String, String)] = []
        for vector in try list(doc, "requests") where vector["kind"]?.string == "aarq" {
            let frames = try list(vector, "frames").compactMap(\.string).map { bytes(hex: $0) }
            let name = try text(vector, "name")
            let params = vector["params"] ?? .null
            let size = try field(params, "maxInfoTX")
            let server = try serverAddress(params)
            let client = try HDLCAddress.client(sap: UInt8(try field(params, "clientSAP")))
            let proposal = LinkParameters(maxInfoTransmit: size, maxInfoReceive: size)
            var link = HDLCLink(.client(client, server: server, parameters: proposal))
            _ = link.connect()
            let ua = try HDLCFrame.encode(destination: client, source: server,
                                          control: .unnumberedAcknowledge(final: true), info: proposal.encode())
            _ = link.receive(frame: ua)
            var ours: [[UInt8]] = sentFrames(try link.send(apdu: bytes(hex: try text(vector, "apdu"))))
            while let last = ours.last, try HDLCFrame.parse(last).segmented, ours.count < 64 {
                let rr = try HDLCFrame.encode(destination: client, source: server,
                                              control: .receiveReady(receive: link.sendSequence, poll: true))
                ours += sentFrames(link.receive(frame: rr))
            }
            // Ours and gurux's: the same first control byte, addresses and APDU; every info field within
            // the max; every frame but the last with the segmentation bit.
            let apdu = try text(vector, "apdu")
            var joined: [UInt8] = []
            for (i, f) in ours.enumerated() {
                let frame = try HDLCFrame.parse(f)
                #expect(frame.destination == server && frame.source == client, "\(name) frame \(i): addresses")
                #expect(frame.infoRange.count <= size, "\(name) frame \(i): info field over \(size)")
                #expect(frame.segmented == (i < ours.count - 1), "\(name) frame \(i): segmentation bit")
                joined += info(of: frame, in: f)
            }
            #expect(hex(Array(joined.dropFirst(LLCHeader.count))) == apdu, "\(name): joined APDU")
            #expect(ours.first.map { try? HDLCFrame.parse($0).control } == frames.first.map { try? HDLCFrame.parse($0).control },
                    "\(name): first control")
            checks.append("frames " + ours.map(hex).joined(separator: " "))
            expected.append((name, apdu))
            compared += 1
        }
        // And gurux's meter-side parser accepts our segments and joins them into the same APDU.
        let answers = try GuruxVectors.guruxReads(checks)
        for ((name, apdu), answer) in zip(expected, answers) {
            #expect(answer["apdu"]?.string == apdu, "\(name): gurux read our segments as \(answer)")
        }
        #expect(compared > 0)
    }
}

extension GuruxLinkTests {
    /// The SNRM and DISC our client link sends are gurux's frames for every expressible address and SAP.
    @Test("our link's SNRM and DISC are gurux's bytes")
    func linkCommandsMatchGurux() throws {
        let doc = try GuruxVectors.get()
        var compared = 0
        for vector in try list(doc, "requests") {
            let kind = vector["kind"]?.string
            guard kind == "snrm" || kind == "disc" else { continue }
            let name = try text(vector, "name")
            let params = vector["params"] ?? .null
            let proposal = LinkParameters(
                maxInfoTransmit: params["maxInfoTX"]?.int ?? 128, maxInfoReceive: params["maxInfoRX"]?.int ?? 128,
                windowTransmit: params["windowTX"]?.int ?? 1, windowReceive: params["windowRX"]?.int ?? 1)
            var link = HDLCLink(.client(try .client(sap: UInt8(try field(params, "clientSAP"))),
                                        server: try serverAddress(params), parameters: proposal))
            let ours = try #require(sentFrames(kind == "snrm" ? link.connect() : link.disconnect()).first, "\(name)")
            let gurux = bytes(hex: try #require(try list(vector, "frames").first?.string, "\(name)"))
            if kind == "snrm" {
                try expectSameSNRM(ours, gurux, name)
            } else {
                #expect(hex(ours) == hex(gurux), "\(name)")
            }
            compared += 1
        }
        #expect(compared > 40)
    }
}
