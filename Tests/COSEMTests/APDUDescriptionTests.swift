// APDUDescription: what `dlms-bridge decode` shows for plain and ciphered APDUs (security-facts.md vectors).
import COSEM
import DLMSCrypto
import Testing

@Suite struct APDUDescriptionTests {
    func keys(title: SystemTitle?) throws -> DecipheringKeys<OpenSSLGCM> {
        DecipheringKeys(engine: try OpenSSLGCM(), keys: Facts.keys, systemTitle: title)
    }

    @Test func cipheredGetWithoutKeysShowsItsHeader() {
        let d = APDUDescription(VectorFiveTests.request)
        #expect(d.isValid && d.apdu == nil && d.verdict == .notChecked)
        #expect(d.name == "glo-get-request")
        #expect(d.lines.contains("invocation counter 19088746"))
    }

    @Test func cipheredGetWithKeysDecodesThePlainRequest() throws {
        let d = APDUDescription(VectorFiveTests.request, deciphering: try keys(title: Facts.client))
        #expect(d.verdict == .verified)
        #expect(d.plaintext == VectorFiveTests.requestPlain)
        #expect(d.name == "glo-get-request (GET-Request-Normal)")
        #expect(d.lines.contains { $0.contains("0-0:43.1.0.255 attr 2") })
    }

    @Test func wrongTitleFailsTheTagAndTheDescription() throws {
        let d = APDUDescription(VectorFiveTests.request, deciphering: try keys(title: Facts.server))
        #expect(!d.isValid && d.apdu == nil)
        guard case .failed(.tagMismatch)? = d.verdict else {
            Issue.record("verdict \(String(describing: d.verdict))")
            return
        }
    }

    @Test func pass3IsDescribedAsAnAction() throws {
        let wire = hx("CB 31 30 01234569 CB0A069DE89DE0D95B403FCC744F9CD8894BD4D1417F57FD0D4BA8C060A31E9C 3A149A73C22530F46C1EB48A")
        let d = APDUDescription(wire, deciphering: try keys(title: Facts.client))
        guard case let .actionRequest(action)? = d.apdu else {
            Issue.record("not an ACTION-Request: \(d.description)")
            return
        }
        #expect(action.method == .replyToHLSAuthentication)
    }

    @Test func passwordsStayHiddenAndErrorsKeepTheirOffset() {
        let aarq = AARQ(authentication: .lowLevel(password: Array("S3cr3tPw".utf8))).encode()
        let d = APDUDescription(aarq)
        #expect(d.hidden.count == 8)
        #expect(!d.description.contains("S3cr3tPw"))
        let truncated = APDUDescription(hx("C4 01 C1 00 06 00 01"))
        #expect(truncated.error?.byteOffset == 5)
    }
}
