import COSEM
import HDLC
import MeterLink
import MeterSimulator
import Platform
import Testing

/// The simulator on real I/O (loopback TCP, a pty with mode E), talked to by the codebase's own transports,
/// mode E opener and HDLC link. Waits are reads with deadlines, never sleeps.
@Suite(.serialized) struct SimulatorServerTests {
    /// Writes the frames among `events` and reads until the link yields a non-send event (or the deadline).
    static func exchange(_ link: inout HDLCLink, _ events: [HDLCLink.Event], over transport: some ByteTransport,
                         timeoutMilliseconds: Int64 = 2000) throws(LinkError) -> [HDLCLink.Event] {
        var result: [HDLCLink.Event] = []
        var queue = events
        var buffer = [UInt8](repeating: 0, count: 2048)
        let deadline = Deadline.after(milliseconds: timeoutMilliseconds)
        while true {
            while let event = queue.first {
                queue.removeFirst()
                if case let .send(bytes) = event { try transport.write(bytes, deadline: deadline) } else { result.append(event) }
            }
            if !result.isEmpty { return result }
            let n = try transport.read(into: &buffer, deadline: deadline)
            queue += link.receive(bytes: Array(buffer[0..<n]))
        }
    }

    static func client(width: AddressWidth = .auto) throws -> HDLCLink {
        HDLCLink(.client(try HDLCAddress.client(sap: 16), server: try HDLCAddress(logical: 0, physical: 1, width: width)))
    }

    @Test func tcpClientsConnectAndFaultsChangeAtRunTime() throws {
        let server = SimulatorServer(configuration: SimulatorConfiguration())
        defer { server.stop() }
        let listener = try server.listen(host: "127.0.0.1", port: 0)
        #expect(listener.port != 0)

        let first = try TCPTransport(host: "127.0.0.1", port: listener.port, timeoutMilliseconds: 2000)
        let second = try TCPTransport(host: "127.0.0.1", port: listener.port, timeoutMilliseconds: 2000)
        defer { first.close(); second.close() }
        var a = try Self.client(), b = try Self.client(width: .four)
        #expect(try Self.exchange(&a, a.connect(), over: first).contains { if case .connected = $0 { true } else { false } })
        #expect(try Self.exchange(&b, b.connect(), over: second).contains { if case .connected = $0 { true } else { false } })

        server.faults = SimulatorFaults(silent: true)
        do {
            _ = try Self.exchange(&a, a.disconnect(), over: first, timeoutMilliseconds: 300)
            Issue.record("a silent meter answered")
        } catch {
            #expect(error.kind == .timeout)
        }
        server.faults = .none
        #expect(try Self.exchange(&a, a.disconnect(), over: first).contains(.disconnected))
        let counters = server.counters
        #expect(counters.connections == 2 && counters.linksOpened == 2 && counters.silentFrames == 1)
    }

    @Test func droppedTCPLinkIsClosedByTheMeter() throws {
        let server = SimulatorServer(configuration: SimulatorConfiguration(), faults: SimulatorFaults(dropAfterFrames: 1))
        defer { server.stop() }
        let listener = try server.listen(host: "127.0.0.1", port: 0)
        let transport = try TCPTransport(host: "127.0.0.1", port: listener.port, timeoutMilliseconds: 2000)
        defer { transport.close() }
        var link = try Self.client()
        do {
            _ = try Self.exchange(&link, link.connect(), over: transport)
            Issue.record("the link was not dropped")
        } catch {
            #expect(error.kind == .dropped)
        }
        #expect(server.counters.faultDrops == 1)
    }

    @Test func ptyWithModeEThenHDLC() throws {
        let server = SimulatorServer(configuration: SimulatorConfiguration())
        defer { server.stop() }
        let path = try server.serveSerial(modeE: true, responder: ModeEResponder(baudCode: 0x35, echoesInput: true))
        for _ in 0..<2 {
            let line = try SerialTransport(path: path)
            defer { line.close() }
            let opened = try ModeEOpener(turnaroundMilliseconds: 50).open(line)
            #expect(opened.baudRate == 9600)
            #expect(opened.identification.manufacturer == "MST")
            var link = try Self.client()
            #expect(try Self.exchange(&link, link.connect(), over: line).contains { if case .connected = $0 { true } else { false } })
            // DISC ends the session: the port goes back to waiting for a mode E sign-on.
            #expect(try Self.exchange(&link, link.disconnect(), over: line).contains(.disconnected))
        }
        #expect(server.counters.modeEOpenings == 2)
    }
}
