// Release request and response (RLRQ `62`, RLRE `63`), BER.

/// A release request (`62`) or response (`63`): an optional reason and optional user information (kept raw).
public struct ReleaseAPDU: Hashable, Sendable {
    /// RLRQ reason: 0 normal, 1 urgent, 30 user-defined. RLRE reason: 0 normal, 1 not-finished, 30 user-defined.
    public var reason: UInt8?
    /// The raw content of the user-information octet string (an InitiateRequest/Response), if any.
    public var userInformation: [UInt8]?

    public init(reason: UInt8? = 0, userInformation: [UInt8]? = nil) {
        self.reason = reason
        self.userInformation = userInformation
    }

    func encode(tag: UInt8) -> [UInt8] {
        var body: [UInt8] = []
        if let reason { body.append(contentsOf: [0x80, 0x01, reason]) }
        if let userInformation {
            var octets: [UInt8] = []
            octets.appendBER(tag: 0x04, userInformation)
            body.appendBER(tag: 0xBE, octets)
        }
        var out: [UInt8] = []
        out.appendBER(tag: tag, body)
        return out
    }

    static func decode(_ bytes: [UInt8], tag expected: UInt8, what: String) throws(COSEMError) -> ReleaseAPDU {
        var r = ByteReader(bytes)
        let t = try r.peek(what)
        guard t == expected else { throw COSEMError.unexpectedTag(at: 0, expected: expected, found: t, what: what) }
        var body = try r.berElement(what).content
        try r.expectEnd()
        var out = ReleaseAPDU(reason: nil, userInformation: nil)
        while !body.isAtEnd {
            var (tag, content) = try body.berElement(what + " field")
            switch tag {
            case 0x80:
                if content.remaining >= 1 { out.reason = try content.u8("the release reason") }
            case 0xBE:
                var octets = try content.berElement(expecting: 0x04, what + " user information")
                out.userInformation = try octets.bytes(octets.remaining, "the user information")
            default: break
            }
        }
        return out
    }
}

/// Release request (RLRQ, `62`).
public struct RLRQ: Hashable, Sendable {
    public var content: ReleaseAPDU
    public init(reason: UInt8? = 0, userInformation: [UInt8]? = nil) {
        content = ReleaseAPDU(reason: reason, userInformation: userInformation)
    }
    /// `62 03 80 01 00` for a normal release without user information.
    public func encode() -> [UInt8] { content.encode(tag: 0x62) }
    public static func decode(_ bytes: [UInt8]) throws(COSEMError) -> RLRQ {
        let c = try ReleaseAPDU.decode(bytes, tag: 0x62, what: "RLRQ")
        return RLRQ(reason: c.reason, userInformation: c.userInformation)
    }
}

/// Release response (RLRE, `63`).
public struct RLRE: Hashable, Sendable {
    public var content: ReleaseAPDU
    public init(reason: UInt8? = 0, userInformation: [UInt8]? = nil) {
        content = ReleaseAPDU(reason: reason, userInformation: userInformation)
    }
    /// `63 03 80 01 00` for a normal release without user information.
    public func encode() -> [UInt8] { content.encode(tag: 0x63) }
    public static func decode(_ bytes: [UInt8]) throws(COSEMError) -> RLRE {
        let c = try ReleaseAPDU.decode(bytes, tag: 0x63, what: "RLRE")
        return RLRE(reason: c.reason, userInformation: c.userInformation)
    }
}
