// libFuzzer entry for the HDLC decoders: the frame parser, the streaming deframer, the frame description
// and both roles of the link state machine. Compiled together with Sources/HDLC (one module, see
// mk/fuzz.mk), so it reaches internal API too. Beyond "no trap", it checks properties that must hold
// for every input: a frame that parses re-encodes to the same bytes, every frame the deframer delivers
// parses, and the description calls a frame valid exactly when the parser accepts it.

@_cdecl("LLVMFuzzerTestOneInput")
public func hdlcFuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let array = [UInt8](bytes)

    // 1. Parser, with a re-encoding oracle.
    var parsed = false
    if let frame = try? HDLCFrame.parse(bytes) {
        parsed = true
        let again = try? HDLCFrame.encode(
            destination: frame.destination, source: frame.source, control: frame.control,
            segmented: frame.segmented, info: Array(array[frame.infoRange]))
        if again != array { fatalError("parse then encode changed the frame: \(hexString(array))") }
    }

    // 2. Description agrees with the parser (which, unlike the description, insists on the flags).
    let description = FrameDescription(array)
    if array.first == 0x7E && description.isValid != parsed { fatalError("description and parser disagree on \(hexString(array))") }
    _ = description.description

    // 3. Deframer: capacity and chunk size from the first bytes, the rest streamed in.
    let capacity = 16 + (size > 0 ? Int(array[0]) * 8 : 0)
    let chunk = 1 + (size > 1 ? Int(array[1]) : 0)
    var deframer = Deframer(capacity: capacity)
    var offset = 0
    while offset < size {
        let end = min(size, offset + chunk)
        deframer.feed(UnsafeRawBufferPointer(rebasing: bytes[offset..<end])) { frame, frameBytes in
            if (try? HDLCFrame.parse(frameBytes)) != frame { fatalError("deframer delivered a bad frame") }
        }
        offset = end
    }
    deframer.abandonPartialFrame()
    if deframer.bufferedCount > deframer.capacity { fatalError("deframer overran its buffer") }

    // 4. Both link roles on the same bytes, connected first so that I-frames and RRs reach the handlers.
    let client = try! HDLCAddress.client(sap: 16)
    let meter = try! HDLCAddress(logical: 1, physical: 17)
    let small = LinkParameters(maxInfoTransmit: 16, maxInfoReceive: 16)
    var server = HDLCLink(.server(meter, parameters: small))
    _ = server.receive(bytes: try! HDLCFrame.encode(destination: meter, source: client,
                                                    control: .setNormalResponseMode(poll: true), info: small.encode()))
    _ = server.receive(bytes: bytes)
    _ = try? server.send(apdu: array)
    var reader = HDLCLink(.client(client, server: meter, parameters: small))
    _ = reader.connect()
    _ = reader.receive(bytes: try! HDLCFrame.encode(destination: client, source: meter,
                                                    control: .unnumberedAcknowledge(final: true), info: small.encode()))
    _ = reader.receive(bytes: bytes)
    _ = reader.receive(frame: array)
    _ = reader.retransmit()
    return 0
}
