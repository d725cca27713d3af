// Instructions to decipher, verify and decode a ciphered GET-Response of one register (security-facts.md
// vector 5: `CC 1A 30 00000001 ...` -> double-long-unsigned 1234), OpenSSL's AES-128-GCM included.
// Built and counted by Benchmarks/callgrind-decipher.sh; `main N` runs the operation N times.
import COSEM
import DLMSCrypto

let wire: [UInt8] = [
    0xCC, 0x1A, 0x30, 0x00, 0x00, 0x00, 0x01, 0x5C, 0x44, 0x6A, 0x0E, 0x57, 0x56, 0x6A, 0xCC, 0x0D,
    0xE8, 0x66, 0xC7, 0xE2, 0xCB, 0x5A, 0x5C, 0x29, 0xEC, 0x10, 0x3D, 0xAA,
]

@inline(never)
func benchOpaque<T>(_ value: T) -> T { value }

/// One operation: the received bytes are copied into the session's own buffer (no allocation: it is
/// uniquely referenced), deciphered in place, the tag verified, the counter checked, the value decoded.
@inline(never)
func benchDecipherGetResponseOnce(_ context: inout CipheringContext<OpenSSLGCM>, _ buffer: inout [UInt8]) -> UInt64 {
    // A fresh guard per call: the same vector is replayed on purpose here.
    context.replayGuard = ReplayGuard()
    buffer.withUnsafeMutableBytes { raw in
        for i in 0..<wire.count { raw[i] = wire[i] }
    }
    guard let result = try? context.unprotect(&buffer) else { return 0 }
    var reader = ByteReader(buffer, range: result.plaintext)
    guard case let .normal(_, .data(.doubleLongUnsigned(value)))? = try? GetResponse.decode(from: &reader) else {
        return 0
    }
    return UInt64(value)
}

let iterations = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 1 : 1
let keys = SecurityKeys(
    encryption: SecurityKey(bytes: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])!,
    authentication: SecurityKey(bytes: [0xD0, 0xD1, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7,
                                        0xD8, 0xD9, 0xDA, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF])!)
var context = CipheringContext(engine: try! OpenSSLGCM(), keys: keys, policy: CipheringPolicy(),
                               ownSystemTitle: SystemTitle(rawValue: 0x4D4D_4D00_00BC_614E),
                               peerSystemTitle: SystemTitle(rawValue: 0x4D4D_4D00_0000_0001),
                               counter: InvocationCounter(next: 1))
var buffer = [UInt8](repeating: 0, count: wire.count)
var sink: UInt64 = 0
for _ in 0..<iterations { sink &+= benchDecipherGetResponseOnce(&context, &buffer) }
precondition(sink == UInt64(iterations) * 1234, "deciphering failed")
print(sink)
