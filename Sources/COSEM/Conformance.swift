/// The xDLMS conformance block: a 24-bit string, bit 0 = the most significant bit (Green Book 9.4.6.1).
///
/// The client proposes a set in the AARQ; the meter grants a subset in the AARE. Use only granted services.
public struct Conformance: OptionSet, Hashable, Sendable, CustomStringConvertible {
    /// The 24 bits, bit 0 of the standard in bit 23 of this value.
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue & 0xFF_FFFF }

    /// The set with standard bit `number` (0 = MSB of the 24-bit string).
    public init(bit number: Int) { self.init(rawValue: number >= 0 && number < 24 ? 1 << UInt32(23 - number) : 0) }

    /// From the three bytes of the BIT STRING, first byte first.
    public init(bytes b0: UInt8, _ b1: UInt8, _ b2: UInt8) {
        self.init(rawValue: UInt32(b0) << 16 | UInt32(b1) << 8 | UInt32(b2))
    }

    /// The three bytes of the BIT STRING.
    public var bytes: [UInt8] {
        [UInt8(truncatingIfNeeded: rawValue >> 16), UInt8(truncatingIfNeeded: rawValue >> 8),
         UInt8(truncatingIfNeeded: rawValue)]
    }

    public static let generalProtection = Conformance(bit: 1)
    public static let generalBlockTransfer = Conformance(bit: 2)
    public static let read = Conformance(bit: 3)
    public static let write = Conformance(bit: 4)
    public static let unconfirmedWrite = Conformance(bit: 5)
    public static let deltaValueEncoding = Conformance(bit: 6)
    public static let attribute0SupportedWithSet = Conformance(bit: 8)
    public static let priorityManagement = Conformance(bit: 9)
    public static let attribute0SupportedWithGet = Conformance(bit: 10)
    public static let blockTransferWithGet = Conformance(bit: 11)
    public static let blockTransferWithSet = Conformance(bit: 12)
    public static let blockTransferWithAction = Conformance(bit: 13)
    /// GET/SET/ACTION with a list of references (GET-Request-With-List).
    public static let multipleReferences = Conformance(bit: 14)
    public static let informationReport = Conformance(bit: 15)
    public static let dataNotification = Conformance(bit: 16)
    public static let access = Conformance(bit: 17)
    public static let parameterizedAccess = Conformance(bit: 18)
    public static let get = Conformance(bit: 19)
    public static let set = Conformance(bit: 20)
    public static let selectiveAccess = Conformance(bit: 21)
    public static let eventNotification = Conformance(bit: 22)
    public static let action = Conformance(bit: 23)

    /// `00 7E 1F`: the usual LN client proposal (priority, attribute0 get, block transfer get/set/action,
    /// multiple references, get, set, selective access, event notification, action).
    public static let usualClientProposal = Conformance(rawValue: 0x00_7E1F)

    static let names: [(Int, String)] = [
        (1, "general-protection"), (2, "general-block-transfer"), (3, "read"), (4, "write"),
        (5, "unconfirmed-write"), (6, "delta-value-encoding"), (8, "attribute0-supported-with-set"),
        (9, "priority-mgmt-supported"), (10, "attribute0-supported-with-get"),
        (11, "block-transfer-with-get-or-read"), (12, "block-transfer-with-set-or-write"),
        (13, "block-transfer-with-action"), (14, "multiple-references"), (15, "information-report"),
        (16, "data-notification"), (17, "access"), (18, "parameterized-access"), (19, "get"), (20, "set"),
        (21, "selective-access"), (22, "event-notification"), (23, "action"),
    ]

    /// The Green Book names of the bits that are set, e.g. `get, set, selective-access`.
    public var description: String {
        var parts: [String] = []
        for (bit, name) in Self.names where contains(Conformance(bit: bit)) { parts.append(name) }
        for bit in [0, 7] where contains(Conformance(bit: bit)) { parts.append("reserved-\(bit)") }
        return parts.isEmpty ? "(none)" : parts.joined(separator: ", ")
    }
}
