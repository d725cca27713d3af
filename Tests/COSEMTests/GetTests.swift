import COSEM
import Testing

@Suite struct GetRequestTests {
    let voltage = AttributeDescriptor(classId: 3, obis: ObisCode(1, 1, 32, 7, 0), attribute: 2)

    @Test func normalGoldenVector() throws {
        let request = GetRequest.normal(invoke: InvokeIdAndPriority(invokeId: 1), attribute: voltage, access: nil)
        #expect(request.encode() == hx("C0 01 C1 00 03 01 01 20 07 00 FF 02 00"))
        #expect(try GetRequest.decode(request.encode()) == request)
    }

    @Test func nextGoldenVector() throws {
        let request = GetRequest.next(invoke: InvokeIdAndPriority(invokeId: 1), block: 2)
        #expect(request.encode() == hx("C0 02 C1 00 00 00 02"))
        #expect(try GetRequest.decode(request.encode()) == request)
    }

    @Test func selectiveAccessByRangeGoldenVector() throws {
        let from = CosemDateTime(year: 2026, month: 11, day: 1, hour: 0, minute: 0, second: 0, hundredths: 0,
                                 deviation: 0, clockStatus: ClockStatus(rawValue: 0))
        let to = CosemDateTime(year: 2026, month: 11, day: 2, hour: 0, minute: 0, second: 0, hundredths: 0,
                               deviation: 0, clockStatus: ClockStatus(rawValue: 0))
        let profile = AttributeDescriptor(classId: 7, obis: ObisCode(1, 0, 99, 1, 0), attribute: 2)
        let request = GetRequest.normal(invoke: InvokeIdAndPriority(invokeId: 1), attribute: profile,
                                        access: .byClockRange(from: from, to: to))
        let expected = hx("C0 01 C1 00 07 01 00 63 01 00 FF 02 01")
            + hx("01 02 04 02 04 12 00 08 09 06 00 00 01 00 00 FF 0F 02 12 00 00 09 0C") + from.bytes
            + hx("09 0C") + to.bytes + hx("01 00")
        #expect(request.encode() == expected)
        #expect(try GetRequest.decode(expected) == request)
    }

    @Test func selectiveAccessByEntryGoldenVector() throws {
        let profile = AttributeDescriptor(classId: 7, obis: ObisCode(1, 0, 99, 1, 0), attribute: 2)
        let request = GetRequest.normal(invoke: InvokeIdAndPriority(invokeId: 2), attribute: profile,
                                        access: .byEntry(fromEntry: 1, toEntry: 10, fromValue: 1, toValue: 0))
        let expected = hx("C0 01 C2 00 07 01 00 63 01 00 FF 02 01")
            + hx("02 02 04 06 00 00 00 01 06 00 00 00 0A 12 00 01 12 00 00")
        #expect(request.encode() == expected)
        #expect(try GetRequest.decode(expected) == request)
    }

    @Test func withListRoundTrip() throws {
        let current = AttributeDescriptor(classId: 3, obis: ObisCode(1, 1, 31, 7, 0), attribute: 2)
        let request = GetRequest.withList(invoke: InvokeIdAndPriority(invokeId: 3),
                                          attributes: [AttributeRequest(voltage), AttributeRequest(current)])
        #expect(request.encode() == hx("C0 03 C3 02 00 03 01 01 20 07 00 FF 02 00 00 03 01 01 1F 07 00 FF 02 00"))
        #expect(try GetRequest.decode(request.encode()) == request)
    }
}

@Suite struct GetResponseTests {
    @Test func normalScalar() throws {
        let bytes = hx("C4 01 C1 00 12 08 FD")
        let response = try GetResponse.decode(bytes)
        #expect(response == .normal(invoke: InvokeIdAndPriority(invokeId: 1), result: .data(.longUnsigned(0x08FD))))
        #expect(response.encode() == bytes)
    }

    @Test func normalError() throws {
        let response = try GetResponse.decode(hx("C4 01 C1 01 04"))
        #expect(response == .normal(invoke: InvokeIdAndPriority(invokeId: 1), result: .error(.objectUndefined)))
        guard case let .normal(_, result) = response else { return }
        let error = caught { () throws(COSEMError) in try result.get() }
        #expect(error == .dataAccess(.objectUndefined))
        #expect(error?.description.contains("object-undefined") == true)
        #expect(error?.description.contains("OBIS code") == true)
    }

