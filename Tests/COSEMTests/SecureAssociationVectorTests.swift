// Vectors 2-4 of security-facts.md: the ciphered AARQ/AARE inside wrapper headers, HLS-GMAC pass 3 and 4,
// and the public-client wrapper AARQ.
import COSEM
import DLMSCrypto
import Testing

@Suite struct SecureAssociationVectorTests {
    static let ctos = Array("ABCDEFGH".utf8)
    static let stoc = Array("P6wRJ21F".utf8)
    static let aarqPDU = hx("""
        0001 0010 0001 0057
        60 55 A1 09 06 07 60857405080103
        A6 0A 04 08 4D4D4D0000BC614E
        8A 02 07 80   8B 07 60857405080205
        AC 0A 80 08 4142434445464748
        BE 23 04 21 21 1F 30 01234567 801212FF9D0558536867253843E1 46830127DB113047B05492B9
        """)
    static let initiateRequestPlain = hx("01 00 00 00 06 5F1F 04 00 401E5D FFFF")
    static let aarePDU = hx("""
        0001 0001 0010 0063
        61 61 A1 09 06 07 60857405080103  A2 03 02 01 00  A3 05 A1 03 02 01 0E
        A4 0A 04 08 4D4D4D0000000001  88 02 07 80  89 07 60857405080205
        AA 0A 80 08 503677524A323146
        BE 23 04 21 28 1F 30 00000000 C9505DD6FC6108C9AD406CBCC879 F957FC2A9C1A2E7E1391A5DA
        """)
    static let initiateResponsePlain = hx("08 00 06 5F1F 04 00 401E5D FFFF 0007")

    func client(next: UInt32) throws -> CipheringContext<OpenSSLGCM> {
        CipheringContext(engine: try OpenSSLGCM(), keys: Facts.keys,
                         policy: CipheringPolicy(security: .authenticatedEncrypted, preferGeneral: false),
                         ownSystemTitle: Facts.client, peerSystemTitle: Facts.server, counter: InvocationCounter(next: next))
    }

    @Test func vector2AARQEncodesByteForByte() throws {
        var context = try client(next: 0x0123_4567)
        let initiate = InitiateRequest(proposedConformance: Conformance(rawValue: 0x401E5D), clientMaxReceivePDUSize: 0xFFFF)
        var plain: [UInt8] = []
        initiate.encode(into: &plain)
        #expect(plain == Self.initiateRequestPlain)
        let ciphered = try context.protect(plain, form: context.form(associated: false))
        let aarq = AARQ(callingAPTitle: Facts.client, authentication: .highLevelGMAC(challenge: Self.ctos),
                        cipheredInitiateRequest: ciphered)
        let apdu = aarq.encode()
        let pdu = try WrapperHeader.frame(apdu, source: 16, destination: 1)
        #expect(pdu == Self.aarqPDU)
    }

    @Test func vector2AARQDecodesAndDeciphers() throws {
        let (header, apdu) = try WrapperHeader.parsePDU(Self.aarqPDU)
        #expect(header == WrapperHeader(source: 16, destination: 1, length: 0x57))
        let aarq = try AARQ.decode(apdu)
        #expect(aarq.applicationContext == .logicalNameWithCiphering)
        #expect(aarq.callingAPTitle == Facts.client)
        #expect(aarq.authentication == .highLevelGMAC(challenge: Self.ctos))
        #expect(aarq.initiateRequest == .unknown)
        guard case let .ciphered(bytes) = aarq.userInformation else {
            Issue.record("the user information is not ciphered: \(aarq.userInformation)")
            return
        }
        // The meter's side: the client's title comes from the AARQ.
        var meter = CipheringContext(engine: try OpenSSLGCM(), keys: Facts.keys, policy: CipheringPolicy(),
                                     ownSystemTitle: Facts.server, peerSystemTitle: aarq.callingAPTitle,
                                     counter: InvocationCounter(next: 0))
        let plain = try meter.unprotected(bytes)
        #expect(plain == Self.initiateRequestPlain)
        var reader = ByteReader(plain)
        let initiate = try InitiateRequest.decode(from: &reader)
        #expect(initiate.proposedConformance == Conformance(rawValue: 0x401E5D) && initiate.dedicatedKey == nil)
        #expect(try APDU.decode(apdu).description.contains("HLS-GMAC, challenge of 8 bytes"))
    }

