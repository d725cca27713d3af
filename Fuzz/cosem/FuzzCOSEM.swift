// libFuzzer entry for the COSEM decoders: A-XDR data, every APDU, the AARE check and GET/block handling of
// the client association, and OBIS text parsing. Compiled together with Sources/COSEM into one module
// (`make fuzz-cosem`, mk/fuzz.mk). Any trap is a finding; so is a value that does not survive re-encoding.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCOSEM(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let limits = DecodingLimits(maxDepth: 16, maxElements: 10_000, maxValueBytes: 1 << 16)

    if let value = try? DataValue.decode(bytes, limits: limits) {
        let again = try? DataValue.decode(value.encoded, limits: limits)
        precondition(again == value, "A-XDR value changed after re-encoding")
        _ = value.description
    }
    if let apdu = try? APDU.decode(bytes, limits: limits) {
        let again = try? APDU.decode(apdu.encode(), limits: limits)
        precondition(again == apdu, "APDU changed after re-encoding")
        _ = apdu.name
    }
    do { _ = try APDU.decode(bytes, limits: limits) } catch { _ = error.description }

    // The client association fed with a stream of answers: first byte = chunk length, then the chunk.
    var association = ClientAssociation(settings: AssociationSettings(
        clientSAP: 1, authentication: .lowLevel(password: Array("12345678".utf8)), limits: limits,
        maxTransferSize: 1 << 16))
    _ = association.associationRequest()
    let aare = AARE(result: .accepted, diagnostic: .null, userInformation: .initiateResponse(
        InitiateResponse(negotiatedConformance: .usualClientProposal, serverMaxReceivePDUSize: 1024))).encode()
    if (try? association.handleAssociationResponse(aare)) != nil {
        var position = 0
        var requested = false
        while position < bytes.count {
            let length = Int(bytes[position])
            position += 1
            let end = Swift.min(bytes.count, position + length)
            var chunk = Array(bytes[position..<end])
            position = end
            if !requested {
                _ = try? association.getRequest(InterfaceClass.profileGeneric.attribute(2, of: ObisCode(1, 0, 99, 1, 0)))
                requested = true
            }
            // Most chunks get a valid header so the block logic, not the tag check, is exercised.
            if chunk.first.map({ $0 & 1 == 0 }) ?? false {
                chunk = [0xC4, 0x02, 0xC1] + chunk.dropFirst()
            }
            do {
                if case .send = try association.handleGetResponse(chunk) { continue }
                requested = false
            } catch {
                _ = error.description
                requested = false
            }
        }
    }

    // Also the reject path of the AARE check, with whatever the input says.
    var rejected = ClientAssociation(settings: AssociationSettings())
    _ = rejected.associationRequest()
    if let outcome = try? rejected.handleAssociationResponse(bytes), case let .rejected(_, _, error) = outcome {
        _ = error.description
    }

    _ = try? ObisCode(parsing: String(decoding: bytes.prefix(40), as: UTF8.self))
    return 0
}
