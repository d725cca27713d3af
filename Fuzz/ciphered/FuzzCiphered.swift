// libFuzzer entry for the ciphered APDU decoder (CipheredAPDU.parse), the suite 0 receive path
// (CipheringContext.unprotect: policy, replay guard, decipher in place) and the ciphered AARQ/AARE fields.
// Compiled together with Sources/COSEM into one module (`make fuzz-ciphered`, mk/fuzz.mk).
//
// The AES-GCM behind the seam is a toy here, on purpose: with real AES the fuzzer would never forge a tag, so
// the code after a verified tag (plaintext ranges, the replay guard's update) would never run. The toy's "tag"
// is a checksum the fuzzer can hit. AES itself is OpenSSL's, checked by the golden vectors and gurux.

/// Keystream = key ^ IV bytes; tag = a running checksum of AAD and ciphertext. Not cryptography.
struct ToyGCM: AESGCMEngine {
    func keystream(_ key: SecurityKey, _ iv: UnsafeRawBufferPointer, _ i: Int) -> UInt8 {
        key.withUnsafeBytes { k in k[i % 16] ^ iv[i % 12] ^ UInt8(truncatingIfNeeded: i) }
    }

    func checksum(_ parts: [UnsafeRawBufferPointer], into tag: UnsafeMutableRawBufferPointer) {
        var state: UInt32 = 0x811C_9DC5
        for part in parts { for b in part { state = (state ^ UInt32(b)) &* 0x0100_0193 } }
        for j in 0..<tag.count { tag[j] = UInt8(truncatingIfNeeded: state >> UInt32(8 * (j % 4))) ^ UInt8(j) }
    }

    func seal(key: SecurityKey, iv: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer,
              aadTail: UnsafeRawBufferPointer, text: UnsafeMutableRawBufferPointer,
              tag: UnsafeMutableRawBufferPointer) throws(SecurityError) {
        for i in 0..<text.count { text[i] ^= keystream(key, iv, i) }
        checksum([aad, aadTail, UnsafeRawBufferPointer(text)], into: tag)
    }

    func open(key: SecurityKey, iv: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer,
              aadTail: UnsafeRawBufferPointer, text: UnsafeMutableRawBufferPointer,
              tag: UnsafeRawBufferPointer) throws(SecurityError) -> Bool {
        var expected: (UInt64, UInt64) = (0, 0)
        let ok = withUnsafeMutableBytes(of: &expected) { raw -> Bool in
            let want = UnsafeMutableRawBufferPointer(rebasing: raw[0..<Swift.min(16, tag.count)])
            checksum([aad, aadTail, UnsafeRawBufferPointer(text)], into: want)
            return want.elementsEqual(tag)
        }
        for i in 0..<text.count { text[i] ^= keystream(key, iv, i) }
        return ok
    }
}

let keys = SecurityKeys(encryption: SecurityKey(bytes: Array(0..<16))!,
                        authentication: SecurityKey(bytes: Array(0xD0..<0xE0))!,
                        dedicated: SecurityKey(bytes: Array(0x40..<0x50))!)
let clientTitle = SystemTitle(rawValue: 0x4D4D_4D00_00BC_614E)
let meterTitle = SystemTitle(rawValue: 0x4D4D_4D00_0000_0001)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCiphered(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))

    // The layout parser: every range it reports lies inside the input and fits the SC.
    if let apdu = try? CipheredAPDU.parse(bytes) {
        precondition(apdu.end <= bytes.count && apdu.text.lowerBound >= 0, "ciphered APDU beyond the input")
        precondition(apdu.text.upperBound == apdu.authenticationTag.lowerBound && apdu.authenticationTag.upperBound == apdu.end,
                     "ciphered APDU parts do not tile")
        precondition(apdu.authenticationTag.count == apdu.security.tagLength, "tag length does not follow the SC")
        _ = apdu.description
    }

    // The receive path, under each policy: data only with a verified tag; the same bytes twice are a replay.
    for policy in [SecurityControl.authenticated, .encrypted, .authenticatedEncrypted] {
        var context = CipheringContext(engine: ToyGCM(), keys: keys, policy: CipheringPolicy(security: policy),
                                       ownSystemTitle: clientTitle, peerSystemTitle: meterTitle,
                                       counter: InvocationCounter(next: 1))
        var copy = bytes
        do {
            let result = try context.unprotect(&copy)
            precondition(result.plaintext.upperBound <= copy.count, "plaintext beyond the buffer")
            precondition(result.apdu.security.satisfies(policy), "accepted a weaker SC than required")
            var again = bytes
            do {
                _ = try context.unprotect(&again)
                preconditionFailure("the same APDU was accepted twice")
            } catch {
                guard case .security(.replayedCounter) = error else { preconditionFailure("replay not detected: \(error)") }
            }
        } catch {
            _ = error.description
        }
    }

    // Round trip: the input as a plain APDU, ciphered by one side and deciphered by the other.
    let form = CipheringForm(general: bytes[0] & 1 != 0, dedicated: bytes[0] & 2 != 0)
    let sc = SecurityControl(rawValue: [0x10, 0x20, 0x30][Int(bytes[0] >> 2) % 3])
    var plain = bytes
    plain[0] = [0xC0, 0xC4, 0xC3, 0xC7, 0x01, 0x08][Int(bytes[0] >> 4) % 6]
    var sender = CipheringContext(engine: ToyGCM(), keys: keys, policy: CipheringPolicy(security: sc),
                                  ownSystemTitle: clientTitle, counter: InvocationCounter(next: UInt32(size)))
    var receiver = CipheringContext(engine: ToyGCM(), keys: keys, policy: CipheringPolicy(security: sc),
                                    ownSystemTitle: meterTitle, peerSystemTitle: clientTitle,
                                    counter: InvocationCounter(next: 1))
    do {
        let wire = try sender.protect(plain, form: form)
        let back = try receiver.unprotected(wire)
        precondition(back == plain, "round trip changed the APDU")
    } catch {
        preconditionFailure("round trip failed: \(error)")
    }

    // The association APDUs with their ciphered fields.
    if let aarq = try? AARQ.decode(bytes) { precondition((try? AARQ.decode(aarq.encode())) == aarq, "AARQ changed") }
    if let aare = try? AARE.decode(bytes) { precondition((try? AARE.decode(aare.encode())) == aare, "AARE changed") }
    if let action = try? ActionResponse.decode(bytes) {
        precondition((try? ActionResponse.decode(action.encode())) == action, "ACTION-Response changed")
    }
    if let action = try? ActionRequest.decode(bytes) {
        precondition((try? ActionRequest.decode(action.encode())) == action, "ACTION-Request changed")
    }
    return 0
}
