// The vocabulary of DLMS security suite 0 (IEC 62056-5-3 §5.3, Green Book "security"): the security
// control byte, system titles and 128-bit keys. Plain values, no crypto: the AES-GCM itself sits behind
// `AESGCMEngine` so this module stays free of C and of any library.

/// The security control byte (SC) that opens every security header:
/// bits 0-3 security suite, `0x10` authentication, `0x20` encryption, `0x40` broadcast key, `0x80` compression.
public struct SecurityControl: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Suite 0, authenticated only (`0x10`): the APDU travels in clear with a 12-byte tag.
    public static let authenticated = SecurityControl(rawValue: 0x10)
    /// Suite 0, encrypted only (`0x20`): no tag, no authenticity.
    public static let encrypted = SecurityControl(rawValue: 0x20)
    /// Suite 0, authenticated and encrypted (`0x30`).
    public static let authenticatedEncrypted = SecurityControl(rawValue: 0x30)

    public init(authentication: Bool, encryption: Bool, suite: UInt8 = 0, broadcastKey: Bool = false) {
        rawValue = (suite & 0x0F) | (authentication ? 0x10 : 0) | (encryption ? 0x20 : 0) | (broadcastKey ? 0x40 : 0)
    }

    /// The security suite id (0 = AES-GCM-128; this agent implements suite 0 only).
    public var suite: UInt8 { rawValue & 0x0F }
    public var isAuthenticated: Bool { rawValue & 0x10 != 0 }
    public var isEncrypted: Bool { rawValue & 0x20 != 0 }
    /// The broadcast key was used instead of the unicast one.
    public var usesBroadcastKey: Bool { rawValue & 0x40 != 0 }
    public var isCompressed: Bool { rawValue & 0x80 != 0 }
    /// Bytes of authentication tag that follow the ciphertext (12 when authenticated, else none).
    public var tagLength: Int { isAuthenticated ? 12 : 0 }

    /// True when this SC gives at least the protection `required` asks for (authentication and encryption).
    public func satisfies(_ required: SecurityControl) -> Bool {
        (!required.isAuthenticated || isAuthenticated) && (!required.isEncrypted || isEncrypted)
    }

    /// `0x30 (suite 0, authenticated, encrypted)`.
    public var description: String {
        var parts = ["suite \(suite)"]
        if isAuthenticated { parts.append("authenticated") }
        if isEncrypted { parts.append("encrypted") }
        if !isAuthenticated && !isEncrypted { parts.append("no protection") }
        if usesBroadcastKey { parts.append("broadcast key") }
        if isCompressed { parts.append("compressed") }
        return "0x" + hex(rawValue) + " (" + parts.joined(separator: ", ") + ")"
    }
}

/// An 8-byte system title: the sender's half of every GCM initialisation vector (title || invocation counter).
/// Conventionally 3 letters of manufacturer id then 5 bytes of serial (`4D4D4D0000BC614E`).
public struct SystemTitle: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The 8 bytes, first byte in the most significant position.
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// From exactly 8 bytes; nil otherwise.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 8 else { return nil }
        var v: UInt64 = 0
        for b in bytes { v = v << 8 | UInt64(b) }
        rawValue = v
    }

    /// From 16 hex digits (spaces allowed); nil otherwise.
    public init?(hex text: String) {
        guard let bytes = parseHexBytes(text), let title = SystemTitle(bytes: bytes) else { return nil }
        self = title
    }

    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(8)
        out.appendU64(rawValue)
        return out
    }

    /// Writes the 8 bytes at `offset` (big-endian).
    @inline(__always)
    func write(into raw: UnsafeMutableRawBufferPointer, at offset: Int) {
        for i in 0..<8 { raw[offset + i] = UInt8(truncatingIfNeeded: rawValue >> UInt64(56 - 8 * i)) }
    }

    /// 16 upper-case hex digits. A system title is an identifier, not a secret.
    public var description: String { compactHex(bytes) }
}

/// A 128-bit AES key (the global unicast encryption key EK, the authentication key AK, a dedicated key).
///
/// Keys are secrets: `description` never shows a single bit of the key, only that one is set.
public struct SecurityKey: Hashable, Sendable, CustomStringConvertible {
    // Two big-endian halves: no heap storage, so using a key allocates nothing.
    @usableFromInline var high: UInt64
    @usableFromInline var low: UInt64

    /// From exactly 16 bytes; nil otherwise.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 16 else { return nil }
        var h: UInt64 = 0, l: UInt64 = 0
        for i in 0..<8 { h = h << 8 | UInt64(bytes[i]) }
        for i in 8..<16 { l = l << 8 | UInt64(bytes[i]) }
        high = h
        low = l
    }

    /// From 32 hex digits (spaces allowed); nil otherwise. The error message of a caller must not echo the text.
    public init?(hex text: String) {
        guard let bytes = parseHexBytes(text), let key = SecurityKey(bytes: bytes) else { return nil }
        self = key
    }

    /// The 16 key bytes, for code that must hand them on (a dedicated key inside an InitiateRequest).
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(16)
        out.appendU64(high)
        out.appendU64(low)
        return out
    }

    /// Calls `body` with the 16 key bytes in stack memory (no copy on the heap).
    @inlinable
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        var halves = (high.bigEndian, low.bigEndian)
        return Swift.withUnsafeBytes(of: &halves) { body($0) }
    }

    /// Always `16-byte key (hidden)`: a key must never reach a log.
    public var description: String { "16-byte key (hidden)" }
}

/// Parses hex digits with optional spaces (`00 01 0A`); nil on any other character or an odd count.
func parseHexBytes(_ text: String) -> [UInt8]? {
    var out: [UInt8] = []
    var pending: UInt8? = nil
    for ch in text.utf8 {
        if ch == 0x20 || ch == 0x3A { continue }
        guard let v = hexValue(ch) else { return nil }
        if let p = pending { out.append(p << 4 | v); pending = nil } else { pending = v }
    }
    return pending == nil ? out : nil
}

/// Upper-case hex of `bytes` without separators (`4D4D4D0000BC614E`), as security-facts and meter tools write them.
func compactHex(_ bytes: [UInt8]) -> String {
    var text = ""
    text.reserveCapacity(bytes.count * 2)
    for b in bytes { text += hex(b) }
    return text
}
