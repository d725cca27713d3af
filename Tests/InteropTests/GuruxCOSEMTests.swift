// The COSEM application layer against gurux-dlms: AARQ/AARE, GET requests of every kind, GET-Responses
// (normal, blocks, list, errors) and the whole stack (HDLC link + client association) replaying gurux's
// segmented, block-transferred exchanges.
import COSEM
import Foundation
import HDLC
import Testing

/// The AARQ authentication of a vector's params.
func authentication(_ params: JSON) -> Authentication {
    if let password = params["password"]?.string { return .lowLevel(password: Array(password.utf8)) }
    return .none
}

func obis(_ text: String) throws -> ObisCode { try ObisCode(parsing: text) }

func descriptor(_ json: JSON) throws -> AttributeDescriptor {
    AttributeDescriptor(classId: UInt16(try field(json, "classId")), obis: try obis(try text(json, "obis")),
                        attribute: Int8(try field(json, "attribute")))
}

/// The GET-Request a request vector describes, built with our types.
func getRequest(_ kind: String, _ p: JSON) throws -> GetRequest {
    let invoke = InvokeIdAndPriority(rawValue: UInt8(try field(p, "invokeIdAndPriority")))
    switch kind {
    case "get-normal":
        return .normal(invoke: invoke, attribute: try descriptor(p), access: nil)
    case "get-with-list":
        return .withList(invoke: invoke, attributes: try list(p, "items").map { AttributeRequest(try descriptor($0)) })
    case "get-selective-range":
        let r = p["restrictingObject"] ?? .null
        let restricting = CaptureObjectDefinition(
            classId: UInt16(try field(r, "classId")), obis: try obis(try text(r, "obis")),
            attribute: Int8(try field(r, "attribute")), dataIndex: UInt16(try field(r, "dataIndex")))
        let access = SelectiveAccess.byRange(
            restrictingObject: restricting, from: try dataValue(p["fromValue"] ?? .null),
            to: try dataValue(p["toValue"] ?? .null), selectedValues: [])
        return .normal(invoke: invoke, attribute: try descriptor(p), access: access)
    case "get-selective-entry":
        let access = SelectiveAccess.byEntry(
            fromEntry: UInt32(try field(p, "fromEntry")), toEntry: UInt32(try field(p, "toEntry")),
            fromValue: UInt16(try field(p, "fromColumn")), toValue: UInt16(try field(p, "toColumn")))
        return .normal(invoke: invoke, attribute: try descriptor(p), access: access)
    default:
        throw UnexpectedVector(description: "not a GET request kind: \(kind)")
    }
}

/// A client association that gurux's own AARE put in the associated state.
func associatedClient(_ doc: JSON, proposing conformance: Conformance = .usualClientProposal) throws -> ClientAssociation {
    let aare = try #require(try list(doc, "aares").first { $0["name"]?.string?.hasPrefix("accepted with-list") == true },
                            "the generator produced no accepting AARE with multiple references")
    var association = ClientAssociation(settings: AssociationSettings(
        clientSAP: 16, proposedConformance: conformance, maxReceivePDUSize: 1200))
    _ = association.associationRequest()
    let outcome = try association.handleAssociationResponse(bytes(hex: try text(aare, "apdu")))
    guard case .accepted = outcome else { throw UnexpectedVector(description: "gurux's AARE not accepted: \(outcome)") }
    return association
}

/// The results a vector says gurux decoded, checked against ours.
func expectSame(_ ours: GetDataResult, _ gurux: JSON, _ what: String) throws {
    switch (ours, gurux["kind"]?.string) {
    case let (.data(value), "data"):
        try expectSame(value, gurux["value"] ?? .null, what)
    case let (.error(result), "error"):
        #expect(Int(result.rawValue) == gurux["dataAccessResult"]?.int, "\(what): data-access-result")
    default:
        Issue.record("\(what): ours \(ours), gurux \(gurux)")
    }
}

