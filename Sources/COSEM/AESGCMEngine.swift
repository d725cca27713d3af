// The seam between the protocol core and the block cipher. COSEM decides what is encrypted, with which
// key, IV and AAD; an engine (OpenSSL's EVP in DLMSCrypto, anything else in a test) does AES-128-GCM.
// Callers take the engine as a generic parameter (`<Engine: AESGCMEngine>`), never as `any AESGCMEngine`:
// Embedded Swift has no existentials of non-class protocols, and specialisation keeps the hot path direct.

/// AES-128-GCM, as suite 0 uses it: 12-byte IV, the AAD in two parts (`aad` then `aadTail`, so that
/// `SC || AK || plaintext` needs no concatenated copy), text encrypted or decrypted in place, and a tag
/// truncated to `tag.count` bytes (12 in DLMS; 0 means no tag at all: plain AES-CTR, SC `0x20`).
public protocol AESGCMEngine {
    /// Encrypts `text` in place and writes the first `tag.count` bytes of the GCM tag into `tag`.
    func seal(key: SecurityKey, iv: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer,
              aadTail: UnsafeRawBufferPointer, text: UnsafeMutableRawBufferPointer,
              tag: UnsafeMutableRawBufferPointer) throws(SecurityError)

    /// Decrypts `text` in place and returns whether the first `tag.count` bytes of the GCM tag equal `tag`
    /// (true when `tag` is empty). On false the caller must discard `text`.
    func open(key: SecurityKey, iv: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer,
              aadTail: UnsafeRawBufferPointer, text: UnsafeMutableRawBufferPointer,
              tag: UnsafeRawBufferPointer) throws(SecurityError) -> Bool
}

/// Suite 0's initialisation vector: the sender's system title then the invocation counter (12 bytes).
@inline(__always)
func withInitializationVector<R>(_ title: SystemTitle, _ counter: UInt32,
                                 _ body: (UnsafeRawBufferPointer) throws(SecurityError) -> R) throws(SecurityError) -> R {
    var scratch: (UInt64, UInt32) = (0, 0)
    return try withUnsafeMutableBytes(of: &scratch) { (raw) throws(SecurityError) -> R in
        title.write(into: raw, at: 0)
        raw[8] = UInt8(truncatingIfNeeded: counter >> 24)
        raw[9] = UInt8(truncatingIfNeeded: counter >> 16)
        raw[10] = UInt8(truncatingIfNeeded: counter >> 8)
        raw[11] = UInt8(truncatingIfNeeded: counter)
        return try body(UnsafeRawBufferPointer(rebasing: raw[0..<12]))
    }
}

/// Suite 0's fixed AAD head `SC || AK` (17 bytes; the plaintext or an HLS challenge may follow as the tail).
@inline(__always)
func withAADHead<R>(_ sc: UInt8, _ authenticationKey: SecurityKey,
                    _ body: (UnsafeRawBufferPointer) throws(SecurityError) -> R) throws(SecurityError) -> R {
    var scratch: (UInt64, UInt64, UInt64) = (0, 0, 0)
    return try withUnsafeMutableBytes(of: &scratch) { (raw) throws(SecurityError) -> R in
        raw[0] = sc
        authenticationKey.withUnsafeBytes { key in
            for i in 0..<16 { raw[1 + i] = key[i] }
        }
        return try body(UnsafeRawBufferPointer(rebasing: raw[0..<17]))
    }
}
