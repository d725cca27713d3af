// xDLMS InitiateRequest / InitiateResponse (IEC 62056-5-3 §9.4.4), the A-XDR payload of the AARQ/AARE
// user-information field (in clear, or inside a glo-/ded-initiate APDU when the association is ciphered).

/// xDLMS InitiateRequest (the AARQ's user information), A-XDR:
/// `01 <dedicated-key opt> <response-allowed opt> <quality-of-service opt> <version> 5F 1F 04 00 <conf 3> <max PDU 2>`.
public struct InitiateRequest: Hashable, Sendable {
    public var dedicatedKey: [UInt8]?
    public var responseAllowed: Bool
    public var proposedQualityOfService: UInt8?
    public var dlmsVersion: UInt8
    public var proposedConformance: Conformance
    public var clientMaxReceivePDUSize: UInt16

    public init(proposedConformance: Conformance, clientMaxReceivePDUSize: UInt16, dlmsVersion: UInt8 = 6,
                dedicatedKey: [UInt8]? = nil, responseAllowed: Bool = true, proposedQualityOfService: UInt8? = nil) {
        self.dedicatedKey = dedicatedKey
        self.responseAllowed = responseAllowed
        self.proposedQualityOfService = proposedQualityOfService
        self.dlmsVersion = dlmsVersion
        self.proposedConformance = proposedConformance
        self.clientMaxReceivePDUSize = clientMaxReceivePDUSize
    }

    /// The placeholder a ciphered AARQ reports before it is deciphered: DLMS version 0, nothing proposed.
    public static let unknown = InitiateRequest(proposedConformance: [], clientMaxReceivePDUSize: 0, dlmsVersion: 0)

    public func encode(into out: inout [UInt8]) {
        out.append(0x01)
        if let key = dedicatedKey {
            out.append(0x01); out.appendAXDRLength(key.count); out.append(contentsOf: key)
        } else { out.append(0x00) }
        // response-allowed DEFAULT TRUE: encoded absent when true.
        if responseAllowed { out.append(0x00) } else { out.append(0x01); out.append(0x00) }
        if let q = proposedQualityOfService { out.append(0x01); out.append(q) } else { out.append(0x00) }
        out.append(dlmsVersion)
        out.append(contentsOf: [0x5F, 0x1F, 0x04, 0x00])
        out.append(contentsOf: proposedConformance.bytes)
        out.appendU16(clientMaxReceivePDUSize)
    }

    public static func decode(from r: inout ByteReader) throws(COSEMError) -> InitiateRequest {
        let tagAt = r.offset
        let tag = try r.u8("the InitiateRequest tag")
        guard tag == 0x01 else {
            throw COSEMError.unexpectedTag(at: tagAt, expected: 0x01, found: tag, what: "InitiateRequest")
        }
        var key: [UInt8]? = nil
        if try r.u8("the dedicated-key flag") != 0 {
            let n = try r.axdrLength()
            key = try r.bytes(n, "the dedicated key")
        }
        var allowed = true
        if try r.u8("the response-allowed flag") != 0 { allowed = try r.u8("response-allowed") != 0 }
        var qos: UInt8? = nil
        if try r.u8("the quality-of-service flag") != 0 { qos = try r.u8("the quality of service") }
        let version = try r.u8("the DLMS version")
        let conformance = try decodeConformanceBits(&r)
        let pdu = try r.u16("the max receive PDU size")
        return InitiateRequest(proposedConformance: conformance, clientMaxReceivePDUSize: pdu, dlmsVersion: version,
                               dedicatedKey: key, responseAllowed: allowed, proposedQualityOfService: qos)
    }
}

/// xDLMS InitiateResponse (the AARE's user information):
/// `08 <quality-of-service opt> <version> 5F 1F 04 00 <conf 3> <max PDU 2> <vaa-name 2>`.
public struct InitiateResponse: Hashable, Sendable {
    public var negotiatedQualityOfService: UInt8?
    public var dlmsVersion: UInt8
    public var negotiatedConformance: Conformance
    public var serverMaxReceivePDUSize: UInt16
    /// 0x0007 for LN referencing.
    public var vaaName: UInt16

    public init(negotiatedConformance: Conformance, serverMaxReceivePDUSize: UInt16, dlmsVersion: UInt8 = 6,
                vaaName: UInt16 = 0x0007, negotiatedQualityOfService: UInt8? = nil) {
        self.negotiatedQualityOfService = negotiatedQualityOfService
        self.dlmsVersion = dlmsVersion
        self.negotiatedConformance = negotiatedConformance
        self.serverMaxReceivePDUSize = serverMaxReceivePDUSize
        self.vaaName = vaaName
    }

    public func encode(into out: inout [UInt8]) {
        out.append(0x08)
        if let q = negotiatedQualityOfService { out.append(0x01); out.append(q) } else { out.append(0x00) }
        out.append(dlmsVersion)
        out.append(contentsOf: [0x5F, 0x1F, 0x04, 0x00])
        out.append(contentsOf: negotiatedConformance.bytes)
        out.appendU16(serverMaxReceivePDUSize)
        out.appendU16(vaaName)
    }

    public static func decode(from r: inout ByteReader) throws(COSEMError) -> InitiateResponse {
        let tagAt = r.offset
        let tag = try r.u8("the InitiateResponse tag")
        guard tag == 0x08 else {
            throw COSEMError.unexpectedTag(at: tagAt, expected: 0x08, found: tag, what: "InitiateResponse")
        }
        var qos: UInt8? = nil
        if try r.u8("the quality-of-service flag") != 0 { qos = try r.u8("the quality of service") }
        let version = try r.u8("the DLMS version")
        let conformance = try decodeConformanceBits(&r)
        let pdu = try r.u16("the server max receive PDU size")
        let vaa = try r.u16("the VAA name")
        return InitiateResponse(negotiatedConformance: conformance, serverMaxReceivePDUSize: pdu, dlmsVersion: version,
                                vaaName: vaa, negotiatedQualityOfService: qos)
    }
}

/// `5F 1F 04 00 b0 b1 b2`: [APPLICATION 31] IMPLICIT BIT STRING of 24 bits (0 unused bits).
func decodeConformanceBits(_ r: inout ByteReader) throws(COSEMError) -> Conformance {
    let at = r.offset
    let t0 = try r.u8("the conformance tag")
    let t1 = try r.u8("the conformance tag")
    guard t0 == 0x5F, t1 == 0x1F else {
        throw COSEMError.unexpectedTag(at: at, expected: 0x5F, found: t0 == 0x5F ? t1 : t0, what: "conformance block")
    }
    let lenAt = r.offset
    let len = try r.u8("the conformance length")
    guard len == 4 else { throw COSEMError.invalidValue(at: lenAt, what: "conformance block length \(len) (must be 4)") }
    _ = try r.u8("the conformance unused-bits count")
    let b0 = try r.u8("the conformance block"), b1 = try r.u8("the conformance block"), b2 = try r.u8("the conformance block")
    return Conformance(bytes: b0, b1, b2)
}