@Suite("gurux-dlms interop: COSEM application layer")
struct GuruxCOSEMTests {
    @Test("AARQ: our association request is gurux's, for every SAP, password and proposal")
    func aarq() throws {
        let doc = try GuruxVectors.get()
        let vectors = try list(doc, "requests").filter { $0["kind"]?.string == "aarq" }
        #expect(!vectors.isEmpty)
        for vector in vectors {
            let name = try text(vector, "name")
            let p = vector["params"] ?? .null
            let conformance = Conformance(rawValue: UInt32(try field(p, "conformance")))
            let pdu = UInt16(try field(p, "maxPduSize"))
            var association = ClientAssociation(settings: AssociationSettings(
                clientSAP: UInt8(try field(p, "clientSAP")), authentication: authentication(p),
                proposedConformance: conformance, maxReceivePDUSize: pdu))
            let apdu = try text(vector, "apdu")
            #expect(hex(association.associationRequest()) == apdu, "\(name): encode")
            let decoded = try AARQ.decode(bytes(hex: apdu))
            #expect(decoded.authentication == authentication(p), "\(name): authentication")
            #expect(decoded.initiateRequest.proposedConformance == conformance, "\(name): conformance")
            #expect(decoded.initiateRequest.clientMaxReceivePDUSize == pdu, "\(name): max PDU")
        }
    }

    @Test("AARE: gurux's accepting and rejecting answers read as gurux reads them, and encode alike")
    func aare() throws {
        let doc = try GuruxVectors.get()
        let vectors = try list(doc, "aares")
        #expect(vectors.count >= 4)
        for vector in vectors {
            let name = try text(vector, "name")
            let apdu = bytes(hex: try text(vector, "apdu"))
            let gurux = vector["gurux"] ?? .null
            let p = vector["params"] ?? .null
            let decoded = try AARE.decode(apdu)
            #expect(Int(decoded.result.rawValue) == gurux["result"]?.int, "\(name): result")
            var association = ClientAssociation(settings: AssociationSettings(clientSAP: 1))
            _ = association.associationRequest()
            switch try association.handleAssociationResponse(apdu) {
            case let .accepted(granted, serverMax):
                #expect(gurux["result"]?.int == 0, "\(name): we accepted")
                #expect(Int(granted.rawValue) == gurux["negotiatedConformance"]?.int, "\(name): conformance")
                #expect(Int(serverMax) == gurux["serverMaxReceivePDUSize"]?.int, "\(name): max PDU")
            case let .rejected(result, diagnostic, error):
                #expect(Int(result.rawValue) == gurux["result"]?.int, "\(name): result")
                #expect(Int(diagnostic.rawValue) == gurux["diagnostic"]?.int, "\(name): diagnostic")
                #expect(!error.description.isEmpty, "\(name): operator message")
            }
            // The simulated meter's encoder writes gurux's bytes for the same answer.
            let ours = AARE(
                result: AssociationResult(rawValue: UInt8(try field(p, "result"))),
                diagnostic: AssociateSourceDiagnostic(rawValue: UInt8(try field(p, "diagnostic"))),
                userInformation: .initiateResponse(InitiateResponse(
                    negotiatedConformance: Conformance(rawValue: UInt32(try field(p, "conformance"))),
                    serverMaxReceivePDUSize: UInt16(try field(p, "maxPduSize")))))
            #expect(hex(ours.encode()) == hex(apdu), "\(name): encode")
        }
    }

    @Test("GET-Requests (normal, with-list, selective by range and by entry) encode and decode like gurux")
    func getRequests() throws {
        let doc = try GuruxVectors.get()
        let kinds: Set = ["get-normal", "get-with-list", "get-selective-range", "get-selective-entry"]
        let vectors = try list(doc, "requests").filter { kinds.contains($0["kind"]?.string ?? "") }
        #expect(vectors.count >= 4 * kinds.count)
        for vector in vectors {
            let name = try text(vector, "name")
            let ours = try getRequest(try text(vector, "kind"), vector["params"] ?? .null)
            let apdu = try text(vector, "apdu")
            #expect(hex(ours.encode()) == apdu, "\(name): encode")
            #expect(try GetRequest.decode(bytes(hex: apdu)) == ours, "\(name): decode")
        }
    }

