import COSEM
import Testing

/// What operators and the decode command see.
@Suite struct DescriptionTests {
    @Test func apduOneLiners() throws {
        #expect(try APDU.decode(hx("C4 01 C1 00 12 08 FD")).description
                == "GET-Response-Normal invoke 1 (high priority): long-unsigned 2301")
        #expect(try APDU.decode(hx("C0 01 C1 00 03 01 01 20 07 00 FF 02 00")).description
                == "GET-Request-Normal invoke 1 (high priority): class 3 1-1:32.7.0.255 attr 2")
        #expect(try APDU.decode(hx("C4 02 C1 01 00 00 00 02 00 03 11 01 02")).description
                == "GET-Response-With-Datablock invoke 1 (high priority): block 2 (last), 3 raw bytes")
        #expect(try APDU.decode(hx("C4 03 41 02 00 11 05 01 04")).description
                == "GET-Response-With-List invoke 1: 2 results: unsigned 5; error object-undefined (4)")
        let aarq = try APDU.decode(AARQTests.lls8).description
        #expect(aarq.contains("LLS password of 8 bytes"))
        #expect(!aarq.contains("12345678"))
        #expect(try APDU.decode(AARETests.accepted).description.contains("server max receive PDU 500"))
        #expect(try APDU.decode(hx("D8 01 04")).description == "exception-response: service-not-allowed, pdu-too-long")
    }

    @Test func errorsTellWhatToDo() {
        let cases: [(COSEMError, String)] = [
            (.truncated(at: 3, needed: 2, remaining: 1, what: "a long-unsigned"), "truncated"),
            (.invalidLengthForm(at: 1, byte: 0x80), "0x80"),
            (.unknownDataTag(at: 0, tag: 0x07), "0x07"),
            (.nestingTooDeep(at: 32, limit: 16), "16 deep"),
            (.tooManyElements(at: 1, count: 9, limit: 3), "by range or entry"),
            (.unknownAPDU(tag: 0xDB), "ciphering"),
            (.invokeIdMismatch(expected: 1, received: 7), "stale"),
            (.blockOutOfSequence(expected: 2, received: 4), "block 4"),
            (.dataAccess(.readWriteDenied), "client with more rights"),
            (.dataAccess(.objectUndefined), "check the OBIS code"),
            (.serviceNotGranted("GET-With-List (multiple references)"), "single requests"),
            (.associationRejected(result: .rejectedPermanent, diagnostic: .authenticationRequired, clientSAP: 16),
             "client SAP 16 needs a password"),
            (.associationRejected(result: .rejectedPermanent, diagnostic: .applicationContextNameNotSupported, clientSAP: 1),
             "logical-name referencing"),
            (.exceptionResponse(ExceptionResponse(stateError: 1, serviceError: 4)), "lower the max PDU size"),
            (.confirmedServiceError(ConfirmedServiceError(service: 1, errorKind: 6, value: 3)), "raise the max PDU size"),
            (.dateTimeNotSpecified(field: "year"), "year"),
        ]
        for (error, phrase) in cases {
            #expect(error.description.contains(phrase), "\(error.description)")
        }
    }

    @Test func dataAccessResultNames() {
        let names: [(UInt8, String)] = [(0, "success"), (1, "hardware-fault"), (2, "temporary-failure"),
            (3, "read-write-denied"), (4, "object-undefined"), (9, "object-class-inconsistent"),
            (11, "object-unavailable"), (12, "type-unmatched"), (13, "scope-of-access-violated"),
            (14, "data-block-unavailable"), (15, "long-get-aborted"), (16, "no-long-get-in-progress"),
            (17, "long-set-aborted"), (18, "no-long-set-in-progress"), (19, "data-block-number-invalid"),
            (250, "other-reason"), (77, "data-access-result 77")]
        for (code, name) in names { #expect(DataAccessResult(rawValue: code).name == name) }
    }

    @Test func conformanceNames() {
        #expect(Conformance.usualClientProposal.description == "priority-mgmt-supported, attribute0-supported-with-get, block-transfer-with-get-or-read, block-transfer-with-set-or-write, block-transfer-with-action, multiple-references, get, set, selective-access, event-notification, action")
        #expect(Conformance.get.rawValue == 0x00_0010)
        #expect(Conformance.multipleReferences.bytes == [0x00, 0x02, 0x00])
    }
}
