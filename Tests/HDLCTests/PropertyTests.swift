import HDLC
import PropertyBased
import Testing

/// A server address of any width that fits, from random parts.
func anyServerAddress(_ logical: UInt16, _ physical: UInt16, _ widthIndex: Int) -> HDLCAddress {
    let widths: [AddressWidth] = [.auto, .one, .two, .four]
    if let a = try? HDLCAddress(logical: logical, physical: physical, width: widths[widthIndex]) { return a }
    return try! HDLCAddress(logical: logical, physical: physical, width: .auto)
}

@Suite struct PropertyTests {
    /// Any frame encodes then parses back to the same fields and info bytes.
    @Test func encodeThenParseIsIdentity() async {
        await propertyCheck(
            count: 500,
            input: Gen.uint16(in: 0...0x3FFF), Gen.uint16(in: 0...0x3FFF), Gen.int(in: 0...3),
            Gen.uint8().array(of: 0...400)
        ) { (logical: UInt16, physical: UInt16, width: Int, info: [UInt8]) async throws in
            let server = anyServerAddress(logical, physical, width)
            let client = try! HDLCAddress.client(sap: UInt8(truncatingIfNeeded: physical) & 0x7F)
            let controlByte = UInt8(truncatingIfNeeded: logical &+ physical)
            let control = Control(byte: controlByte) ?? .information(send: UInt8(width), receive: 5, poll: true)
            let segmented = info.count % 2 == 1
            let bytes = try HDLCFrame.encode(destination: server, source: client, control: control,
                                             segmented: segmented, info: info)
            #expect(bytes.count == HDLCFrame.encodedCount(destination: server, source: client, infoCount: info.count))
            let frame = try HDLCFrame.parse(bytes)
            #expect(frame.destination == server)
            #expect(frame.source == client)
            #expect(frame.control == control)
            #expect(frame.segmented == segmented)
            #expect(Array(bytes[frame.infoRange]) == info)
            // And the description agrees, with valid checksums.
            let d = FrameDescription(bytes)
            #expect(d.isValid && d.info == info && d.control == control && d.destination == server)
        }
    }

    @Test func addressesRoundTrip() async {
        await propertyCheck(count: 300, input: Gen.uint16(in: 0...0x3FFF), Gen.uint16(in: 0...0x3FFF), Gen.int(in: 0...3)) {
            (logical: UInt16, physical: UInt16, width: Int) async throws in
            let address = anyServerAddress(logical, physical, width)
            let frame = try HDLCFrame.encode(destination: address, source: try .client(sap: 1), control: .disconnect(poll: true))
            let parsed = try HDLCFrame.parse(frame)
            #expect(parsed.destination == address)
            #expect(parsed.destination.logical == logical && parsed.destination.physical == physical)
        }
    }

    @Test func linkParametersRoundTrip() async {
        await propertyCheck(
            count: 300,
            input: Gen.int(in: 1...2030), Gen.int(in: 1...2030), Gen.int(in: 1...7), Gen.int(in: 1...7)
        ) { (tx: Int, rx: Int, wtx: Int, wrx: Int) async throws in
            let p = LinkParameters(maxInfoTransmit: tx, maxInfoReceive: rx, windowTransmit: wtx, windowReceive: wrx)
            #expect(try LinkParameters.decode(p.encode()) == p)
            #expect(try LinkParameters.decode(p.encode(omittingDefaults: true)) == p)
        }
    }

    /// Any byte string: the deframer terminates without a trap, its counters add up, and a valid frame
    /// fed afterwards still comes out.
    @Test func deframerSurvivesAnyBytes() async {
        await propertyCheck(count: 1000, input: Gen.uint8().array(of: 0...700), Gen.int(in: 1...64)) { (noise: [UInt8], chunk: Int) async throws in
            var deframer = Deframer(capacity: 256)
            var delivered = 0
            var i = 0
            while i < noise.count {
                let piece = Array(noise[i..<min(noise.count, i + chunk)])
                deframer.feed(piece) { frame, bytes in
                    delivered += 1
                    #expect(bytes.first == 0x7E && bytes.last == 0x7E && frame.count == bytes.count)
                }
                i += chunk
            }
            #expect(deframer.counters.frames == delivered)
            #expect(deframer.bufferedCount <= deframer.capacity)
            // The caller's timeout gives up whatever half frame the noise left; then a real frame passes.
            while deframer.hasPartialFrame { deframer.abandonPartialFrame(); _ = deframer.feed([]) }
            #expect(deframer.feed(Golden.disc) == [Golden.disc])
        }
    }

    /// Noise in front of frames with flags biased towards `7E` and `Ax`: every frame survives, in order.
    @Test func framesSurviveNoiseBetweenThem() async {
        let alphabet: [UInt8] = [0x7E, 0x7E, 0xA0, 0xA8, 0x03, 0x02, 0x23, 0x10, 0x00, 0xFF, 0x55]
        await propertyCheck(
            count: 500,
            input: Gen.int(in: 0..<alphabet.count).array(of: 0...40), Gen.int(in: 0..<alphabet.count).array(of: 0...40),
            Gen.int(in: 1...30)
        ) { (a: [Int], b: [Int], chunk: Int) async throws in
            let stream = a.map { alphabet[$0] } + Golden.flagInFCS + b.map { alphabet[$0] } + Golden.snrm + Golden.disc
            var deframer = Deframer()
            var got: [[UInt8]] = []
            var i = 0
            while i < stream.count {
                deframer.feed(Array(stream[i..<min(stream.count, i + chunk)])) { _, bytes in got.append(Array(bytes)) }
                i += chunk
            }
            #expect(got.suffix(3) == [Golden.flagInFCS, Golden.snrm, Golden.disc])
        }
    }

    @Test func describingAnyBytesNeverTraps() async {
        await propertyCheck(count: 1000, input: Gen.uint8().array(of: 0...64)) { (bytes: [UInt8]) async throws in
            let d = FrameDescription([0x7E, 0xA0] + bytes)
            _ = d.description
            #expect(d.isValid == ((try? HDLCFrame.parse([0x7E, 0xA0] + bytes)) != nil))
        }
    }

    /// Any APDU size and max info size: the link segments and reassembles it both ways.
    @Test func linkDeliversAnyAPDU() async {
        await propertyCheck(count: 200, input: Gen.int(in: 0...1500), Gen.int(in: 8...300)) { (size: Int, maxInfo: Int) async throws in
            let p = LinkParameters(maxInfoTransmit: maxInfo, maxInfoReceive: maxInfo)
            let meter = try HDLCAddress(logical: 1, physical: 17)
            var wire = Wire(client: .client(try .client(sap: 32), server: meter, parameters: p),
                            server: .server(meter, parameters: p))
            wire.run(fromClient: wire.client.connect())
            let apdu = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            wire.run(fromClient: try wire.client.send(apdu: apdu))
            #expect(wire.serverNotices.last == .apdu(apdu))
            try wire.serverReplies(apdu.reversed())
            #expect(wire.clientNotices.last == .apdu(apdu.reversed()))
            let segments = (apdu.count + 3 + maxInfo - 1) / maxInfo
            #expect(wire.controls.count == 2 + 2 * segments + 2 * (segments - 1))
        }
    }
}
