import HDLC
import Testing

/// Frames the events ask to send, in order.
func frames(_ events: [HDLCLink.Event]) -> [[UInt8]] {
    events.compactMap { if case let .send(bytes) = $0 { return bytes } else { return nil } }
}

/// Events other than `.send`.
func notices(_ events: [HDLCLink.Event]) -> [HDLCLink.Event] {
    events.filter { if case .send = $0 { return false } else { return true } }
}

/// A client and a server link wired back to back, with a log of every frame's control byte.
struct Wire {
    var client: HDLCLink
    var server: HDLCLink
    var controls: [(toServer: Bool, control: Control)] = []
    var clientNotices: [HDLCLink.Event] = []
    var serverNotices: [HDLCLink.Event] = []

    init(client: HDLCLink.Configuration, server: HDLCLink.Configuration) {
        self.client = HDLCLink(client)
        self.server = HDLCLink(server)
    }

    /// Delivers frames back and forth until both sides are quiet.
    mutating func run(fromClient initial: [HDLCLink.Event]) {
        var toServer = frames(initial)
        clientNotices += notices(initial)
        var toClient: [[UInt8]] = []
        var rounds = 0
        while !toServer.isEmpty || !toClient.isEmpty {
            rounds += 1
            if rounds > 1_000 {
                // Record rather than trap, so that the rest of the suite still runs.
                Issue.record("the links never go quiet: \(controls.suffix(6).map(\.control.description))")
                return
            }
            for frame in toServer {
                controls.append((true, (try? HDLCFrame.parse(frame).control) ?? .unnumberedInformation(poll: false)))
                let events = server.receive(bytes: frame)
                toClient += frames(events)
                serverNotices += notices(events)
            }
            toServer = []
            for frame in toClient {
                controls.append((false, (try? HDLCFrame.parse(frame).control) ?? .unnumberedInformation(poll: false)))
                let events = client.receive(bytes: frame)
                toServer += frames(events)
                clientNotices += notices(events)
            }
            toClient = []
        }
    }

    mutating func serverReplies(_ apdu: [UInt8]) throws {
        let events = try server.send(apdu: apdu)
        var toClient = frames(events)
        var rounds = 0
        while !toClient.isEmpty {
            rounds += 1
            if rounds > 1_000 {
                Issue.record("the links never go quiet: \(controls.suffix(6).map(\.control.description))")
                return
            }
            let frame = toClient.removeFirst()
            controls.append((false, try HDLCFrame.parse(frame).control))
            let clientEvents = client.receive(bytes: frame)
            clientNotices += notices(clientEvents)
            for request in frames(clientEvents) {
                controls.append((true, try HDLCFrame.parse(request).control))
                let serverEvents = server.receive(bytes: request)
                serverNotices += notices(serverEvents)
                toClient += frames(serverEvents)
            }
        }
    }
}

@Suite struct LinkTests {
    let clientAddress = try! HDLCAddress.client(sap: 16)
    let meterAddress = try! HDLCAddress(logical: 1, physical: 17)

    @Test func clientSendsTheGoldenSNRMAndDISC() throws {
        var link = HDLCLink(.client(try HDLCAddress.client(sap: 1), server: try HDLCAddress(logical: 0, physical: 1)))
        #expect(link.connect() == [.send(Golden.snrm)])
        #expect(link.state == .connecting)
        var other = HDLCLink(.client(try HDLCAddress.client(sap: 1), server: try HDLCAddress(logical: 1, physical: 1)))
        #expect(other.disconnect() == [.send(Golden.disc)])
    }

    @Test func connectNegotiatesTheMinimum() throws {
        let proposal = LinkParameters(maxInfoTransmit: 256, maxInfoReceive: 256, windowTransmit: 1, windowReceive: 1)
        let offer = LinkParameters(maxInfoTransmit: 128, maxInfoReceive: 200, windowTransmit: 1, windowReceive: 1)
        var wire = Wire(client: .client(clientAddress, server: meterAddress, parameters: proposal),
                        server: .server(meterAddress, parameters: offer))
        wire.run(fromClient: wire.client.connect())
        let clientView = LinkParameters(maxInfoTransmit: 200, maxInfoReceive: 128, windowTransmit: 1, windowReceive: 1)
        #expect(wire.clientNotices == [.connected(clientView)])
        #expect(wire.serverNotices == [.connected(clientView.swapped)])
        #expect(wire.client.state == .connected && wire.server.state == .connected)
        #expect(wire.controls.map(\.control) == [.setNormalResponseMode(poll: true), .unnumberedAcknowledge(final: true)])
    }

    @Test func requestResponseAndDisconnect() throws {
        var wire = Wire(client: .client(clientAddress, server: meterAddress), server: .server(meterAddress))
        wire.run(fromClient: wire.client.connect())
        wire.run(fromClient: try wire.client.send(apdu: h("C0 01 C1 00 03 01 01 20 07 00 FF 02 00")))
        #expect(wire.serverNotices.last == .apdu(h("C0 01 C1 00 03 01 01 20 07 00 FF 02 00")))
        try wire.serverReplies(h("C4 01 C1 00 12 09 0B"))
        #expect(wire.clientNotices.last == .apdu(h("C4 01 C1 00 12 09 0B")))
        wire.run(fromClient: wire.client.disconnect())
        #expect(wire.clientNotices.last == .disconnected)
        #expect(wire.serverNotices.last == .disconnected)
        #expect(wire.controls.map(\.control.byte) == [0x93, 0x73, 0x10, 0x30, 0x53, 0x73])
    }
}

@Suite struct MicrostarGoldenTests {
    /// The seed notes expect the meter's UA to the golden SNRM to begin `7E A0 1E 03 03 73`: our server
    /// role, with the Microstar parameters (128-byte info fields, window 1), answers exactly so.
    @Test func uaToTheGoldenSNRM() throws {
        var meter = HDLCLink(.server(try HDLCAddress(logical: 0, physical: 1, width: .one)))
        let events = meter.receive(bytes: Golden.snrm)
        let ua = try #require(frames(events).first)
        #expect(Array(ua.prefix(6)) == h("7E A0 1E 03 03 73"))
        let frame = try HDLCFrame.parse(ua)
        #expect(try LinkParameters.decode(Array(ua[frame.infoRange])) == .defaults)
        #expect(notices(events) == [.connected(.defaults)])
    }
}