    @Test func withListMixesValuesAndErrors() throws {
        let bytes = hx("C4 03 C1 02 00 12 08 FD 01 03")
        let response = try GetResponse.decode(bytes)
        #expect(response == .withList(invoke: InvokeIdAndPriority(invokeId: 1),
                                      results: [.data(.longUnsigned(0x08FD)), .error(.readWriteDenied)]))
        #expect(response.encode() == bytes)
    }

    @Test func datablockLengthForms() throws {
        for (count, lengthBytes) in [(5, hx("05")), (200, hx("81 C8")), (300, hx("82 01 2C"))] {
            let chunk = (0..<count).map { UInt8(truncatingIfNeeded: $0) }
            let bytes = hx("C4 02 C1 00 00 00 00 01 00") + lengthBytes + chunk
            let response = try GetResponse.decode(bytes)
            #expect(response == .withDatablock(invoke: InvokeIdAndPriority(invokeId: 1),
                                               block: DataBlock(lastBlock: false, blockNumber: 1, result: .raw(chunk))))
            #expect(response.encode() == bytes)
        }
    }
}

@Suite struct BlockTransferTests {
    static let value = DataValue.array((0..<60).map { .structure([.doubleLongUnsigned(UInt32($0)), .longUnsigned(230)]) })

    @Test(arguments: [UInt32(0), 1])
    func splitsAndReassembles(firstBlock: UInt32) throws {
        let invoke = InvokeIdAndPriority(invokeId: 5)
        let data = Self.value.encoded
        let blocks = GetResponse.datablocks(invoke: invoke, data: data, maxPDUSize: 128, firstBlockNumber: firstBlock)
        #expect(blocks.count > 2)
        for block in blocks { #expect(block.encode().count <= 128) }
        var reassembler = BlockReassembler(invoke: invoke)
        var result: [UInt8]? = nil
        for (i, response) in blocks.enumerated() {
            guard case let .withDatablock(_, block) = response else { Issue.record("not a block"); return }
            switch try reassembler.receive(block) {
            case let .sendNext(next):
                #expect(next == .next(invoke: invoke, block: firstBlock + UInt32(i)))
                #expect(i < blocks.count - 1)
            case let .complete(bytes):
                #expect(i == blocks.count - 1)
                result = bytes
            }
        }
        #expect(try DataValue.decode(try #require(result)) == Self.value)
    }

    @Test func rejectsGapsRepeatsAndAborts() {
        let invoke = InvokeIdAndPriority(invokeId: 1)
        var r = BlockReassembler(invoke: invoke)
        #expect(caught { () throws(COSEMError) in try r.receive(DataBlock(lastBlock: false, blockNumber: 2, result: .raw([1]))) }
                == .blockOutOfSequence(expected: 1, received: 2))
        _ = try? r.receive(DataBlock(lastBlock: false, blockNumber: 1, result: .raw([1])))
        #expect(caught { () throws(COSEMError) in try r.receive(DataBlock(lastBlock: false, blockNumber: 1, result: .raw([1]))) }
                == .blockOutOfSequence(expected: 2, received: 1))
        #expect(caught { () throws(COSEMError) in try r.receive(DataBlock(lastBlock: true, blockNumber: 2, result: .error(.longGetAborted))) }
                == .dataAccess(.longGetAborted))
        var small = BlockReassembler(invoke: invoke, maxSize: 4)
        #expect(caught { () throws(COSEMError) in try small.receive(DataBlock(lastBlock: false, blockNumber: 1, result: .raw([1, 2, 3, 4, 5]))) }
                == .blockTransferTooLarge(size: 5, limit: 4))
    }
}

@Suite struct ErrorAPDUTests {
    @Test func exceptionResponse() throws {
        let apdu = try APDU.decode(hx("D8 01 04"))
        #expect(apdu == .exceptionResponse(ExceptionResponse(stateError: 1, serviceError: 4)))
        #expect(apdu.encode() == hx("D8 01 04"))
        #expect(ExceptionResponse(stateError: 1, serviceError: 4).description.contains("max PDU"))
        let counter = try APDU.decode(hx("D8 01 06 00 00 01 00"))
        #expect(counter == .exceptionResponse(ExceptionResponse(stateError: 1, serviceError: 6, invocationCounter: 256)))
    }

    @Test func confirmedServiceError() throws {
        let apdu = try APDU.decode(hx("0E 01 06 03"))
        #expect(apdu == .confirmedServiceError(ConfirmedServiceError(service: 1, errorKind: 6, value: 3)))
        #expect(apdu.name == "confirmed-service-error")
        #expect(ConfirmedServiceError(service: 1, errorKind: 6, value: 3).description.contains("pdu-size-too-short"))
    }

    @Test func unknownAPDU() {
        #expect(caught { () throws(COSEMError) in try APDU.decode(hx("DB 08 00")) } == .unknownAPDU(tag: 0xDB))
        #expect(caught { () throws(COSEMError) in try APDU.decode([]) } != nil)
    }
}
