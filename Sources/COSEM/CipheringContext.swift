// The ciphering state of one association, on either side: keys, both system titles, the sending counter and
// the replay guard, and the policy every received APDU must meet. Sans-I/O: bytes in, bytes out; the caller
// persists the counter lease and counts the faults this throws.

/// What an association's ciphering requires and uses.
public struct CipheringPolicy: Hashable, Sendable, CustomStringConvertible {
    /// The SC this side sends, and the least protection it accepts (`0x30` authenticated and encrypted).
    public var security: SecurityControl
    /// Send general-glo/ded-ciphering (`DB`/`DC`) instead of the service-specific tags. Gurux's rule: general
    /// forms once general-protection is granted, service-specific before that (see `form(granted:)`).
    public var preferGeneral: Bool
    /// Protect services with the dedicated key (when one was agreed in the AARQ).
    public var useDedicatedKey: Bool

    public init(security: SecurityControl = .authenticatedEncrypted, preferGeneral: Bool = true,
                useDedicatedKey: Bool = false) {
        self.security = security
        self.preferGeneral = preferGeneral
        self.useDedicatedKey = useDedicatedKey
    }

    public var description: String {
        "SC \(security)" + (preferGeneral ? ", general ciphering when granted" : ", service-specific ciphering")
            + (useDedicatedKey ? ", dedicated key" : "")
    }
}

/// The ciphering state of one association. `Engine` is the AES-GCM implementation (a generic parameter:
/// no existential, so this compiles in Embedded Swift and specialises).
public struct CipheringContext<Engine: AESGCMEngine> {
    public let engine: Engine
    public var keys: SecurityKeys
    public var policy: CipheringPolicy
    /// This side's system title (the IV of everything it sends).
    public let ownSystemTitle: SystemTitle
    /// The peer's system title (the IV of everything it sends): configured, or learned from the AARE/AARQ.
    public var peerSystemTitle: SystemTitle?
    /// This side's sending counter.
    public var counter: InvocationCounter
    /// The peer's counters: each must increase.
    public var replayGuard: ReplayGuard
    /// Whether the association granted general-protection (then the general forms are used).
    public var generalProtectionGranted: Bool = false

    public init(engine: Engine, keys: SecurityKeys, policy: CipheringPolicy, ownSystemTitle: SystemTitle,
                peerSystemTitle: SystemTitle? = nil, counter: InvocationCounter, replayGuard: ReplayGuard = ReplayGuard()) {
        self.engine = engine
        self.keys = keys
        self.policy = policy
        self.ownSystemTitle = ownSystemTitle
        self.peerSystemTitle = peerSystemTitle
        self.counter = counter
        self.replayGuard = replayGuard
    }

    /// The form the next request takes: service-specific glo- before the association is open (HLS pass 3,
    /// initiate requests) and whenever general-protection was not granted; general when it was.
    public func form(associated: Bool = true) -> CipheringForm {
        let dedicated = policy.useDedicatedKey && keys.dedicated != nil && associated
        return CipheringForm(general: associated && policy.preferGeneral && generalProtectionGranted,
                             dedicated: dedicated)
    }

    /// Protects a plain APDU with the next invocation counter (the counter moves even when the engine fails
    /// afterwards: a value handed out is never used again).
    public mutating func protect(_ plain: [UInt8], form: CipheringForm? = nil) throws(COSEMError) -> [UInt8] {
        let ic: UInt32
        do { ic = try counter.take() } catch { throw COSEMError.security(error) }
        return try Suite0.protect(plain, engine: engine, keys: keys, security: policy.security,
                                  form: form ?? self.form(), systemTitle: ownSystemTitle, invocationCounter: ic)
    }

    /// Deciphers a received ciphered APDU in place: parses it, checks the policy (its SC gives at least the
    /// protection required) and the replay guard, verifies the tag, and only then records its counter.
    /// Returns where the plain APDU lies in `bytes`. A plain APDU where ciphering is required throws
    /// `.security(.protectionTooWeak)`, never returns data.
    public mutating func unprotect(_ bytes: inout [UInt8]) throws(COSEMError) -> Deciphered {
        guard let first = bytes.first else {
            throw COSEMError.truncated(at: 0, needed: 1, remaining: 0, what: "a ciphered APDU")
        }
        guard CipheringTags.isCiphered(first) else {
            throw COSEMError.security(.protectionTooWeak(required: policy.security, received: nil))
        }
        let apdu = try CipheredAPDU.parse(bytes)
        if apdu.end < bytes.count { throw COSEMError.trailingBytes(at: apdu.end, count: bytes.count - apdu.end) }
        guard apdu.security.satisfies(policy.security) else {
            throw COSEMError.security(.protectionTooWeak(required: policy.security, received: apdu.security))
        }
        do { try replayGuard.check(apdu.invocationCounter) } catch { throw COSEMError.security(error) }
        if peerSystemTitle == nil, let title = apdu.systemTitle { peerSystemTitle = title }
        let plaintext = try Suite0.decipher(&bytes, apdu, engine: engine, keys: keys, senderTitle: peerSystemTitle)
        replayGuard.accept(apdu.invocationCounter)
        return Deciphered(apdu: apdu, plaintext: plaintext)
    }

    /// `unprotect`, returning the plain APDU as its own array (for code off the hot path).
    public mutating func unprotected(_ bytes: [UInt8]) throws(COSEMError) -> [UInt8] {
        var copy = bytes
        let result = try unprotect(&copy)
        return Array(copy[result.plaintext])
    }
}
