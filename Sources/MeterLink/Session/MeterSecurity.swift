import CLibc
import Platform
import COSEM

// What a meter needs when its management client is secured (DLMS security suite 0): which protection, which
// authentication, the keys, the client's system title, and where the sending invocation counter is leased.

/// How the client authenticates to a secured meter (`DLMS_AUTH`).
public enum SecureAuthentication: String, Sendable, Hashable, CaseIterable {
    /// No authentication in the AARQ (the meter's policy lets ciphering alone open the association).
    case none
    /// Low-level security: the password (`DLMS_PASSWORD`) in the AARQ.
    case lls
    /// High-level security with GMAC (mechanism 5): challenges both ways, proven with the keys.
    case hlsGMAC = "hls-gmac"
}

/// The security settings of one meter. Keys never print (`SecurityKey.description` is masked).
public struct MeterSecurity: Sendable, Hashable {
    /// The protection every APDU gets and every reply must have (`0x10`, `0x20` or `0x30`).
    public var security: SecurityControl
    public var authentication: SecureAuthentication
    /// EK, AK and the optional dedicated key (proposed in the AARQ, then used for the association's APDUs).
    public var keys: SecurityKeys
    /// This client's system title (`DLMS_SYSTEM_TITLE`): half of the IV of everything it sends.
    public var clientSystemTitle: SystemTitle
    /// The meter's frame-counter object, read through the public client before the first association
    /// (`DLMS_FRAME_COUNTER_OBIS`); nil: start from the persisted lease alone.
    public var frameCounter: ObisCode?
    /// How many invocation counters one persisted lease covers. Larger: fewer flash writes; a restart skips
    /// at most this many values (there are 2^32).
    public var leaseBlock: UInt32

    public init(security: SecurityControl, authentication: SecureAuthentication, keys: SecurityKeys,
                clientSystemTitle: SystemTitle, frameCounter: ObisCode? = nil, leaseBlock: UInt32 = 1000) {
        self.security = security
        self.authentication = authentication
        self.keys = keys
        self.clientSystemTitle = clientSystemTitle
        self.frameCounter = frameCounter
        self.leaseBlock = max(4, leaseBlock)
    }

    /// `SC 0x30 (…), HLS-GMAC, client title 4D4D4D0000BC614E`: never a key.
    public var summary: String {
        "SC \(security), \(authentication.rawValue), client title \(clientSystemTitle)"
            + (keys.dedicated != nil ? ", dedicated key" : "")
    }
}

/// Where the sending invocation counter's lease is kept: a value persisted ahead of use, so that no counter
/// is ever sent twice under a key, across restarts, `kill -9` and power cuts. A class protocol, so that the
/// session can hold one as an existential in Embedded Swift.
public protocol InvocationCounterLeaseStore: AnyObject {
    /// The persisted lease end: every counter up to it may have been used. Nil when nothing was stored yet.
    func loadLeaseEnd() throws(MeterError) -> UInt32?
    /// Makes `leaseEnd` durable (written and synced) before any counter up to it is used.
    func storeLeaseEnd(_ leaseEnd: UInt32) throws(MeterError)
}

/// A lease kept in memory only: for tests and tools that read once; a restart does not see it.
public final class InMemoryCounterLease: InvocationCounterLeaseStore {
    public private(set) var leaseEnd: UInt32?
    /// How many times the lease was stored.
    public private(set) var stores = 0

    public init(leaseEnd: UInt32? = nil) { self.leaseEnd = leaseEnd }

    public func loadLeaseEnd() throws(MeterError) -> UInt32? { leaseEnd }

    public func storeLeaseEnd(_ leaseEnd: UInt32) throws(MeterError) {
        self.leaseEnd = leaseEnd
        stores += 1
    }
}

/// Random bytes from the kernel (HLS challenges): /dev/urandom, which never blocks once the system has booted.
public enum SecureRandom {
    public static func bytes(_ count: Int) throws(MeterError) -> [UInt8] {
        let fd = clibc_open("/dev/urandom", O_RDONLY | O_CLOEXEC, 0)
        guard fd >= 0 else {
            throw MeterError(.configuration, "cannot open /dev/urandom for an HLS challenge (errno \(errno))")
        }
        defer { close(fd) }
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = out.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw MeterError(.configuration, "cannot read /dev/urandom for an HLS challenge (errno \(errno))")
            }
            done += n
        }
        return out
    }
}
