import COSEM
import Testing

/// SET-Request/Response-Normal (issue 11): the codec and the client association's side of it. The bytes
/// are checked against gurux-dlms in InteropTests/GuruxSetTests.swift; here the structure and bad input.
@Suite struct SetTests {
    static let clockTime = AttributeDescriptor(classId: 8, obis: .clock, attribute: 2)
    static let time = CosemDateTime(year: 2026, month: 12, day: 7, hour: 1, minute: 2, second: 3,
                                    deviation: 0, clockStatus: ClockStatus(rawValue: 0))

    @Test func requestEncodesDescriptorAccessFlagAndValue() throws {
        let request = SetRequest(invoke: InvokeIdAndPriority(invokeId: 3), attribute: Self.clockTime,
                                 value: .octetString(Self.time.bytes))
        let bytes = request.encode()
        #expect(Array(bytes[0..<3]) == [0xC1, 0x01, 0xC3])
        #expect(Array(bytes[3..<12]) == [0x00, 0x08, 0x00, 0x00, 0x01, 0x00, 0x00, 0xFF, 0x02])
        #expect(bytes[12] == 0x00)  // no selective access
        #expect(Array(bytes[13..<15]) == [0x09, 0x0C])
        #expect(Array(bytes[15...]) == Self.time.bytes)
        #expect(try SetRequest.decode(bytes) == request)
        #expect(try APDU.decode(bytes) == .setRequest(request))
        #expect(APDU.setRequest(request).encode() == bytes)
        #expect(request.description.hasPrefix("SET-Request-Normal invoke 3"))
        #expect(request.description.contains("2026-12-07 01:02:03"))
    }

    @Test func responseRoundTripsEveryResult() throws {
        for code: UInt8 in [0, 1, 3, 4, 12, 250] {
            let response = SetResponse(invoke: InvokeIdAndPriority(invokeId: 9), result: DataAccessResult(rawValue: code))
            let bytes = response.encode()
            #expect(bytes == [0xC5, 0x01, 0xC9, code])
            #expect(try SetResponse.decode(bytes) == response)
            #expect(try APDU.decode(bytes) == .setResponse(response))
        }
        #expect(SetResponse(invoke: InvokeIdAndPriority(invokeId: 1), result: .readWriteDenied).description
                == "SET-Response-Normal invoke 1 (high priority): read-write-denied (3)")
    }

    @Test func badInputIsASpecificError() {
        // Block forms are refused by name; a truncated value and trailing bytes are errors, never a crash.
        let block = caught { () throws(COSEMError) in try SetRequest.decode(hx("C1 02 C1 00 08 00 00 01 00 00 FF 02 00")) }
        guard case let .invalidValue(_, what)? = block else { Issue.record("expected invalidValue, got \(String(describing: block))"); return }
        #expect(what.contains("SET-Request type 2"))
        #expect(caught { () throws(COSEMError) in try SetRequest.decode(hx("C1 01 C1 00 08 00 00 01 00 00 FF 02 00 09 0C 07")) } != nil)
        #expect(caught { () throws(COSEMError) in try SetResponse.decode(hx("C5 01 C1")) } != nil)
        #expect(caught { () throws(COSEMError) in try SetResponse.decode(hx("C5 01 C1 00 00")) } != nil)
        let withList = caught { () throws(COSEMError) in try SetResponse.decode(hx("C5 05 C1 01 00")) }
        guard case .invalidValue? = withList else { Issue.record("with-list response accepted"); return }
        #expect(caught { () throws(COSEMError) in try SetResponse.decode(hx("C4 01 C1 00")) }
                == .unexpectedTag(at: 0, expected: 0xC5, found: 0xC4, what: "SET-Response"))
    }

    func associated(_ granted: Conformance) throws -> ClientAssociation {
        var assoc = ClientAssociation(settings: AssociationSettings(clientSAP: 1, authentication: .lowLevel(password: Array("12345678".utf8))))
        _ = assoc.associationRequest()
        _ = try assoc.handleAssociationResponse(AARE(
            result: .accepted, diagnostic: .null,
            userInformation: .initiateResponse(InitiateResponse(negotiatedConformance: granted, serverMaxReceivePDUSize: 500)),
            mechanism: .lowLevel).encode())
        return assoc
    }

    @Test func associationSendsASetAndReadsTheVerdict() throws {
        var assoc = try associated(.usualClientProposal)
        let request = try assoc.setRequest(Self.clockTime, value: .octetString(Self.time.bytes))
        let decoded = try SetRequest.decode(request)
        #expect(decoded.attribute == Self.clockTime)
        let iid = decoded.invoke
        // A GET answer while a SET is pending is refused; the SET's own answer gives the result.
        #expect(caught { () throws(COSEMError) in try assoc.handleGetResponse([0xC4, 0x01, iid.rawValue, 0x00, 0x11, 0x01]) } != nil)
        #expect(try assoc.handleSetResponse([0xC5, 0x01, iid.rawValue, 0x03]) == .readWriteDenied)
        // Nothing pending any more.
        #expect(caught { () throws(COSEMError) in try assoc.handleSetResponse([0xC5, 0x01, iid.rawValue, 0x00]) } != nil)

        let second = try SetRequest.decode(try assoc.setRequest(Self.clockTime, value: .octetString(Self.time.bytes)))
        #expect(second.invoke.invokeId != iid.invokeId)
        #expect(caught { () throws(COSEMError) in try assoc.handleSetResponse([0xC5, 0x01, iid.rawValue, 0x00]) }
                == .invokeIdMismatch(expected: second.invoke.invokeId, received: iid.invokeId))
    }

    @Test func setNeedsTheServiceGranted() throws {
        var assoc = try associated([.get, .blockTransferWithGet])
        #expect(caught { () throws(COSEMError) in try assoc.setRequest(Self.clockTime, value: .null) } == .serviceNotGranted("SET"))
        var idle = ClientAssociation(settings: AssociationSettings())
        #expect(caught { () throws(COSEMError) in try idle.setRequest(Self.clockTime, value: .null) } == .notAssociated)
    }

    @Test func exceptionResponseToASetThrows() throws {
        var assoc = try associated(.usualClientProposal)
        _ = try assoc.setRequest(Self.clockTime, value: .octetString(Self.time.bytes))
        let error = caught { () throws(COSEMError) in try assoc.handleSetResponse([0xD8, 0x01, 0x02]) }
        guard case .exceptionResponse? = error else { Issue.record("expected exceptionResponse, got \(String(describing: error))"); return }
    }
}