    @Test func vector3AAREEncodesAndDecodes() throws {
        // The meter's side (server title, counter 0) builds the same bytes...
        var meter = CipheringContext(engine: try OpenSSLGCM(), keys: Facts.keys, policy: CipheringPolicy(),
                                     ownSystemTitle: Facts.server, peerSystemTitle: Facts.client,
                                     counter: InvocationCounter(next: 0))
        let ciphered = try meter.protect(Self.initiateResponsePlain, form: meter.form(associated: false))
        let aare = AARE(result: .accepted, diagnostic: .authenticationRequired, userInformation: .ciphered(ciphered),
                        mechanism: .highLevelGMAC, applicationContext: .logicalNameWithCiphering,
                        respondingAPTitle: Facts.server, respondingAuthenticationValue: Self.stoc)
        #expect(try WrapperHeader.frame(aare.encode(), source: 1, destination: 16) == Self.aarePDU)
        // ...and the client reads every field back and deciphers the InitiateResponse.
        let (header, apdu) = try WrapperHeader.parsePDU(Self.aarePDU)
        #expect(header.source == 1 && header.destination == 16)
        let decoded = try AARE.decode(apdu)
        #expect(decoded == aare)
        var client = try client(next: 0x0123_4568)
        client.peerSystemTitle = decoded.respondingAPTitle
        guard case let .ciphered(bytes)? = decoded.userInformation else {
            Issue.record("the AARE user information is not ciphered")
            return
        }
        let plain = try client.unprotected(bytes)
        var reader = ByteReader(plain)
        let response = try InitiateResponse.decode(from: &reader)
        #expect(response.negotiatedConformance == Conformance(rawValue: 0x401E5D))
        #expect(response.serverMaxReceivePDUSize == 0xFFFF && response.vaaName == 7)
    }

    @Test func vector4GMACCheckValue() throws {
        let f = try HLSGMAC.response(to: Self.stoc, engine: try OpenSSLGCM(), keys: Facts.keys,
                                     systemTitle: Facts.client, invocationCounter: 0x0123_4568)
        #expect(f == hx("10 01234568 BBDED74D540B8AB544DEC0F9"))
    }

