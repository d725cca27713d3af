import COSEM
import Testing

@Suite struct ClientAssociationTests {
    static let password = Array("12345678".utf8)
    static let settings = AssociationSettings(clientSAP: 1, authentication: .lowLevel(password: password),
                                              maxReceivePDUSize: 1200)

    func accepted(_ granted: Conformance, pdu: UInt16 = 500) -> [UInt8] {
        AARE(result: .accepted, diagnostic: .null,
             userInformation: .initiateResponse(InitiateResponse(negotiatedConformance: granted, serverMaxReceivePDUSize: pdu)),
             mechanism: .lowLevel).encode()
    }

    @Test func acceptedAssociationReportsGrantedServices() throws {
        var assoc = ClientAssociation(settings: Self.settings)
        #expect(assoc.associationRequest() == AARQTests.lls8)
        let outcome = try assoc.handleAssociationResponse(accepted(Conformance(rawValue: 0x00_101D)))
        #expect(outcome == .accepted(granted: Conformance(rawValue: 0x00_101D), serverMaxReceivePDUSize: 500))
        #expect(assoc.serverMaxReceivePDUSize == 500)
        #expect(!assoc.supportsGetWithList)
        #expect(assoc.maxAttributesPerList == 0)
        #expect(assoc.supportsBlockTransfer)
        let error = caught { () throws(COSEMError) in
            try assoc.getRequest(list: [AttributeRequest(InterfaceClass.register.attribute(2, of: ObisCode(1, 1, 32, 7, 0)))])
        }
        #expect(error == .serviceNotGranted("GET-With-List (multiple references)"))
    }

    @Test func grantedIsIntersectedWithTheProposal() throws {
        var assoc = ClientAssociation(settings: AssociationSettings(proposedConformance: [.get, .blockTransferWithGet]))
        _ = assoc.associationRequest()
        // The meter grants more than was proposed: the outcome says so, but only the proposed services count.
        #expect(try assoc.handleAssociationResponse(accepted(.usualClientProposal))
                == .accepted(granted: .usualClientProposal, serverMaxReceivePDUSize: 500))
        #expect(assoc.usableConformance == [.get, .blockTransferWithGet])
        #expect(assoc.supportsBlockTransfer)
        #expect(!assoc.supportsGetWithList)
        #expect(!assoc.supportsSelectiveAccess)
    }

    @Test func wrongPasswordIsNamed() throws {
        var assoc = ClientAssociation(settings: Self.settings)
        _ = assoc.associationRequest()
        let aare = AARE(result: .rejectedPermanent, diagnostic: .authenticationFailure, userInformation: nil).encode()
        let outcome = try assoc.handleAssociationResponse(aare)
        guard case let .rejected(result, diagnostic, error) = outcome else {
            Issue.record("expected a rejection"); return
        }
        #expect(result == .rejectedPermanent)
        #expect(diagnostic == .authenticationFailure)
        #expect(error.description
                == "association rejected (rejected-permanent): authentication failure (diagnostic 13): the password is wrong for client SAP 1")
        #expect(assoc.state == .rejected)
        #expect(caught { () throws(COSEMError) in try assoc.getRequest(InterfaceClass.clock.attribute(2, of: .clock)) } == .notAssociated)
    }

    @Test func singleGetWithInvokeIds() throws {
        var assoc = ClientAssociation(settings: Self.settings)
        _ = assoc.associationRequest()
        _ = try assoc.handleAssociationResponse(accepted(.usualClientProposal))
        let voltage = InterfaceClass.register.attribute(Attribute.Register.value, of: ObisCode(1, 1, 32, 7, 0))
        #expect(try assoc.getRequest(voltage) == hx("C0 01 C1 00 03 01 01 20 07 00 FF 02 00"))
        // A stale answer for another invoke id is refused.
        #expect(caught { () throws(COSEMError) in try assoc.handleGetResponse(hx("C4 01 C7 00 12 08 FD")) }
                == .invokeIdMismatch(expected: 1, received: 7))
        #expect(try assoc.handleGetResponse(hx("C4 01 C1 00 12 08 FD")) == .result(.data(.longUnsigned(2301))))
        #expect(try assoc.getRequest(voltage) == hx("C0 01 C2 00 03 01 01 20 07 00 FF 02 00"))
        #expect(caught { () throws(COSEMError) in try assoc.handleGetResponse(hx("D8 01 02")) }
                == .exceptionResponse(ExceptionResponse(stateError: 1, serviceError: 2)))
        // Invoke ids wrap within 4 bits.
        for _ in 0..<20 { _ = assoc.nextInvoke() }
        #expect(assoc.nextInvoke().invokeId < 16)
    }

    @Test func blockTransferThroughTheHelper() throws {
        var assoc = ClientAssociation(settings: Self.settings)
        _ = assoc.associationRequest()
        _ = try assoc.handleAssociationResponse(accepted(.usualClientProposal))
        let profile = InterfaceClass.profileGeneric.attribute(Attribute.ProfileGeneric.buffer, of: ObisCode(1, 0, 99, 1, 0))
        let request = try assoc.getRequest(profile, access: .byEntry(fromEntry: 1, toEntry: 0, fromValue: 1, toValue: 0))
        let invoke = InvokeIdAndPriority(rawValue: request[2])
        let value = BlockTransferTests.value
        let blocks = GetResponse.datablocks(invoke: invoke, data: value.encoded, maxPDUSize: 64, firstBlockNumber: 0)
        var step = GetStep.send([])
        for (i, block) in blocks.enumerated() {
            step = try assoc.handleGetResponse(block.encode())
            if i < blocks.count - 1 {
                #expect(step == .send(GetRequest.next(invoke: invoke, block: UInt32(i)).encode()))
            }
        }
        #expect(step == .result(.data(value)))
    }

    @Test func withListWhenGranted() throws {
        var assoc = ClientAssociation(settings: Self.settings)
        _ = assoc.associationRequest()
        _ = try assoc.handleAssociationResponse(accepted(.usualClientProposal))
        #expect(assoc.supportsGetWithList)
        #expect(assoc.maxAttributesPerList == 49)  // (500 - 4) / 10
        let list = [AttributeRequest(InterfaceClass.register.attribute(2, of: ObisCode(1, 1, 32, 7, 0))),
                    AttributeRequest(InterfaceClass.register.attribute(2, of: ObisCode(1, 1, 31, 7, 0)))]
        _ = try assoc.getRequest(list: list)
        #expect(try assoc.handleGetResponse(hx("C4 03 C1 02 00 12 08 FD 01 04"))
                == .results([.data(.longUnsigned(2301)), .error(.objectUndefined)]))
        #expect(assoc.releaseRequest() == hx("62 03 80 01 00"))
        try assoc.handleReleaseResponse(hx("63 03 80 01 00"))
        #expect(assoc.state == .released)
    }
}

