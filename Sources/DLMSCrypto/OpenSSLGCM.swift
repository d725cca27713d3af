// The AES-GCM engine of the agent: OpenSSL's EVP AES-128-GCM (libcrypto, already linked for TLS) behind
// COSEM's `AESGCMEngine` seam. Its own module, not part of COSEM (which imports nothing and stays pure) nor of
// MeterLink (so that `decode`, the simulator and the tests use it without the meter link).
import COSEM
import COpenSSL

/// AES-128-GCM through one reusable OpenSSL context.
///
/// Not thread-safe: an `EVP_CIPHER_CTX` holds the state of one operation. Give each meter thread its own
/// engine (it is cheap: one context, created once, no allocation per APDU).
public final class OpenSSLGCM: AESGCMEngine {
    let context: OpaquePointer
    /// The key the context was last initialised with: the key schedule is set up again only when the key
    /// changes (it is ~40 % of the cost of one APDU otherwise).
    var scheduledKey: SecurityKey?

    /// Creates the context; throws when OpenSSL cannot (out of memory, or AES-128-GCM unavailable).
    public init() throws(SecurityError) {
        guard let context = dlms_gcm_new() else {
            throw SecurityError.cipherFailure("EVP_CipherInit_ex(EVP_aes_128_gcm) failed")
        }
        self.context = context
    }

    deinit {
        dlms_gcm_free(context)
    }

    public func seal(key: SecurityKey, iv: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer,
                     aadTail: UnsafeRawBufferPointer, text: UnsafeMutableRawBufferPointer,
                     tag: UnsafeMutableRawBufferPointer) throws(SecurityError) {
        let status = run(encrypt: true, key: key, iv: iv, aad: aad, aadTail: aadTail, text: text,
                         tag: tag.baseAddress, tagCount: tag.count)
        guard status == 1 else { throw failure(status) }
    }

    public func open(key: SecurityKey, iv: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer,
                     aadTail: UnsafeRawBufferPointer, text: UnsafeMutableRawBufferPointer,
                     tag: UnsafeRawBufferPointer) throws(SecurityError) -> Bool {
        // OpenSSL takes the expected tag through a non-const pointer but only reads it.
        let status = run(encrypt: false, key: key, iv: iv, aad: aad, aadTail: aadTail, text: text,
                         tag: tag.baseAddress.map { UnsafeMutableRawPointer(mutating: $0) }, tagCount: tag.count)
        if status < 0 { throw failure(status) }
        return status == 1
    }

    @inline(__always)
    func run(encrypt: Bool, key: SecurityKey, iv: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer,
             aadTail: UnsafeRawBufferPointer, text: UnsafeMutableRawBufferPointer, tag: UnsafeMutableRawPointer?,
             tagCount: Int) -> Int32 {
        guard iv.count == 12 else { return -100 }
        let reuse = scheduledKey == key
        // Forget the key first: a failure half-way must not leave a stale schedule marked as valid.
        scheduledKey = nil
        let status = key.withUnsafeBytes { keyBytes in
            dlms_gcm_run(context, encrypt ? 1 : 0,
                         reuse ? nil : keyBytes.baseAddress?.assumingMemoryBound(to: UInt8.self),
                         iv.baseAddress?.assumingMemoryBound(to: UInt8.self),
                         aad.baseAddress?.assumingMemoryBound(to: UInt8.self), aad.count,
                         aadTail.baseAddress?.assumingMemoryBound(to: UInt8.self), aadTail.count,
                         text.baseAddress?.assumingMemoryBound(to: UInt8.self), text.count,
                         tag?.assumingMemoryBound(to: UInt8.self), tagCount)
        }
        if status >= 0 { scheduledKey = key }
        return status
    }

    /// Names the step of the EVP sequence that failed (see COpenSSL/shim.h).
    func failure(_ status: Int32) -> SecurityError {
        switch status {
        case -100: return .cipherFailure("the IV is not 12 bytes")
        case -1: return .cipherFailure("a length beyond OpenSSL's int, or a tag over 16 bytes")
        case -2: return .cipherFailure("EVP_CipherInit_ex (key and IV)")
        case -3, -4: return .cipherFailure("EVP_CipherUpdate (AAD)")
        case -5: return .cipherFailure("EVP_CipherUpdate (text)")
        case -6: return .cipherFailure("EVP_CipherFinal_ex")
        case -7: return .cipherFailure("EVP_CIPHER_CTX_ctrl(EVP_CTRL_GCM_GET_TAG)")
        case -8: return .cipherFailure("EVP_CIPHER_CTX_ctrl(EVP_CTRL_GCM_SET_TAG)")
        default: return .cipherFailure("dlms_gcm_run returned \(status)")
        }
    }
}
