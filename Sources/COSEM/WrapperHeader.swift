// The IEC 62056-47 TCP/UDP wrapper (port 4059): an 8-byte header before each APDU instead of HDLC framing.
//   version 0001 | source wPort u16 | destination wPort u16 | APDU length u16
// Client wPort = client SAP (16 public, 1 management); server wPort = logical device (1 = management).
// No SNRM, no LLC, no CRC: the AARQ is the first PDU.

/// One wrapper header. Sans-I/O: it encodes and parses 8 bytes; the transport reads `length` more.
public struct WrapperHeader: Hashable, Sendable, CustomStringConvertible {
    /// The only version defined.
    public static let version: UInt16 = 1
    /// Bytes of header before the APDU.
    public static let size = 8
    /// The IANA port of DLMS/COSEM over TCP and UDP.
    public static let defaultPort: UInt16 = 4059

    public var source: UInt16
    public var destination: UInt16
    /// Bytes of APDU that follow the header.
    public var length: UInt16

    public init(source: UInt16, destination: UInt16, length: UInt16) {
        self.source = source
        self.destination = destination
        self.length = length
    }

    /// The header of a client's request: from the client SAP to the logical device.
    public static func request(clientSAP: UInt16, logicalDevice: UInt16, apduLength: Int) throws(COSEMError) -> WrapperHeader {
        guard apduLength <= Int(UInt16.max) else {
            throw COSEMError.valueTooLarge(at: 0, size: apduLength, limit: Int(UInt16.max))
        }
        return WrapperHeader(source: clientSAP, destination: logicalDevice, length: UInt16(apduLength))
    }

    /// The 8 header bytes.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(8)
        encode(into: &out)
        return out
    }

    public func encode(into out: inout [UInt8]) {
        out.appendU16(Self.version)
        out.appendU16(source)
        out.appendU16(destination)
        out.appendU16(length)
    }

    /// Header then APDU, ready to write to the socket.
    public static func frame(_ apdu: [UInt8], source: UInt16, destination: UInt16) throws(COSEMError) -> [UInt8] {
        let header = try request(clientSAP: source, logicalDevice: destination, apduLength: apdu.count)
        var out: [UInt8] = []
        out.reserveCapacity(8 + apdu.count)
        header.encode(into: &out)
        out.append(contentsOf: apdu)
        return out
    }

    /// Parses the header at `start`; throws when fewer than 8 bytes remain or the version is not 1.
    public static func parse(_ bytes: [UInt8], at start: Int = 0) throws(COSEMError) -> WrapperHeader {
        var r = ByteReader(bytes, range: start..<bytes.count)
        let version = try r.u16("the wrapper version")
        guard version == Self.version else {
            throw COSEMError.invalidValue(
                at: 0, what: "wrapper version \(version) (must be 1: the peer does not speak the IEC 62056-47 "
                    + "wrapper, check DLMS_TRANSPORT and the port)")
        }
        let source = try r.u16("the source wPort")
        let destination = try r.u16("the destination wPort")
        let length = try r.u16("the APDU length")
        return WrapperHeader(source: source, destination: destination, length: length)
    }

    /// Parses a whole wrapper PDU (header and exactly `length` bytes of APDU); returns the header and the APDU.
    public static func parsePDU(_ bytes: [UInt8]) throws(COSEMError) -> (header: WrapperHeader, apdu: [UInt8]) {
        let header = try parse(bytes)
        let available = bytes.count - Self.size
        if Int(header.length) > available {
            throw COSEMError.lengthExceedsInput(at: 6, declared: Int(header.length), remaining: available)
        }
        if Int(header.length) < available {
            throw COSEMError.trailingBytes(at: Self.size + Int(header.length), count: available - Int(header.length))
        }
        return (header, Array(bytes[Self.size...]))
    }

    /// The header the other side answers with: ports swapped.
    public func reply(length: UInt16) -> WrapperHeader {
        WrapperHeader(source: destination, destination: source, length: length)
    }

    /// `wrapper v1, wPort 16 -> 1, 31 bytes`.
    public var description: String { "wrapper v1, wPort \(source) -> \(destination), \(length) bytes" }
}