    /// Every GET-Response APDU gurux encoded: our client association consumes them (answering each block
    /// with gurux's own GET-Request-Next bytes) and ends with the value gurux's client decoded; and our
    /// encoder reproduces each APDU from its decoded form.
    @Test("GET-Responses (normal, blocks, with-list, errors) decode like gurux and re-encode byte for byte")
    func getResponses() throws {
        let doc = try GuruxVectors.get()
        for vector in try list(doc, "getResponses") {
            let name = try text(vector, "name")
            let kind = try text(vector, "kind")
            let apdus = try list(vector, "apdus").compactMap(\.string).map { bytes(hex: $0) }
            let nexts = try list(vector, "nextRequests").compactMap(\.string)
            for (i, apdu) in apdus.enumerated() {
                #expect(hex(try GetResponse.decode(apdu).encode()) == hex(apdu), "\(name) APDU \(i): re-encode")
            }
            var association = try associatedClient(doc)
            let attribute = AttributeDescriptor(classId: 1, obis: try obis("0.0.96.1.0.255"), attribute: 2)
            let result = vector["result"] ?? .null
            if kind == "get-response-with-list" {
                let count = try field(vector["params"] ?? .null, "count")
                _ = try association.getRequest(list: Array(repeating: AttributeRequest(attribute), count: count))
            } else {
                _ = try association.getRequest(attribute)
            }
            var step: GetStep? = nil
            for (i, apdu) in apdus.enumerated() {
                step = try association.handleGetResponse(apdu)
                if i < apdus.count - 1 {
                    guard case let .send(next) = step else {
                        Issue.record("\(name): no GET-Request-Next after block \(i): \(String(describing: step))")
                        break
                    }
                    #expect(i < nexts.count && hex(next) == nexts[i], "\(name): GET-Request-Next \(i)")
                }
            }
            switch step {
            case let .result(r)?:
                try expectSame(r, result, name)
            case let .results(rs)?:
                let items = try list(result, "items")
                #expect(rs.count == items.count, "\(name): result count")
                for (i, (r, item)) in zip(rs, items).enumerated() { try expectSame(r, item, "\(name)[\(i)]") }
            default:
                Issue.record("\(name): the exchange did not complete: \(String(describing: step))")
            }
        }
    }

    /// The other direction, for the simulated meter: GET-Responses our encoder builds (normal, split into
    /// blocks for the same max PDU size, with-list, refusals) are read by gurux's client as intended.
    @Test("gurux's client reads our GET-Responses (normal, blocks, with-list, errors)")
    func guruxReadsOurGetResponses() throws {
        let doc = try GuruxVectors.get()
        let invoke = InvokeIdAndPriority(rawValue: 0xC1)
        var checks: [String] = []
        var expectations: [(name: String, result: JSON, blocks: Int)] = []
        for vector in try list(doc, "getResponses") {
            let name = try text(vector, "name")
            let result = vector["result"] ?? .null
            var responses: [GetResponse]
            var line = "responses"
            switch (try text(vector, "kind"), result["kind"]?.string) {
            case ("get-response-datablock", _):
                let maxPDU = try field(vector["params"] ?? .null, "maxPduSize")
                responses = GetResponse.datablocks(invoke: invoke, data: bytes(hex: try text(vector, "data")),
                                                   maxPDUSize: maxPDU)
                for (i, r) in responses.enumerated() {
                    #expect(r.encode().count <= maxPDU, "\(name): our block \(i) exceeds max PDU \(maxPDU)")
                }
            case (_, "data"):
                responses = [.normal(invoke: invoke, result: .data(try DataValue.decode(bytes(hex: try text(vector, "data")))))]
            case (_, "error"):
                let code = UInt8(try field(result, "dataAccessResult"))
                responses = [.normal(invoke: invoke, result: .error(DataAccessResult(rawValue: code)))]
            case (_, "list"):
                let items = try list(result, "items")
                line = "list-responses \(items.count)"
                responses = [.withList(invoke: invoke, results: try items.map { item in
                    item["kind"]?.string == "error"
                        ? GetDataResult.error(DataAccessResult(rawValue: UInt8(try field(item, "dataAccessResult"))))
                        : GetDataResult.data(try dataValue(item["value"] ?? .null))
                })]
            default:
                Issue.record("\(name): unknown response vector")
                continue
            }
            checks.append(line + " " + responses.map { hex($0.encode()) }.joined(separator: " "))
            expectations.append((name, vector, responses.count))
        }
        for (e, answer) in zip(expectations, try GuruxVectors.guruxReads(checks)) {
            let name = e.name
            let vector = e.result
            let result = vector["result"] ?? .null
            #expect(answer["error"] == nil, "\(name): gurux refused our response: \(answer)")
            #expect(answer["nextRequests"]?.array?.count == e.blocks - 1, "\(name): gurux's GET-Next count")
            switch result["kind"]?.string {
            case "data":
                #expect(answer["data"]?.string == vector["data"]?.string, "\(name): gurux read \(answer)")
            case "error":
                #expect(answer["dataAccessResult"]?.int == result["dataAccessResult"]?.int, "\(name): \(answer)")
            case "list":
                let items = try list(result, "items")
                let values = answer["values"]?.array ?? []
                #expect(values.count == items.count, "\(name): \(answer)")
                for (i, (item, v)) in zip(items, values).enumerated() {
                    // gurux gives null for a refused item and for null-data alike.
                    let empty = item["kind"]?.string == "error" || item["value"]?["type"]?.string == "null"
                    #expect(empty == v.isNull, "\(name)[\(i)]: gurux read \(v)")
                }
                let lastError = items.last { $0["kind"]?.string == "error" }?["dataAccessResult"]?.int
                #expect(answer["dataAccessResult"]?.int == lastError, "\(name): \(answer)")
            default:
                Issue.record("\(name): unknown result kind")
            }
        }
        #expect(!checks.isEmpty)
    }