@Suite struct InterfaceClassTests {
    @Test func registerScaling() throws {
        let su = try ScalerUnit(try DataValue.decode(hx("02 02 0F FF 16 23")))
        #expect(su == ScalerUnit(scaler: -1, unit: .volt))
        #expect(su.unit.symbol == "V")
        let reading = try #require(ScaledNumber(.longUnsigned(2301), scaler: su.scaler))
        #expect(reading.doubleValue == 230.1 && su.scale(.longUnsigned(2301)) == 230.1)
        #expect(reading.value == .double(230.1) && reading.raw == .integer(2301))
        #expect(ScaledNumber(.long(-3), scaler: 2)?.value == .integer(-300))
        #expect(ScaledNumber(.long64Unsigned(.max), scaler: 0)?.value == .unsigned(.max))
        #expect(ScaledNumber(.visibleString([0x41]), scaler: 0) == nil)
        #expect(ScalerUnit.scale(5, by: 3) == 5000)
        #expect(ScalerUnit.scale(12345, by: -3) == 12.345)
        #expect(caught { () throws(COSEMError) in try ScalerUnit(.longUnsigned(1)) }
                == .unexpectedValueShape(expected: "scaler_unit structure {integer, enum}", found: "long-unsigned"))
    }

    @Test func profileGeneric() throws {
        let objects = DataValue.array([
            CaptureObjectDefinition(classId: 8, obis: .clock, attribute: 2).dataValue,
            CaptureObjectDefinition(classId: 3, obis: ObisCode(1, 1, 32, 7, 0), attribute: 2).dataValue,
        ])
        let decoded = try ProfileGeneric.captureObjects(try DataValue.decode(objects.encoded))
        #expect(decoded.map(\.obis) == [.clock, ObisCode(1, 1, 32, 7, 0)])
        let time = CosemDateTime(unixMilliseconds: 1_795_319_825_120)
        let buffer = DataValue.array([.structure([.octetString(time.bytes), .longUnsigned(2301)])])
        let rows = try ProfileGeneric.rows(buffer)
        #expect(rows.count == 1)
        #expect(try Clock.time(rows[0][0]) == time)
    }
}
