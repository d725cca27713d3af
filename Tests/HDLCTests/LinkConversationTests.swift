import HDLC
import Testing

@Suite struct LinkConversationTests {
    let clientAddress = try! HDLCAddress.client(sap: 16)
    let meterAddress = try! HDLCAddress(logical: 1, physical: 1234)

    func connectedWire(maxInfo: Int = 128) -> Wire {
        let p = LinkParameters(maxInfoTransmit: maxInfo, maxInfoReceive: maxInfo)
        var wire = Wire(client: .client(clientAddress, server: meterAddress, parameters: p),
                        server: .server(meterAddress, parameters: p))
        wire.run(fromClient: wire.client.connect())
        wire.controls = []
        wire.clientNotices = []
        wire.serverNotices = []
        return wire
    }

    /// Ten request/response pairs: N(S)/N(R) wrap around modulo 8 on both sides.
    @Test func sequenceNumbersOverTenExchanges() throws {
        var wire = connectedWire()
        for i in 0..<10 {
            wire.run(fromClient: try wire.client.send(apdu: [0xC0, 0x01, UInt8(i)]))
            try wire.serverReplies([0xC4, 0x01, UInt8(i)])
        }
        let toServer = wire.controls.filter(\.toServer).map(\.control.byte)
        let toClient = wire.controls.filter { !$0.toServer }.map(\.control.byte)
        #expect(toServer == [0x10, 0x32, 0x54, 0x76, 0x98, 0xBA, 0xDC, 0xFE, 0x10, 0x32])
        #expect(toClient == [0x30, 0x52, 0x74, 0x96, 0xB8, 0xDA, 0xFC, 0x1E, 0x30, 0x52])
        #expect(wire.serverNotices == (0..<10).map { .apdu([0xC0, 0x01, UInt8($0)]) })
        #expect(wire.clientNotices == (0..<10).map { .apdu([0xC4, 0x01, UInt8($0)]) })
        #expect(wire.client.sendSequence == 2 && wire.client.receiveSequence == 2)
    }

    /// A request longer than the max info field goes out in segments, each after the server's RR; the LLC
    /// header is in the first segment only.
    @Test func clientSegmentsALongRequest() throws {
        var wire = connectedWire(maxInfo: 32)
        let request = (0..<80).map { UInt8($0) }
        let events = try wire.client.send(apdu: request)
        let first = try #require(frames(events).first)
        let parsed = try HDLCFrame.parse(first)
        #expect(parsed.segmented && parsed.infoRange.count == 32)
        #expect(Array(first[parsed.infoRange].prefix(3)) == h("E6 E6 00"))
        #expect(throws: HDLCLink.LinkError.busy) { try wire.client.send(apdu: [1]) }
        wire.run(fromClient: events)
        #expect(wire.serverNotices == [.apdu(request)])
        // 83 bytes with LLC: 32 + 32 + 19. I(0,0) RR(1) I(1,0) RR(2) I(2,0, final).
        #expect(wire.controls.map(\.control.byte) == [0x10, 0x31, 0x12, 0x51, 0x14])
        try wire.serverReplies([0xC4])
        #expect(wire.clientNotices == [.apdu([0xC4])])
        #expect(wire.controls.last?.control == .information(send: 0, receive: 3, poll: true))
    }

    /// A response longer than the max info field: the client acknowledges each segment with RR and
    /// delivers the reassembled APDU once.
    @Test func serverSegmentsALongResponse() throws {
        var wire = connectedWire(maxInfo: 64)
        wire.run(fromClient: try wire.client.send(apdu: h("C0 01 C1 00 07 01 00 63 01 00 FF 02 00")))
        let response = (0..<300).map { UInt8(truncatingIfNeeded: $0 * 3) }
        try wire.serverReplies(response)
        #expect(wire.clientNotices == [.apdu(response)])
        // 303 bytes with LLC = 4 segments of 64 and one of 47, each but the last acknowledged by RR 1..4.
        let bytes = wire.controls.map(\.control.byte)
        #expect(bytes == [0x10, 0x30, 0x31, 0x32, 0x51, 0x34, 0x71, 0x36, 0x91, 0x38])
        #expect(wire.client.receiveSequence == 5)
    }

    @Test func segmentsOverTheWrapAround() throws {
        var wire = connectedWire(maxInfo: 32)
        let big = [UInt8](repeating: 0xAB, count: 32 * 9)
        wire.run(fromClient: try wire.client.send(apdu: big))
        #expect(wire.serverNotices == [.apdu(big)])
        try wire.serverReplies(big)
        #expect(wire.clientNotices == [.apdu(big)])
    }

    /// The response is lost; the caller's timer asks for a retransmission; the server sees the repeated
    /// N(S) and answers again; the client delivers the response once.
    @Test func retransmissionAfterALostResponse() throws {
        var wire = connectedWire()
        let request = try wire.client.send(apdu: [0xC0, 0x01])
        let serverEvents = wire.server.receive(bytes: frames(request)[0])
        #expect(notices(serverEvents) == [.apdu([0xC0, 0x01])])
        let response = frames(try wire.server.send(apdu: [0xC4, 0x01]))
        #expect(response.count == 1)   // ... and lost on the line.
        let again = wire.client.retransmit()
        #expect(again == request)
        let resent = wire.server.receive(bytes: frames(again)[0])
        #expect(resent == [.send(response[0])])
        #expect(wire.client.receive(bytes: response[0]) == [.apdu([0xC4, 0x01])])
    }