    /// The whole client stack against gurux's meter frames: our HDLC link and association send gurux's
    /// client frames byte for byte (the GET, every RR, every GET-Request-Next built by our association)
    /// and end with the value gurux decoded.
    @Test("full stack: HDLC link + association replay gurux's segmented, block-transferred GET")
    func fullStack() throws {
        let doc = try GuruxVectors.get()
        for vector in try list(doc, "conversations") {
            let name = try text(vector, "name")
            let params = vector["params"] ?? .null
            var link = try clientLink(params)
            var association = try associatedClient(doc)
            var pending: [[UInt8]] = []
            var step: GetStep? = nil
            func absorb(_ events: [HDLCLink.Event], _ what: String) throws {
                for event in events {
                    switch event {
                    case let .send(frame): pending.append(frame)
                    case let .apdu(apdu):
                        step = try association.handleGetResponse(apdu)
                        if case let .send(next)? = step { try absorb(try link.send(apdu: next), what) }
                    case .connected: break
                    default: Issue.record("\(what): unexpected event \(event)")
                    }
                }
            }
            for (index, step) in try list(vector, "steps").enumerated() {
                let what = "\(name) step \(index) \(step["what"]?.string ?? "")"
                let frameBytes = bytes(hex: try text(step, "hex"))
                if step["from"]?.string == "meter" {
                    try absorb(link.receive(frame: frameBytes), what)
                    continue
                }
                switch step["what"]?.string {
                case "snrm":
                    try absorb(link.connect(), what)
                case "get-request-normal":
                    let request = try association.getRequest(
                        AttributeDescriptor(classId: 1, obis: try obis("1.0.99.1.0.255"), attribute: 2))
                    try absorb(try link.send(apdu: request), what)
                default:
                    break  // RR and GET-Request-Next: sent by the link or the association on their own
                }
                let ours = pending.isEmpty ? [] : pending.removeFirst()
                if step["what"]?.string == "snrm" {
                    try expectSameSNRM(ours, frameBytes, what)
                } else {
                    #expect(hex(ours) == hex(frameBytes), "\(what)")
                }
            }
            #expect(pending.isEmpty, "\(name): we sent frames gurux did not: \(pending.map(hex))")
            guard case let .result(result)? = step else {
                Issue.record("\(name): no result: \(String(describing: step))")
                continue
            }
            try expectSame(result, vector["result"] ?? .null, name)
        }
    }
}
