// Golden vectors of the shared security-facts.md (the project brief's docs) (each produced by gurux-dlms or dlms-cosem and checked
// with an independent AES-GCM): suite 0 encode and decode byte for byte, through OpenSSL's engine.
import COSEM
import DLMSCrypto
import Testing

enum Facts {
    static let ek = SecurityKey(bytes: hx("000102030405060708090A0B0C0D0E0F"))!
    static let ak = SecurityKey(bytes: hx("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"))!
    static let dk = SecurityKey(bytes: hx("00112233445566778899AABBCCDDEEFF"))!
    static let keys = SecurityKeys(encryption: ek, authentication: ak)
    static let client = SystemTitle(bytes: hx("4D4D4D0000BC614E"))!
    static let server = SystemTitle(bytes: hx("4D4D4D0000000001"))!
    /// GET clock 0-0:1.0.0.255 attribute 2.
    static let getClock = hx("C001C100080000010000FF0200")

    static func engine() throws -> OpenSSLGCM { try OpenSSLGCM() }

    /// Deciphers `bytes` with fresh counters and returns the plaintext.
    static func open(_ bytes: [UInt8], keys: SecurityKeys = keys, peer: SystemTitle, own: SystemTitle = server,
                     policy: CipheringPolicy = CipheringPolicy()) throws -> [UInt8] {
        var context = CipheringContext(engine: try engine(), keys: keys, policy: policy, ownSystemTitle: own,
                                       peerSystemTitle: peer, counter: InvocationCounter(next: 1))
        return try context.unprotected(bytes)
    }
}

@Suite struct Suite0VectorTests {
    static let sc30 = hx("C8 1E 30 01234567 4113D3FF935A47566827C467BC 597F9FD4FAB3700DBB3BC330")
    static let sc10 = hx("C8 1E 10 01234567 C001C100080000010000FF0200 0984A052E08C35DE51F04BBE")
    static let sc20 = hx("C8 12 20 01234567 4113D3FF935A47566827C467BC")

    @Test(arguments: [(SecurityControl.authenticatedEncrypted, sc30), (.authenticated, sc10), (.encrypted, sc20)])
    func vector1EncodesByteForByte(_ sc: SecurityControl, _ expected: [UInt8]) throws {
        let wire = try Suite0.protect(Facts.getClock, engine: try Facts.engine(), keys: Facts.keys, security: sc,
                                      form: .global, systemTitle: Facts.client, invocationCounter: 0x0123_4567)
        #expect(wire == expected)
    }

    @Test(arguments: [(SecurityControl.authenticatedEncrypted, sc30), (.authenticated, sc10), (.encrypted, sc20)])
    func vector1DecodesToThePlainGet(_ sc: SecurityControl, _ wire: [UInt8]) throws {
        let apdu = try CipheredAPDU.parse(wire)
        #expect(apdu.tag == 0xC8 && apdu.plainTag == 0xC0 && !apdu.isDedicated && !apdu.isGeneral)
        #expect(apdu.security == sc)
        #expect(apdu.invocationCounter == 0x0123_4567)
        #expect(apdu.end == wire.count)
        let plain = try Facts.open(wire, peer: Facts.client, policy: CipheringPolicy(security: sc))
        #expect(plain == Facts.getClock)
        #expect(try GetRequest.decode(plain) == .normal(
            invoke: InvokeIdAndPriority(rawValue: 0xC1),
            attribute: AttributeDescriptor(classId: 8, obis: .clock, attribute: 2), access: nil))
    }

    @Test func everyFlippedBitIsRejectedAsATagMismatch() throws {
        for index in 3..<Self.sc30.count {
            var wire = Self.sc30
            wire[index] ^= 0x01
            let error = caught { () throws(COSEMError) in
                var context = CipheringContext(engine: try! Facts.engine(), keys: Facts.keys, policy: CipheringPolicy(),
                                               ownSystemTitle: Facts.server, peerSystemTitle: Facts.client,
                                               counter: InvocationCounter(next: 1))
                return try context.unprotect(&wire)
            }
            // A flipped counter bit changes the IV: still a tag mismatch, reported with the counter received.
            guard case .security(.tagMismatch(0xC8, _, .encryption))? = error else {
                Issue.record("byte \(index): \(String(describing: error))")
                continue
            }
            // The rejected text is not left behind as plaintext.
            #expect(wire[7..<20].allSatisfy { $0 == 0 })
        }
        let wrongKey = SecurityKeys(encryption: Facts.ek, authentication: Facts.dk)
        let error = caught { () throws(COSEMError) in
            var context = CipheringContext(engine: try! Facts.engine(), keys: wrongKey,
                                           policy: CipheringPolicy(security: .authenticated),
                                           ownSystemTitle: Facts.server, peerSystemTitle: Facts.client,
                                           counter: InvocationCounter(next: 1))
            return try context.unprotected(Self.sc10)
        }
        #expect(error?.description.contains("check DLMS_AK and DLMS_EK") == true)
    }

    @Test func generalGloCarriesTheSameContentWithTheSystemTitle() throws {
        // security-facts: `C8 1E 30 0123456A…` and `DB 08 4D4D4D0000BC614E 1E 30 0123456A…` are the same GET.
        let service = VectorFiveTests.request
        let general = hx("DB 08 4D4D4D0000BC614E") + Array(service[1...])
        let apdu = try CipheredAPDU.parse(general)
        #expect(apdu.isGeneral && apdu.systemTitle == Facts.client && apdu.invocationCounter == 0x0123_456A)
        // No configured peer title: the one in the APDU is used.
        var context = CipheringContext(engine: try Facts.engine(), keys: Facts.keys, policy: CipheringPolicy(),
                                       ownSystemTitle: Facts.server, counter: InvocationCounter(next: 1))
        #expect(try context.unprotected(general) == VectorFiveTests.requestPlain)
        let encoded = try Suite0.protect(VectorFiveTests.requestPlain, engine: try Facts.engine(), keys: Facts.keys,
                                         security: .authenticatedEncrypted, form: .generalGlobal,
                                         systemTitle: Facts.client, invocationCounter: 0x0123_456A)
        #expect(encoded == general)
    }

    @Test func dedicatedKeyVectorDecodesAndReencodes() throws {
        let wire = hx("D0 1E 30 00000011 02F533F59E62C033D0AC2DDB79 AE714A80D9FC417FB43101C7")
        let keys = SecurityKeys(encryption: Facts.ek, authentication: Facts.ak, dedicated: Facts.dk)
        let plain = try Facts.open(wire, keys: keys, peer: Facts.client)
        // The frame-counter GET of vector 5, now under the dedicated key.
        #expect(plain == VectorFiveTests.requestPlain)
        let encoded = try Suite0.protect(plain, engine: try Facts.engine(), keys: keys, security: .authenticatedEncrypted,
                                         form: CipheringForm(dedicated: true), systemTitle: Facts.client,
                                         invocationCounter: 0x11)
        #expect(encoded == wire)
        // Without the dedicated key the operator is told what is missing.
        #expect(throws: COSEMError.security(.missingKey(.dedicated))) { try Facts.open(wire, peer: Facts.client) }
    }

    @Test func cipheredPushDecodesToTheDataNotification() throws {
        let wire = hx("DB 08 4D4D4D0000000001 26 30 0000002A A540E38A45A3859075ED666E96C1A0E1813832FD48 AEA2E8D2E256E368960F4DFD")
        let plain = try Facts.open(wire, peer: Facts.server, own: Facts.client)
        #expect(plain == hx("0F C0000001 00 02 02 09 06 0100010700FF 06 000004D2"))
    }
}

