import COSEM
import Testing

@Suite struct AARQTests {
    static let lls8 = hx("""
        60 36 A1 09 06 07 60 85 74 05 08 01 01 8A 02 07 80 8B 07 60 85 74 05 08 02 01 AC 0A 80 08
        31 32 33 34 35 36 37 38 BE 10 04 0E 01 00 00 00 06 5F 1F 04 00 00 7E 1F 04 B0
        """)

    @Test func llsEightBytePasswordMatchesGoldenVector() {
        let aarq = AARQ(authentication: .lowLevel(password: Array("12345678".utf8)),
                        proposedConformance: Conformance(rawValue: 0x007E1F), maxReceivePDUSize: 1200)
        #expect(aarq.encode() == Self.lls8)
    }

    @Test func tenCharacterPasswordChangesBothLengths() {
        let bytes = AARQ(authentication: .lowLevel(password: Array("2222222222".utf8)), maxReceivePDUSize: 1200).encode()
        #expect(bytes[1] == 0x38)
        #expect(Array(bytes[26..<30]) == hx("AC 0C 80 0A"))
        #expect(Array(bytes[30..<40]) == Array(repeating: 0x32, count: 10))
    }

    @Test func noAuthenticationOmitsPasswordFields() {
        let bytes = AARQ(authentication: .none, maxReceivePDUSize: 1200).encode()
        #expect(bytes == hx("60 1D A1 09 06 07 60 85 74 05 08 01 01 BE 10 04 0E 01 00 00 00 06 5F 1F 04 00 00 7E 1F 04 B0"))
    }

    @Test(arguments: [0, 1, 8, 10, 16, 100, 200, 300])
    func roundTripsAnyPasswordLength(_ length: Int) throws {
        let password = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 0x30) }
        let aarq = AARQ(authentication: length == 0 ? .none : .lowLevel(password: password),
                        proposedConformance: .usualClientProposal, maxReceivePDUSize: 512)
        let decoded = try AARQ.decode(aarq.encode())
        #expect(decoded == aarq)
        #expect(decoded.initiateRequest.clientMaxReceivePDUSize == 512)
    }

    @Test func decodesGoldenVector() throws {
        let aarq = try AARQ.decode(Self.lls8)
        #expect(aarq.authentication == .lowLevel(password: Array("12345678".utf8)))
        #expect(aarq.initiateRequest.proposedConformance == Conformance(rawValue: 0x007E1F))
        #expect(aarq.initiateRequest.dlmsVersion == 6)
        #expect(aarq.applicationContext == .logicalNameNoCiphering)
    }
}

@Suite struct AARETests {
    static let accepted = hx("""
        61 29 A1 09 06 07 60 85 74 05 08 01 01 A2 03 02 01 00 A3 05 A1 03 02 01 00
        BE 10 04 0E 08 00 06 5F 1F 04 00 00 50 1F 01 F4 00 07
        """)

    @Test func decodesAcceptedAARE() throws {
        let aare = try AARE.decode(Self.accepted)
        #expect(aare.result == .accepted)
        #expect(aare.diagnostic == .null)
        let initiate = try #require(aare.initiateResponse)
        #expect(initiate.negotiatedConformance == Conformance(rawValue: 0x00501F))
        #expect(initiate.serverMaxReceivePDUSize == 500)
        #expect(initiate.vaaName == 7)
        #expect(aare.encode() == Self.accepted)
    }

    @Test func decodesRejectionWithoutUserInformation() throws {
        let bytes = hx("61 24 A1 09 06 07 60 85 74 05 08 01 01 A2 03 02 01 01 A3 05 A1 03 02 01 0D 88 02 07 80 89 07 60 85 74 05 08 02 01")
        let aare = try AARE.decode(bytes)
        #expect(aare.result == .rejectedPermanent)
        #expect(aare.diagnostic == .authenticationFailure)
        #expect(aare.userInformation == nil)
        #expect(aare.mechanism == .lowLevel)
        #expect(aare.encode() == bytes)
    }

    @Test func llsAcceptedRoundTrip() throws {
        let aare = AARE(result: .accepted, diagnostic: .null,
                        userInformation: .initiateResponse(InitiateResponse(
                            negotiatedConformance: .usualClientProposal, serverMaxReceivePDUSize: 1024)),
                        mechanism: .lowLevel)
        #expect(try AARE.decode(aare.encode()) == aare)
    }

    @Test func rejectionWithConfirmedServiceError() throws {
        let aare = AARE(result: .rejectedPermanent, diagnostic: .noReasonGiven,
                        userInformation: .confirmedServiceError(ConfirmedServiceError(service: 1, errorKind: 6, value: 3)))
        let decoded = try AARE.decode(aare.encode())
        #expect(decoded == aare)
        #expect(Array(aare.encode().suffix(4)) == hx("0E 01 06 03"))
    }

    @Test func providerDiagnostic() throws {
        let bytes = hx("61 17 A1 09 06 07 60 85 74 05 08 01 01 A2 03 02 01 02 A3 05 A2 03 02 01 02")
        let aare = try AARE.decode(bytes)
        #expect(aare.result == .rejectedTransient)
        #expect(aare.diagnostic.source == .serviceProvider)
        #expect(aare.diagnostic.name == "no common ACSE version")
    }
}

@Suite struct ReleaseTests {
    @Test func rlrqAndRlre() throws {
        #expect(RLRQ().encode() == hx("62 03 80 01 00"))
        #expect(RLRE().encode() == hx("63 03 80 01 00"))
        #expect(try RLRQ.decode(hx("62 03 80 01 00")) == RLRQ())
        #expect(try RLRE.decode(hx("63 00")) == RLRE(reason: nil))
        let withInfo = RLRQ(reason: 0, userInformation: hx("01 00 00 00 06 5F 1F 04 00 00 7E 1F 04 B0"))
        #expect(try RLRQ.decode(withInfo.encode()) == withInfo)
        guard case .rlre? = try? APDU.decode(hx("63 03 80 01 00")) else { Issue.record("not an RLRE"); return }
    }
}
