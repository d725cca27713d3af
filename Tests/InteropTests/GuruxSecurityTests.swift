// Ciphered interop with gurux-dlms (issue 12): gurux's client ciphers a matrix of requests (SC 10/20/30, LLS
// and HLS-GMAC, glo and general-glo, dedicated key, HDLC and the wrapper), recording each plaintext it
// ciphered (Tests/Interop/gurux_security_vectors.py). This code must decipher each to that plaintext, and
// cipher each plaintext to gurux's bytes; gurux then deciphers what this code built.
import COSEM
import DLMSCrypto
import Foundation
import HDLC
import Testing

enum GuruxSecurityVectors {
    static let document: Result<JSON, VectorLoadFailure> = {
        do {
            let output = try GuruxVectors.runGenerator(arguments: [], input: nil, script: "gurux_security_vectors.py")
            return .success(try JSONDecoder().decode(JSON.self, from: output))
        } catch let failure as VectorLoadFailure {
            return .failure(failure)
        } catch {
            return .failure(VectorLoadFailure(description: "Could not read the gurux security vectors: \(error)"))
        }
    }()

    static func get() throws -> JSON { try document.get() }
}

/// The keys and titles of the generator's document.
struct GuruxSecurityMaterial {
    let keys: SecurityKeys
    let client: SystemTitle
    let server: SystemTitle
    let stoc: [UInt8]

    init(_ doc: JSON) throws {
        let k = doc["keys"] ?? .null
        func key(_ name: String) throws -> SecurityKey {
            try #require(SecurityKey(hex: try text(k, name)), "key \(name)")
        }
        keys = SecurityKeys(encryption: try key("ek"), authentication: try key("ak"), dedicated: try key("dk"))
        client = try #require(SystemTitle(hex: try text(k, "client")))
        server = try #require(SystemTitle(hex: try text(k, "server")))
        stoc = bytes(hex: try text(k, "stoc"))
    }

    func keys(dedicated: Bool) -> SecurityKeys {
        dedicated ? keys : SecurityKeys(encryption: keys.encryption, authentication: keys.authentication)
    }
}

/// The APDU inside gurux's frames: the wrapper header or the HDLC frame (and its LLC header) removed.
func apduOfFrames(_ frames: [String], interface: String) throws -> [UInt8] {
    var apdu: [UInt8] = []
    for hexFrame in frames {
        let frame = bytes(hex: hexFrame)
        if interface == "wrapper" {
            apdu += try WrapperHeader.parsePDU(frame).apdu
        } else {
            let parsed = try HDLCFrame.parse(frame)
            apdu += frame[parsed.infoRange]
        }
    }
    if interface == "hdlc" {
        #expect(Array(apdu.prefix(3)) == [0xE6, 0xE6, 0x00], "LLC header of a request")
        apdu.removeFirst(3)
    }
    return apdu
}

@Suite("gurux-dlms interop: ciphered APDUs (suite 0, HLS-GMAC, wrapper)")
struct GuruxSecurityTests {
    @Test("gurux's ciphered requests decipher to the plain APDU gurux ciphered, in counter order")
    func guruxToUs() throws {
        let doc = try GuruxSecurityVectors.get()
        let material = try GuruxSecurityMaterial(doc)
        let cases = try list(doc, "cases")
        #expect(cases.count == 48)
        for c in cases {
            let name = try text(c, "name")
            let dedicated = c["dedicated"]?.bool == true
            let sc = SecurityControl(rawValue: UInt8(try field(c, "sc")))
            // The meter's view: one context for the whole case, so the replay guard sees every counter.
            var meter = CipheringContext(engine: try OpenSSLGCM(), keys: material.keys(dedicated: dedicated),
                                         policy: CipheringPolicy(security: sc), ownSystemTitle: material.server,
                                         peerSystemTitle: nil, counter: InvocationCounter(next: 1))
            for step in try list(c, "steps") {
                let what = try text(step, "what")
                let apdu = try apduOfFrames(try list(step, "frames").compactMap { $0.string },
                                            interface: try text(c, "interface"))
                let plain = bytes(hex: try text(step, "plain"))
                var ciphered = apdu
                if what == "aarq" {
                    let aarq = try AARQ.decode(apdu)
                    #expect(aarq.applicationContext == .logicalNameWithCiphering, "\(name)")
                    #expect(aarq.callingAPTitle == material.client, "\(name)")
                    let expected: Authentication = try text(c, "authentication") == "gmac"
                        ? .highLevelGMAC(challenge: Array("ABCDEFGH".utf8)) : .lowLevel(password: Array("12345678".utf8))
                    #expect(aarq.authentication == expected, "\(name)")
                    guard case let .ciphered(inner) = aarq.userInformation else {
                        Issue.record("\(name): the AARQ's InitiateRequest is not ciphered")
                        continue
                    }
                    ciphered = inner
                    meter.peerSystemTitle = aarq.callingAPTitle
                }
                #expect(hex(ciphered) == (try text(step, "ciphered")), "\(name) \(what): the ciphered APDU on the wire")
                let deciphered = try meter.unprotected(ciphered)
                #expect(deciphered == plain, "\(name) \(what): deciphered")
                // And the plaintext is an APDU this code decodes and re-encodes alike.
                switch what {
                case "aarq":
                    var r = ByteReader(deciphered)
                    let initiate = try InitiateRequest.decode(from: &r)
                    #expect((initiate.dedicatedKey != nil) == dedicated, "\(name): dedicated key")
                    var again: [UInt8] = []
                    initiate.encode(into: &again)
                    #expect(again == plain, "\(name): InitiateRequest re-encoded")
                case "hls-pass3":
                    let action = try ActionRequest.decode(deciphered)
                    #expect(action.encode() == plain, "\(name): pass 3 re-encoded")
                    guard case let .octetString(f)? = action.parameters else {
                        Issue.record("\(name): pass 3 without f(StoC)")
                        continue
                    }
                    // gurux's f(StoC) verifies as the client's proof of the keys.
                    try HLSGMAC.verify(f, challenge: material.stoc, engine: meter.engine, keys: material.keys,
                                       systemTitle: material.client)
                default:
                    #expect(try GetRequest.decode(deciphered).encode() == plain, "\(name) \(what): GET re-encoded")
                }
            }
        }
    }

