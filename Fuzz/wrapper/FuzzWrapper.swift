// libFuzzer entry for the IEC 62056-47 wrapper header decoder (WrapperHeader.parse / parsePDU). Compiled
// together with Sources/COSEM into one module (`make fuzz-wrapper`, mk/fuzz.mk).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWrapper(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    for start in [0, 1, size / 2, size] {
        if let header = try? WrapperHeader.parse(bytes, at: start) {
            precondition(header.bytes == Array(bytes[start..<start + 8]), "a parsed header re-encodes differently")
            _ = header.description
        }
    }
    do {
        let (header, apdu) = try WrapperHeader.parsePDU(bytes)
        precondition(Int(header.length) == apdu.count && apdu.count + 8 == bytes.count, "PDU length mismatch")
        let again = try WrapperHeader.frame(apdu, source: header.source, destination: header.destination)
        precondition(again == bytes, "a parsed PDU re-frames differently")
        let reply = header.reply(length: header.length)
        precondition(reply.source == header.destination && reply.destination == header.source, "reply ports")
    } catch {
        _ = error.description
    }
    return 0
}
