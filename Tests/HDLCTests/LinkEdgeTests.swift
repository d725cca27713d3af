import HDLC
import Testing

@Suite struct LinkEdgeTests {
    let clientAddress = try! HDLCAddress.client(sap: 1)
    let meterAddress = try! HDLCAddress(logical: 1, physical: 1234)

    @Test func lostSNRMIsRetransmittedAsIs() {
        var link = HDLCLink(.client(clientAddress, server: meterAddress))
        let snrm = link.connect()
        #expect(link.retransmit() == snrm)
        #expect(HDLCLink(.client(clientAddress, server: meterAddress)).retransmit() == [])
    }

    @Test func uaWithBadParametersIsReported() throws {
        var link = HDLCLink(.client(clientAddress, server: meterAddress))
        _ = link.connect()
        let ua = try HDLCFrame.encode(destination: clientAddress, source: meterAddress,
                                      control: .unnumberedAcknowledge(final: true), info: h("81 80 09 05"))
        #expect(link.receive(bytes: ua) == [.protocolError(.badParameters(.invalidParameters(at: 2)))])
        #expect(link.state == .connecting)
    }

    @Test func unexpectedUAIsReportedNotObeyed() throws {
        var link = HDLCLink(.client(clientAddress, server: meterAddress))
        let ua = try HDLCFrame.encode(destination: clientAddress, source: meterAddress, control: .unnumberedAcknowledge(final: true))
        #expect(link.receive(bytes: ua) == [.protocolError(.unexpectedFrame(.unnumberedAcknowledge(final: true), .disconnected))])
        #expect(link.state == .disconnected)
    }

    @Test func peerBusy() throws {
        var wire = Wire(client: .client(clientAddress, server: meterAddress), server: .server(meterAddress))
        wire.run(fromClient: wire.client.connect())
        let rnr = try HDLCFrame.encode(destination: clientAddress, source: meterAddress,
                                       control: .receiveNotReady(receive: 0, poll: true))
        #expect(wire.client.receive(bytes: rnr) == [.protocolError(.peerBusy)])
    }

    @Test func idleServerAnswersAPollWithRR() throws {
        var wire = Wire(client: .client(clientAddress, server: meterAddress), server: .server(meterAddress))
        wire.run(fromClient: wire.client.connect())
        let rr = try HDLCFrame.encode(destination: meterAddress, source: clientAddress, control: .receiveReady(receive: 0, poll: true))
        let answer = try HDLCFrame.encode(destination: clientAddress, source: meterAddress, control: .receiveReady(receive: 0, poll: true))
        #expect(wire.server.receive(bytes: rr) == [.send(answer)])
        let wrongRR = try HDLCFrame.encode(destination: meterAddress, source: clientAddress, control: .receiveReady(receive: 5, poll: true))
        #expect(wire.server.receive(bytes: wrongRR) == [.protocolError(.unexpectedAcknowledgement(expected: 0, received: 5))])
    }

    @Test func damagedFrameHandedInWholeIsReported() {
        var link = HDLCLink(.server(meterAddress))
        var bad = Golden.snrm
        bad[7] ^= 1
        #expect(link.receive(frame: bad) == [.protocolError(.badFrame(.fcsMismatch(at: 6, expected: 0x118C, actual: 0x108C)))])
    }

    @Test func reconnectAfterDisconnectStartsAtZero() throws {
        var wire = Wire(client: .client(clientAddress, server: meterAddress), server: .server(meterAddress))
        wire.run(fromClient: wire.client.connect())
        wire.run(fromClient: try wire.client.send(apdu: [1]))
        try wire.serverReplies([2])
        wire.run(fromClient: wire.client.disconnect())
        wire.run(fromClient: wire.client.connect())
        wire.controls = []
        wire.run(fromClient: try wire.client.send(apdu: [3]))
        #expect(wire.controls.map(\.control.byte) == [0x10])
        #expect(wire.serverNotices.last == .apdu([3]))
    }
}

