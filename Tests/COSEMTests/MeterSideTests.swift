import COSEM
import Testing

/// The simulated meter's side: AARQ in, AARE out; GET in, responses (blocks when too big) out.
@Suite struct MeterSideTests {
    let password = Array("12345678".utf8)

    @Test func answersAARQ() throws {
        let good = try AARQ.decode(AARQ(authentication: .lowLevel(password: password), maxReceivePDUSize: 1200).encode())
        let accepted = AARE.answering(good, password: password, supported: [.get, .blockTransferWithGet, .selectiveAccess],
                                      serverMaxReceivePDUSize: 500)
        #expect(accepted.result == .accepted)
        #expect(accepted.initiateResponse?.negotiatedConformance == [.get, .blockTransferWithGet, .selectiveAccess])

        let wrong = AARQ(authentication: .lowLevel(password: Array("00000000".utf8)))
        #expect(AARE.answering(wrong, password: password, supported: .usualClientProposal, serverMaxReceivePDUSize: 500).diagnostic
                == .authenticationFailure)
        let none = AARQ(authentication: .none)
        #expect(AARE.answering(none, password: password, supported: .usualClientProposal, serverMaxReceivePDUSize: 500).diagnostic
                == .authenticationRequired)
        #expect(AARE.answering(none, password: nil, supported: .usualClientProposal, serverMaxReceivePDUSize: 500).result
                == .accepted)

        // The client sees the rejection as the operator message.
        var client = ClientAssociation(settings: AssociationSettings(clientSAP: 1, authentication: wrong.authentication))
        _ = client.associationRequest()
        let outcome = try client.handleAssociationResponse(
            AARE.answering(wrong, password: password, supported: .usualClientProposal, serverMaxReceivePDUSize: 500).encode())
        guard case let .rejected(_, _, error) = outcome else { Issue.record("accepted a wrong password"); return }
        #expect(error.description.hasSuffix("the password is wrong for client SAP 1"))
    }

    @Test func answersGetNormalOrInBlocks() throws {
        let invoke = InvokeIdAndPriority(invokeId: 1)
        let small = GetResponse.answering(invoke: invoke, result: .data(.longUnsigned(2301)), maxPDUSize: 128)
        #expect(small == [.normal(invoke: invoke, result: .data(.longUnsigned(2301)))])
        let big = BlockTransferTests.value
        let blocks = GetResponse.answering(invoke: invoke, result: .data(big), maxPDUSize: 128)
        #expect(blocks.count > 1)
        #expect(blocks.allSatisfy { $0.encode().count <= 128 })

        var client = ClientAssociation(settings: AssociationSettings())
        _ = client.associationRequest()
        _ = try client.handleAssociationResponse(AARE.answering(AARQ(), password: nil, supported: .usualClientProposal,
                                                                serverMaxReceivePDUSize: 128).encode())
        _ = try client.getRequest(InterfaceClass.profileGeneric.attribute(2, of: ObisCode(1, 0, 99, 1, 0)))
        var step = GetStep.send([])
        for block in blocks { step = try client.handleGetResponse(block.encode()) }
        #expect(step == .result(.data(big)))
    }

    @Test func answersWithListInBlocks() throws {
        let invoke = InvokeIdAndPriority(invokeId: 1)
        let results: [GetDataResult] = [.data(BlockTransferTests.value), .error(.objectUndefined), .data(.unsigned(7))]
        let blocks = GetResponse.answering(invoke: invoke, results: results, maxPDUSize: 100)
        #expect(blocks.count > 1)
        var client = ClientAssociation(settings: AssociationSettings())
        _ = client.associationRequest()
        _ = try client.handleAssociationResponse(AARE.answering(AARQ(), password: nil, supported: .usualClientProposal,
                                                                serverMaxReceivePDUSize: 100).encode())
        let list = [AttributeRequest(InterfaceClass.register.attribute(2, of: ObisCode(1, 1, 32, 7, 0))),
                    AttributeRequest(InterfaceClass.register.attribute(2, of: ObisCode(1, 1, 31, 7, 0))),
                    AttributeRequest(InterfaceClass.register.attribute(2, of: ObisCode(1, 1, 14, 7, 0)))]
        _ = try client.getRequest(list: list)
        var step = GetStep.send([])
        for block in blocks { step = try client.handleGetResponse(block.encode()) }
        #expect(step == .results(results))
    }

    @Test func depthIsBoundedWhateverTheLimitSays() {
        let deep: [UInt8] = (0..<2000).flatMap { _ in [UInt8(0x02), 0x01] } + [0x00]
        let error = caught { () throws(COSEMError) in
            try DataValue.decode(deep, limits: DecodingLimits(maxDepth: 1_000_000))
        }
        #expect(error == .nestingTooDeep(at: 128, limit: DecodingLimits.maxSupportedDepth))
    }
}