@Suite struct VectorFiveTests {
    static let requestPlain = hx("C0 01 C1 0001 00002B0100FF 02 00")
    static let request = hx("C8 1E 30 0123456A 0DD9F537AABE4DFC84AE8FD989 15E51A6D88EFCA1365FA89F7")
    static let responsePlain = hx("C4 01 C1 00 06 000004D2")
    static let response = hx("CC 1A 30 00000001 5C446A0E57566ACC0D E866C7E2CB5A5C29EC103DAA")

    @Test func requestAndResponseEncodeByteForByte() throws {
        var client = CipheringContext(engine: try Facts.engine(), keys: Facts.keys, policy: CipheringPolicy(),
                                      ownSystemTitle: Facts.client, peerSystemTitle: Facts.server,
                                      counter: InvocationCounter(next: 0x0123_456A))
        #expect(try client.protect(Self.requestPlain) == Self.request)
        #expect(client.counter.next == 0x0123_456B)
        var meter = CipheringContext(engine: try Facts.engine(), keys: Facts.keys, policy: CipheringPolicy(),
                                     ownSystemTitle: Facts.server, peerSystemTitle: Facts.client,
                                     counter: InvocationCounter(next: 1))
        #expect(try meter.unprotected(Self.request) == Self.requestPlain)
        #expect(try meter.protect(Self.responsePlain) == Self.response)
    }

    @Test func responseDecipheredInPlaceDecodesTheRegisterValue() throws {
        var client = CipheringContext(engine: try Facts.engine(), keys: Facts.keys, policy: CipheringPolicy(),
                                      ownSystemTitle: Facts.client, peerSystemTitle: Facts.server,
                                      counter: InvocationCounter(next: 0x0123_456A))
        var bytes = Self.response
        let result = try client.unprotect(&bytes)
        #expect(Array(bytes[result.plaintext]) == Self.responsePlain)
        var reader = ByteReader(bytes, range: result.plaintext)
        #expect(try GetResponse.decode(from: &reader) == .normal(invoke: InvokeIdAndPriority(rawValue: 0xC1),
                                                                  result: .data(.doubleLongUnsigned(1234))))
        #expect(client.replayGuard.lastAccepted == 1)
    }

    @Test func aReplayedResponseIsAFaultNotData() throws {
        var client = CipheringContext(engine: try Facts.engine(), keys: Facts.keys, policy: CipheringPolicy(),
                                      ownSystemTitle: Facts.client, peerSystemTitle: Facts.server,
                                      counter: InvocationCounter(next: 0x0123_456A))
        _ = try client.unprotected(Self.response)
        let error = caught { () throws(COSEMError) in try client.unprotected(Self.response) }
        #expect(error == .security(.replayedCounter(received: 1, lastAccepted: 1)))
        #expect(error?.description.contains("replayed") == true)
    }

    @Test func weakerProtectionThanRequiredIsRefused() throws {
        var client = CipheringContext(engine: try Facts.engine(), keys: Facts.keys, policy: CipheringPolicy(),
                                      ownSystemTitle: Facts.client, peerSystemTitle: Facts.server,
                                      counter: InvocationCounter(next: 1))
        let plainError = caught { () throws(COSEMError) in try client.unprotected(Self.responsePlain) }
        #expect(plainError == .security(.protectionTooWeak(required: .authenticatedEncrypted, received: nil)))
        let encryptedOnly = caught { () throws(COSEMError) in try client.unprotected(Suite0VectorTests.sc20) }
        #expect(encryptedOnly == .security(.protectionTooWeak(required: .authenticatedEncrypted, received: .encrypted)))
    }
}