    @Test("this code ciphers gurux's plaintexts to gurux's bytes, and gurux deciphers them")
    func usToGurux() throws {
        let doc = try GuruxSecurityVectors.get()
        let material = try GuruxSecurityMaterial(doc)
        var checks: [String] = []
        var expected: [(name: String, plain: String, ours: String)] = []
        for c in try list(doc, "cases") {
            let name = try text(c, "name")
            let dedicated = c["dedicated"]?.bool == true
            let general = c["general"]?.bool == true
            let sc = SecurityControl(rawValue: UInt8(try field(c, "sc")))
            var client = CipheringContext(engine: try OpenSSLGCM(), keys: material.keys(dedicated: dedicated),
                                          policy: CipheringPolicy(security: sc, preferGeneral: true, useDedicatedKey: true),
                                          ownSystemTitle: material.client, peerSystemTitle: material.server,
                                          counter: InvocationCounter(next: UInt32(try field(doc["keys"] ?? .null,
                                                                                            "firstInvocationCounter"))))
            client.generalProtectionGranted = general
            for step in try list(c, "steps") {
                let what = try text(step, "what")
                let plain = bytes(hex: try text(step, "plain"))
                let ours: [UInt8]
                switch what {
                case "aarq":
                    ours = try client.protect(plain, form: client.form(associated: false))
                    // The whole AARQ as gurux builds it.
                    let auth: Authentication = try text(c, "authentication") == "gmac"
                        ? .highLevelGMAC(challenge: Array("ABCDEFGH".utf8)) : .lowLevel(password: Array("12345678".utf8))
                    let aarq = AARQ(callingAPTitle: material.client, authentication: auth, cipheredInitiateRequest: ours)
                    let theirs = try apduOfFrames(try list(step, "frames").compactMap { $0.string },
                                                  interface: try text(c, "interface"))
                    #expect(hex(aarq.encode()) == hex(theirs), "\(name): AARQ encoded as gurux does")
                case "hls-pass3":
                    let action = try ActionRequest.decode(plain)
                    ours = try client.hlsPass3(serverChallenge: material.stoc, invoke: action.invoke)
                default:
                    ours = try client.protect(plain)
                }
                #expect(hex(ours) == (try text(step, "ciphered")), "\(name) \(what): ciphered like gurux")
                let apdu = try CipheredAPDU.parse(ours)
                checks.append("\(hex([sc.rawValue])) \(apdu.invocationCounter) \(material.client) "
                    + "\(apdu.isDedicated ? 1 : 0) \(hex(ours))")
                expected.append((name + " " + what, hex(plain), hex(ours)))
            }
        }
        let input = Data((checks.joined(separator: "\n") + "\n").utf8)
        let output = try GuruxVectors.runGenerator(arguments: ["--check-our-apdus"], input: input,
                                                   script: "gurux_security_vectors.py")
        let answers = try String(decoding: output, as: UTF8.self).split(separator: "\n")
            .map { try JSONDecoder().decode(JSON.self, from: Data($0.utf8)) }
        try #require(answers.count == expected.count)
        for (answer, want) in zip(answers, expected) {
            #expect(answer["error"] == nil, "\(want.name): gurux refused our APDU: \(answer)")
            #expect(answer["plain"]?.string == want.plain, "\(want.name): gurux deciphers our APDU")
            #expect(answer["reencrypted"]?.string == want.ours, "\(want.name): gurux ciphers it to our bytes")
        }
    }
}
