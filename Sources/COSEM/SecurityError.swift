// What can go wrong with a protected APDU. Each of these is a fault of the meter link (counted and logged by
// the session), never data: a reading is only ever taken from an APDU whose protection checked out.

/// Which key a message is about, named the way the configuration names it.
public enum KeyRole: UInt8, Hashable, Sendable, CustomStringConvertible {
    /// The global unicast encryption key (EK).
    case encryption
    /// The authentication key (AK), part of every AAD.
    case authentication
    /// The dedicated key the client proposed in the AARQ.
    case dedicated
    /// The global broadcast key (not held by this agent).
    case broadcast

    public var description: String {
        switch self {
        case .encryption: return "the encryption key (DLMS_EK)"
        case .authentication: return "the authentication key (DLMS_AK)"
        case .dedicated: return "the dedicated key of this association"
        case .broadcast: return "the broadcast key"
        }
    }
}

/// A security failure of suite 0 ciphering or of HLS-GMAC authentication.
///
/// `description` says what happened and what the operator should check.
public enum SecurityError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The 12-byte authentication tag of a received APDU does not verify under the configured keys.
    case tagMismatch(apduTag: UInt8, invocationCounter: UInt32, key: KeyRole)
    /// A received invocation counter is not above the last one accepted from this sender (a replay).
    case replayedCounter(received: UInt32, lastAccepted: UInt32)
    /// The sending invocation counter reached its end (2^32 - 1): the key must be changed.
    case counterExhausted
    /// The sending counter reached the end of the range persisted ahead of use; persist a new lease first.
    case counterLeaseExhausted(next: UInt32, leasedUpTo: UInt32)
    /// A received APDU needs a key this side does not hold.
    case missingKey(KeyRole)
    /// The sender's system title is needed to decipher (it forms the IV) and is not known.
    case missingSystemTitle
    /// A received APDU is protected less than the association requires (or not at all).
    case protectionTooWeak(required: SecurityControl, received: SecurityControl?)
    /// A security suite other than 0 (AES-GCM-128).
    case unsupportedSuite(SecurityControl)
    /// Compressed APDUs (SC bit 0x80) are not supported.
    case compressionUnsupported
    /// An HLS challenge outside 8...64 bytes.
    case invalidChallengeLength(Int)
    /// HLS-GMAC pass 4: the meter's answer to our challenge does not verify.
    case meterAuthenticationFailed
    /// HLS-GMAC pass 4: the meter answered the ACTION with an error, or with no f(CtoS).
    case meterRefusedAuthentication(String)
    /// The AES-GCM implementation failed (it names the library call).
    case cipherFailure(String)

    public var description: String {
        switch self {
        case let .tagMismatch(apduTag, counter, key):
            return "the authentication tag of a ciphered APDU (0x\(hex(apduTag)), invocation counter \(counter), "
                + "ciphered with \(key)) does not verify: check DLMS_AK and DLMS_EK and the system titles; the APDU "
                + "is dropped, never read"
        case let .replayedCounter(received, last):
            return "invocation counter \(received) is not above the last accepted \(last): a replayed or duplicated "
                + "APDU (or the meter's counter was reset); it was dropped, not read"
        case .counterExhausted:
            return "the invocation counter reached its maximum: the meter's keys must be changed before ciphering "
                + "can continue"
        case let .counterLeaseExhausted(next, leasedUpTo):
            return "invocation counter \(next) is beyond the persisted lease (up to \(leasedUpTo)): persist a new "
                + "lease before sending (a counter must never be reused, even after a power cut)"
        case let .missingKey(role):
            return "a ciphered APDU needs \(role), which is not configured: set it, or disable that ciphering on the meter"
        case .missingSystemTitle:
            return "the sender's system title is unknown (the meter sent none in the AARE or in the APDU): "
                + "configure the meter's system title"
        case let .protectionTooWeak(required, received):
            let got = received.map { "SC " + $0.description } ?? "no protection at all"
            return "the meter answered with \(got) where the association requires SC \(required.description): "
                + "dropped; check the meter's security policy"
        case let .unsupportedSuite(sc):
            return "security suite \(sc.suite) (SC \(sc.description)) is not supported: configure suite 0 (AES-GCM-128) "
                + "on the meter"
        case .compressionUnsupported:
            return "the meter compresses its ciphered APDUs (SC bit 0x80), which this agent does not support: "
                + "disable compression on the meter"
        case let .invalidChallengeLength(n):
            return "an HLS challenge of \(n) bytes (must be 8 to 64): the AARE is malformed"
        case .meterAuthenticationFailed:
            return "the meter's answer to our HLS-GMAC challenge does not verify: either DLMS_EK/DLMS_AK are wrong or "
                + "the device is not the meter it claims to be (its system title); the association was not used"
        case let .meterRefusedAuthentication(why):
            return "the meter refused HLS-GMAC pass 3 (\(why)): check DLMS_EK, DLMS_AK and the client system title"
        case let .cipherFailure(call):
            return "the AES-GCM implementation failed (\(call)): the crypto library is broken or out of memory"
        }
    }
}