@Suite struct MessageTests {
    /// Every error says what is wrong and, where a position is known, at which byte (counted from 1).
    @Test(arguments: [
        FrameError.truncated(needed: 9, available: 4),
        .missingOpeningFlag(found: 0x41),
        .missingClosingFlag(at: 8, found: 0),
        .unsupportedFormat(at: 1, found: 0x80),
        .lengthMismatch(at: 1, declared: 7, available: 6),
        .invalidAddress(at: 3, byteCount: 3),
        .unknownControl(at: 5, value: 0x09),
        .hcsMismatch(at: 7, expected: 1, actual: 2),
        .fcsMismatch(at: 6, expected: 1, actual: 2),
        .bufferTooSmall(needed: 9, available: 8),
        .infoTooLong(count: 3000, maximum: 2037),
        .addressOutOfRange(logical: 1, physical: 20000, width: .four),
        .invalidParameters(at: 3),
    ])
    func frameErrorsExplainThemselves(error: FrameError) {
        let text = error.description
        #expect(text.count > 40)
        #expect(text.contains(";") || text.contains(":"))
        switch error {
        case let .missingClosingFlag(at, _), let .unsupportedFormat(at, _), let .lengthMismatch(at, _, _),
             let .invalidAddress(at, _), let .unknownControl(at, _), let .hcsMismatch(at, _, _),
             let .fcsMismatch(at, _, _), let .invalidParameters(at):
            #expect(text.contains("byte \(at + 1)"), "\(text)")
        default:
            break
        }
    }

    @Test func linkMessages() {
        #expect(HDLCLink.Rejection.disconnectedMode.description.contains("reconnect"))
        #expect(HDLCLink.Rejection.frameReject(info: [0x10, 0, 1]).description.contains("FRMR 10 00 01"))
        #expect(HDLCLink.LinkError.notConnected.description.contains("connect"))
        #expect(HDLCLink.LinkError.badFrame(.missingOpeningFlag(found: 0)).description.contains("opening flag"))
        let counters = DeframerCounters()
        #expect(counters.description.hasPrefix("frames 0, garbage bytes 0"))
    }
}

@Suite struct WindowTests {
    /// With a window above 1 the peer may send several segments and poll only on the last it sends:
    /// only that one is acknowledged, with N(R) past all of them.
    @Test func onlyPolledSegmentsAreAcknowledged() throws {
        let client = try HDLCAddress.client(sap: 16)
        let meter = try HDLCAddress(logical: 1, physical: 17)
        let window = LinkParameters(maxInfoTransmit: 32, maxInfoReceive: 32, windowTransmit: 3, windowReceive: 3)
        var link = HDLCLink(.client(client, server: meter, parameters: window))
        _ = link.connect()
        _ = link.receive(bytes: try HDLCFrame.encode(destination: client, source: meter,
                                                     control: .unnumberedAcknowledge(final: true), info: window.encode()))
        #expect(link.parameters.windowReceive == 3)
        _ = try link.send(apdu: [0xC0])
        func segment(_ ns: UInt8, more: Bool, poll: Bool, _ info: [UInt8]) throws -> [UInt8] {
            try HDLCFrame.encode(destination: client, source: meter, control: .information(send: ns, receive: 1, poll: poll),
                                 segmented: more, info: info)
        }
        #expect(link.receive(bytes: try segment(0, more: true, poll: false, h("E6 E7 00 C4 01"))) == [])
        let rr = link.receive(bytes: try segment(1, more: true, poll: true, h("C1 00")))
        #expect(try frames(rr).map { try HDLCFrame.parse($0).control } == [.receiveReady(receive: 2, poll: true)])
        #expect(link.receive(bytes: try segment(2, more: false, poll: true, h("09 00"))) == [.apdu(h("C4 01 C1 00 09 00"))])
    }
}

@Suite struct HugeInfoTests {
    /// A max info size beyond what the 11-bit length allows is capped at what a frame can carry.
    @Test func segmentsNeverExceedAFrame() throws {
        let huge = LinkParameters(maxInfoTransmit: 4000, maxInfoReceive: 4000)
        let meter = try HDLCAddress(logical: 1, physical: 17)
        var wire = Wire(client: .client(try .client(sap: 1), server: meter, parameters: huge),
                        server: .server(meter, parameters: huge))
        wire.run(fromClient: wire.client.connect())
        #expect(wire.client.parameters.maxInfoTransmit == 4000)
        let apdu = [UInt8](repeating: 0x42, count: 3000)
        let first = frames(try wire.client.send(apdu: apdu))
        #expect(first.count == 1 && first[0].count == HDLCFrame.maximumLength + 2)
        wire.run(fromClient: [.send(first[0])])
        #expect(wire.serverNotices.last == .apdu(apdu))
    }
}