    @Test func vector4Pass3EncodesByteForByte() throws {
        var context = try client(next: 0x0123_4568)
        let wire = try context.hlsPass3(serverChallenge: Self.stoc, invoke: InvokeIdAndPriority(rawValue: 0xC1))
        #expect(wire == hx("""
            CB 31 30 01234569 CB0A069DE89DE0D95B403FCC744F9CD8894BD4D1417F57FD0D4BA8C060A31E9C 3A149A73C22530F46C1EB48A
            """))
        // The GMAC took 01234568, the APDU 01234569: no IV twice.
        #expect(context.counter.next == 0x0123_456A)
        let plain = try Facts.open(wire, peer: Facts.client)
        #expect(plain == hx("C3 01 C1 000F 0000280000FF 01 01 09 11 10 01234568 BBDED74D540B8AB544DEC0F9"))
        let action = try ActionRequest.decode(plain)
        #expect(action.method == .replyToHLSAuthentication)
    }

    static let pass4Wire = hx("CF 2A 30 00000000 06519A89E2650198A31D9343C849C640A41DECE9E0ADD3F53A D3FADC3CFD7994DB8D84DE1D")
    static let pass4Plain = hx("C7 01 C1 00 01 00 09 11 10 00000000 3766BBB1C9866F65344A4E38")

    @Test func vector4Pass4VerifiesTheMeter() throws {
        var context = try client(next: 0x0123_456A)
        let response = try context.hlsPass4(Self.pass4Wire, clientChallenge: Self.ctos)
        #expect(response.encode() == Self.pass4Plain)
        // Encoded from the meter's side, byte for byte.
        var meter = CipheringContext(engine: try OpenSSLGCM(), keys: Facts.keys, policy: CipheringPolicy(preferGeneral: false),
                                     ownSystemTitle: Facts.server, counter: InvocationCounter(next: 0))
        let f = try HLSGMAC.response(to: Self.ctos, engine: meter.engine, keys: Facts.keys, systemTitle: Facts.server,
                                     invocationCounter: 0)
        let plain = ActionResponse(invoke: InvokeIdAndPriority(rawValue: 0xC1), result: .success,
                                   returnParameters: .data(.octetString(f))).encode()
        #expect(plain == Self.pass4Plain)
        // gurux's server used counter 0 for both the GMAC and the APDU: reproduce that, not recommend it.
        meter.counter = InvocationCounter(next: 0)
        #expect(try meter.protect(plain) == Self.pass4Wire)
    }

    @Test func pass4FromAnImpostorIsRejected() throws {
        var context = try client(next: 1)
        // Another challenge than the one the meter answered: its f(CtoS) cannot verify.
        let error = caught { () throws(COSEMError) in
            try context.hlsPass4(Self.pass4Wire, clientChallenge: Array("ABCDEFGX".utf8))
        }
        #expect(error == .security(.meterAuthenticationFailed))
        #expect(error?.description.contains("not the meter it claims") == true)
    }

    @Test func publicClientWrapperAARQ() throws {
        let apdu = AARQ(authentication: .none, proposedConformance: Conformance(rawValue: 0x401E5D),
                        maxReceivePDUSize: 0xFFFF).encode()
        let expected = hx("0001 0010 0001 001F 601DA109060760857405080101BE10040E01000000065F1F0400401E5DFFFF")
        #expect(try WrapperHeader.frame(apdu, source: 16, destination: 1) == expected)
        let (header, body) = try WrapperHeader.parsePDU(expected)
        #expect(header.description == "wrapper v1, wPort 16 -> 1, 31 bytes")
        #expect(try AARQ.decode(body).authentication == .none)
    }

    @Test func wrapperHeaderRejectsWhatIsNotAWrapper() {
        #expect(caught { () throws(COSEMError) in try WrapperHeader.parse(hx("7E A0 07 03 03 93 8C 11")) } != nil)
        #expect(caught { () throws(COSEMError) in try WrapperHeader.parse(hx("00 01 00 10")) }
            == .truncated(at: 4, needed: 2, remaining: 0, what: "the destination wPort"))
        #expect(caught { () throws(COSEMError) in try WrapperHeader.parsePDU(hx("0001 0010 0001 0005 C0 01")) }
            == .lengthExceedsInput(at: 6, declared: 5, remaining: 2))
    }

    @Test func dedicatedKeyTravelsInTheCipheredInitiateRequest() throws {
        let initiate = InitiateRequest(proposedConformance: Conformance(rawValue: 0x401E5D), clientMaxReceivePDUSize: 0xFFFF,
                                       dedicatedKey: Facts.dk.bytes)
        var plain: [UInt8] = []
        initiate.encode(into: &plain)
        #expect(plain == hx("01 01 10 00112233445566778899AABBCCDDEEFF 00 00 06 5F1F 04 00 401E5D FFFF"))
    }
}

@Suite struct InvocationCounterTests {
    @Test func leaseBoundsTheCounter() throws {
        var counter = InvocationCounter(next: 10, leasedUpTo: 11)
        #expect(try counter.take() == 10)
        #expect(try counter.take() == 11)
        #expect(throws: SecurityError.counterLeaseExhausted(next: 12, leasedUpTo: 11)) { try counter.take() }
        counter.extendLease(to: 5)  // never shrinks
        #expect(counter.leasedUpTo == 11)
        counter.extendLease(to: 100)
        counter.advance(to: 50)
        counter.advance(to: 20)  // never back
        #expect(try counter.take() == 50)
    }

    @Test func theLastValueIsUsedOnce() throws {
        var counter = InvocationCounter(next: .max)
        #expect(try counter.take() == .max)
        #expect(counter.next == nil)
        #expect(throws: SecurityError.counterExhausted) { try counter.take() }
    }

    @Test func replayGuardAcceptsOnlyIncreasingCounters() throws {
        var guardian = ReplayGuard()
        try guardian.check(0)
        guardian.accept(0)
        #expect(throws: SecurityError.replayedCounter(received: 0, lastAccepted: 0)) { try guardian.check(0) }
        try guardian.check(1)
        guardian.accept(5)
        guardian.accept(3)  // accept never moves back
        #expect(guardian.lastAccepted == 5)
    }

    @Test func keysNeverPrint() {
        #expect(Facts.ek.description == "16-byte key (hidden)")
        #expect(!Facts.keys.description.contains("00"))
        #expect(SecurityKey(hex: "0001") == nil)
        #expect(SecurityKey(hex: "000102030405060708090A0B0C0D0E0F") == Facts.ek)
        #expect(Facts.client.description == "4D4D4D0000BC614E")
    }
}

@Suite struct CipheredAssociationFlowTests {
    /// Vectors 2, 3 and 4 are one exchange: AARQ at IC 01234567, pass 3's GMAC at 01234568 and its APDU at
    /// 01234569. The client context walks it and must produce gurux's bytes at each step.
    @Test func aarqAareAndPass3FollowTheVectors() throws {
        var client = CipheringContext(engine: try OpenSSLGCM(), keys: Facts.keys, policy: CipheringPolicy(),
                                      ownSystemTitle: Facts.client, counter: InvocationCounter(next: 0x0123_4567))
        let initiate = InitiateRequest(proposedConformance: Conformance(rawValue: 0x401E5D), clientMaxReceivePDUSize: 0xFFFF)
        let aarq = try client.associationRequest(authentication: .highLevelGMAC(challenge: SecureAssociationVectorTests.ctos),
                                                 initiate: initiate)
        #expect(aarq.encode() == Array(SecureAssociationVectorTests.aarqPDU.dropFirst(8)))

        let aare = try AARE.decode(Array(SecureAssociationVectorTests.aarePDU.dropFirst(8)))
        let outcome = try client.handleAssociationResponse(aare)
        #expect(client.peerSystemTitle == Facts.server)
        #expect(outcome.needsHLSPass3 && outcome.serverChallenge == SecureAssociationVectorTests.stoc)
        #expect(outcome.initiateResponse?.negotiatedConformance == Conformance(rawValue: 0x401E5D))
        #expect(client.generalProtectionGranted)

        let pass3 = try client.hlsPass3(serverChallenge: try #require(outcome.serverChallenge),
                                        invoke: InvokeIdAndPriority(rawValue: 0xC1))
        #expect(pass3 == hx("""
            CB 31 30 01234569 CB0A069DE89DE0D95B403FCC744F9CD8894BD4D1417F57FD0D4BA8C060A31E9C 3A149A73C22530F46C1EB48A
            """))
        // gurux's server answered pass 4 with counter 0 again after the AARE's 0: a real meter's counter
        // increases, so this client refuses it as a replay rather than trusting it.
        #expect(throws: COSEMError.security(.replayedCounter(received: 0, lastAccepted: 0))) {
            try client.hlsPass4(SecureAssociationVectorTests.pass4Wire, clientChallenge: SecureAssociationVectorTests.ctos)
        }
        // After the association, requests use general-glo-ciphering (general-protection was granted).
        #expect(try client.protect(VectorFiveTests.requestPlain).first == 0xDB)
    }

    @Test func aPlainInitiateResponseIsRefusedWhenCipheringIsRequired() throws {
        var client = CipheringContext(engine: try OpenSSLGCM(), keys: Facts.keys, policy: CipheringPolicy(),
                                      ownSystemTitle: Facts.client, counter: InvocationCounter(next: 1))
        let plain = AARE(result: .accepted, diagnostic: .null, userInformation: .initiateResponse(InitiateResponse(
            negotiatedConformance: .usualClientProposal, serverMaxReceivePDUSize: 512)))
        #expect(throws: COSEMError.security(.protectionTooWeak(required: .authenticatedEncrypted, received: nil))) {
            try client.handleAssociationResponse(plain)
        }
    }

    @Test(arguments: [SecurityControl.authenticated, .encrypted, .authenticatedEncrypted])
    func anyAPDURoundTripsInEveryForm(_ sc: SecurityControl) throws {
        // Plaintexts of every length class (short, 81 nn, 82 nnnn lengths) in all four forms.
        for length in [1, 13, 100, 200, 300, 70_000] {
            for form in [CipheringForm(), CipheringForm(dedicated: true), .generalGlobal, CipheringForm(general: true, dedicated: true)] {
                let plain = [0xC4] + (1..<length).map { UInt8(truncatingIfNeeded: $0 &* 31) }
                let keys = SecurityKeys(encryption: Facts.ek, authentication: Facts.ak, dedicated: Facts.dk)
                var sender = CipheringContext(engine: try OpenSSLGCM(), keys: keys, policy: CipheringPolicy(security: sc),
                                              ownSystemTitle: Facts.server, counter: InvocationCounter(next: UInt32(length)))
                var receiver = CipheringContext(engine: try OpenSSLGCM(), keys: keys, policy: CipheringPolicy(security: sc),
                                                ownSystemTitle: Facts.client, peerSystemTitle: Facts.server,
                                                counter: InvocationCounter(next: 1))
                let wire = try sender.protect(plain, form: form)
                let parsed = try CipheredAPDU.parse(wire)
                #expect(parsed.end == wire.count && parsed.isDedicated == form.dedicated && parsed.isGeneral == form.general)
                #expect(try receiver.unprotected(wire) == plain, "length \(length), \(form)")
                if sc.isAuthenticated {
                    var tampered = wire
                    tampered[tampered.count - 13] ^= 0x80  // the last byte of the text
                    var fresh = CipheringContext(engine: try OpenSSLGCM(), keys: keys, policy: CipheringPolicy(security: sc),
                                                 ownSystemTitle: Facts.client, peerSystemTitle: Facts.server,
                                                 counter: InvocationCounter(next: 1))
                    let error = caught { () throws(COSEMError) in try fresh.unprotected(tampered) }
                    guard case .security(.tagMismatch)? = error else {
                        Issue.record("length \(length), \(form): \(String(describing: error))")
                        continue
                    }
                }
            }
        }
    }
}