    /// An RR for the previous N(R) asks for the last frame again.
    @Test func rrForThePreviousFrameRetransmits() throws {
        var wire = connectedWire(maxInfo: 32)
        let first = frames(try wire.server.send(apdu: [UInt8](repeating: 1, count: 50)))[0]
        let rrAgain = try HDLCFrame.encode(destination: meterAddress, source: clientAddress,
                                           control: .receiveReady(receive: 0, poll: true))
        #expect(wire.server.receive(bytes: rrAgain) == [.send(first)])
    }

    @Test func outOfSequenceIFrameIsReported() throws {
        var wire = connectedWire()
        let wrong = try HDLCFrame.encode(destination: clientAddress, source: meterAddress,
                                         control: .information(send: 3, receive: 0, poll: true), llc: .response, info: [0xC4])
        #expect(wire.client.receive(bytes: wrong) == [.protocolError(.outOfSequence(expected: 0, received: 3))])
        let description = HDLCLink.LinkError.outOfSequence(expected: 0, received: 3).description
        #expect(description.contains("expected N(S)=0, got 3"))
    }

    @Test func dmOnConnectIsARejection() throws {
        var link = HDLCLink(.client(clientAddress, server: meterAddress))
        _ = link.connect()
        let dm = try HDLCFrame.encode(destination: clientAddress, source: meterAddress, control: .disconnectedMode(final: true))
        #expect(link.receive(bytes: dm) == [.rejected(.disconnectedMode), .disconnected])
        #expect(link.state == .disconnected)
        #expect(throws: HDLCLink.LinkError.notConnected) { try link.send(apdu: [1]) }
    }

    @Test func frmrIsARejectionWithItsInfo() throws {
        var wire = connectedWire()
        let frmr = try HDLCFrame.encode(destination: clientAddress, source: meterAddress,
                                        control: .frameReject(final: true), info: h("10 00 01"))
        #expect(wire.client.receive(bytes: frmr) == [.rejected(.frameReject(info: h("10 00 01"))), .disconnected])
    }

    @Test func serverAnswersDMOutsideALink() throws {
        var server = HDLCLink(.server(meterAddress))
        let i = try HDLCFrame.encode(destination: meterAddress, source: clientAddress,
                                     control: .information(send: 0, receive: 0, poll: true), llc: .request, info: [0xC0])
        let dm = try HDLCFrame.encode(destination: clientAddress, source: meterAddress, control: .disconnectedMode(final: true))
        // No link yet: DM, to whichever client asked.
        #expect(server.receive(bytes: i) == [.send(dm)])
        let snrm = try HDLCFrame.encode(destination: meterAddress, source: clientAddress, control: .setNormalResponseMode(poll: true))
        _ = server.receive(bytes: snrm)
        let disc = try HDLCFrame.encode(destination: meterAddress, source: clientAddress, control: .disconnect(poll: true))
        _ = server.receive(bytes: disc)
        #expect(server.receive(bytes: i) == [.send(dm)])
        #expect(server.receive(bytes: disc) == [.send(dm)])
    }

    @Test func framesForAnotherStationAreReported() throws {
        var wire = connectedWire()
        let other = try HDLCAddress(logical: 1, physical: 99)
        let stray = try HDLCFrame.encode(destination: clientAddress, source: other,
                                         control: .information(send: 0, receive: 1, poll: true), info: [1])
        #expect(wire.client.receive(bytes: stray) == [.protocolError(.wrongAddress(destination: clientAddress, source: other))])
        #expect(wire.client.receiveSequence == 0)
    }

    @Test func oversizeReassemblyIsDropped() throws {
        var config = HDLCLink.Configuration.client(clientAddress, server: meterAddress,
                                                   parameters: LinkParameters(maxInfoTransmit: 32, maxInfoReceive: 32))
        config.maxAPDUSize = 40
        var wire = Wire(client: config, server: .server(meterAddress, parameters: LinkParameters(maxInfoTransmit: 32, maxInfoReceive: 32)))
        wire.run(fromClient: wire.client.connect())
        wire.run(fromClient: try wire.client.send(apdu: [0xC0]))
        try wire.serverReplies([UInt8](repeating: 7, count: 100))
        #expect(wire.clientNotices.last == .protocolError(.apduTooLarge(limit: 40)))
        try wire.serverReplies([0xC4, 0x01])
        #expect(wire.clientNotices.last == .apdu([0xC4, 0x01]))
    }

    /// Bytes arrive in arbitrary pieces with noise between frames; the link sees the same frames.
    @Test func noisyChunkedInput() throws {
        var wire = connectedWire(maxInfo: 32)
        wire.run(fromClient: try wire.client.send(apdu: [0xC0]))
        let segments = frames(try wire.server.send(apdu: [UInt8](repeating: 9, count: 40)))
        #expect(segments.count == 1)
        var events = wire.client.receive(bytes: h("00 FF") + Array(segments[0].prefix(5)))
        events += wire.client.receive(bytes: Array(segments[0].dropFirst(5)) + h("7E 7E"))
        #expect(notices(events).isEmpty)
        let rr = frames(events)
        #expect(rr.count == 1)
        #expect(try HDLCFrame.parse(rr[0]).control == .receiveReady(receive: 1, poll: true))
        #expect(wire.client.deframerCounters.garbageBytes == 2)
    }

    @Test func stateNames() {
        #expect(HDLCLink.LinkError.unexpectedFrame(.unnumberedAcknowledge(final: true), .connected).description
            == "unexpected UA F while connected; ignored")
    }
}
