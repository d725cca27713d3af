import Platform
import Testing

@testable import MeterLink

/// Loopback TCP only: nothing here may touch an address outside 127.0.0.0/8 or ::1.
@Suite struct TransportTCPTests {
    /// Reads until `count` bytes came or the deadline passed.
    static func readExactly(_ transport: some ByteTransport, count: Int, timeoutMilliseconds: Int64 = 2000) throws(LinkError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        var filled = 0
        let deadline = Deadline.after(milliseconds: timeoutMilliseconds)
        while filled < count {
            filled += try transport.read(into: &buffer, from: filled, deadline: deadline)
        }
        return buffer
    }

    func roundTrip(listenOn host: String, connectTo target: String) throws {
        let listener = try TCPListener(host: host, port: 0)
        #expect(listener.port != 0)
        let client = try TCPTransport(host: target, port: listener.port, timeoutMilliseconds: 2000)
        let server = try listener.accept(deadline: .after(milliseconds: 2000))
        defer { client.close(); server.close() }

        let request: [UInt8] = [0x7E, 0xA0, 0x07, 0x03, 0x21, 0x93, 0x0F, 0x01, 0x7E]
        try client.write(request, deadline: .after(milliseconds: 1000))
        #expect(try Self.readExactly(server, count: request.count) == request)
        let reply = (0..<200).map { UInt8($0 & 0xFF) }
        try server.write(reply, deadline: .after(milliseconds: 1000))
        #expect(try Self.readExactly(client, count: reply.count) == reply)

        #expect(client.counters.bytesOut == UInt64(request.count))
        #expect(client.counters.bytesIn == UInt64(reply.count))
        #expect(server.counters.bytesIn == UInt64(request.count))
        #expect(client.peerDescription.contains(String(listener.port)))
    }

    @Test func ipv4LoopbackRoundTrip() throws {
        try roundTrip(listenOn: "127.0.0.1", connectTo: "127.0.0.1")
    }

    @Test func ipv6LoopbackRoundTrip() throws {
        try roundTrip(listenOn: "::1", connectTo: "::1")
        let listener = try TCPListener(host: "::1", port: 0)
        #expect(listener.localDescription == "[::1]:\(listener.port)")
    }

    @Test func hostNameIsResolved() throws {
        try roundTrip(listenOn: "127.0.0.1", connectTo: "localhost")
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        let client = try TCPTransport(host: "localhost", port: listener.port, timeoutMilliseconds: 2000)
        #expect(client.peerDescription == "localhost (127.0.0.1:\(listener.port))")
    }

    @Test func refusedPortSaysNothingListens() throws {
        // A port that was just free: bind, note it, close.
        let port = try TCPListener(host: "127.0.0.1", port: 0).port
        do {
            _ = try TCPTransport(host: "127.0.0.1", port: port, timeoutMilliseconds: 2000)
            Issue.record("connect to a closed port succeeded")
        } catch {
            #expect(error.kind == .refused)
            #expect(error.description.contains("connection refused by 127.0.0.1:\(port)"))
            #expect(error.description.contains("nothing listens there, check DLMS_PORT"))
            #expect(error.systemError?.code != nil)
        }
    }

    @Test func connectTimesOutWhenTheBacklogIsFull() throws {
        // Backlog 0 with nobody accepting: once the accept queue is full Linux drops new SYNs, so the next
        // connect gets no answer at all, like a meter that is switched off.
        let listener = try TCPListener(host: "127.0.0.1", port: 0, backlog: 0)
        var fillers: [TCPTransport] = []
        var timeout: LinkError?
        for _ in 0..<16 {
            do {
                fillers.append(try TCPTransport(host: "127.0.0.1", port: listener.port, timeoutMilliseconds: 300))
            } catch {
                timeout = error
                break
            }
        }
        let error = try #require(timeout, "every connect succeeded: the backlog never filled")
        #expect(error.kind == .timeout)
        #expect(error.description == "no answer from 127.0.0.1:\(listener.port) within 300 ms while connecting: "
            + "check the meter's address (DLMS_HOST), that it is powered and on the network, and any firewall")
        #expect(fillers.count >= 1)
    }

    @Test func lookupFailureIsExplained() {
        do {
            _ = try TCPTransport(host: "no-such-meter.invalid", port: 3333, timeoutMilliseconds: 1000)
            Issue.record("a name in .invalid resolved")
        } catch {
            #expect(error.kind == .lookupFailed)
            #expect(error.description.hasPrefix("name lookup failed for no-such-meter.invalid: "))
        }
    }

    @Test func readDeadlineIsHonoured() throws {
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        let client = try TCPTransport(host: "127.0.0.1", port: listener.port, timeoutMilliseconds: 2000)
        let server = try listener.accept(deadline: .after(milliseconds: 2000))
        _ = server
        var buffer = [UInt8](repeating: 0, count: 64)
        let start = MonotonicInstant.now()
        do {
            _ = try client.read(into: &buffer, deadline: .after(milliseconds: 150))
            Issue.record("read returned without data")
        } catch {
            let elapsed = MonotonicInstant.now().milliseconds(since: start)
            #expect(error.kind == .timeout)
            #expect(elapsed >= 150)
            #expect(elapsed < 2000)
            #expect(error.description.contains("within 150 ms"))
        }
        #expect(client.counters.timeouts == 1)
    }

    @Test func peerCloseIsSeenAsDropped() throws {
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        let client = try TCPTransport(host: "127.0.0.1", port: listener.port, timeoutMilliseconds: 2000)
        let server = try listener.accept(deadline: .after(milliseconds: 2000))
        try server.write([1, 2, 3], deadline: .after(milliseconds: 1000))
        server.close()
        // The bytes sent before the close still arrive, then the end is reported.
        #expect(try Self.readExactly(client, count: 3) == [1, 2, 3])
        var buffer = [UInt8](repeating: 0, count: 16)
        do {
            _ = try client.read(into: &buffer, deadline: .after(milliseconds: 2000))
            Issue.record("read after peer close returned data")
        } catch {
            #expect(error.kind == .dropped)
            #expect(error.description.contains("dropped"))
        }
        // Writing into the closed connection ends in EPIPE/ECONNRESET (never SIGPIPE, which would kill us).
        var writeError: LinkError?
        let deadline = Deadline.after(milliseconds: 2000)
        while writeError == nil && !deadline.hasPassed {
            do { try client.write([0x7E], deadline: deadline) } catch { writeError = error }
        }
        #expect(writeError?.kind == .dropped)
        #expect(client.counters.drops >= 2)
    }

    @Test func discardInputDropsPendingBytesAndReopenReconnects() throws {
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        let client = try TCPTransport(host: "127.0.0.1", port: listener.port, timeoutMilliseconds: 2000)
        let server = try listener.accept(deadline: .after(milliseconds: 2000))
        try server.write([9, 9, 9, 9], deadline: .after(milliseconds: 1000))
        // Wait until the bytes are there (poll on the condition, no sleep), then discard them.
        #expect(try Poll.readable(client.fileDescriptor, deadline: .after(milliseconds: 2000)) == .ready)
        #expect(client.discardInput() == 4)
        #expect(client.counters.bytesDiscarded == 4)

        try client.reopen(deadline: .after(milliseconds: 2000))
        let second = try listener.accept(deadline: .after(milliseconds: 2000))
        try second.write([5], deadline: .after(milliseconds: 1000))
        #expect(try Self.readExactly(client, count: 1) == [5])
        #expect(client.counters.reconnects == 1)
        do {
            try second.reopen(deadline: .after(milliseconds: 100))
            Issue.record("an accepted connection reopened")
        } catch {
            #expect(error.kind == .unsupported)
        }
    }

    @Test func closedTransportRefusesUse() throws {
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        let client = try TCPTransport(host: "127.0.0.1", port: listener.port, timeoutMilliseconds: 2000)
        client.close()
        client.close()
        #expect(!client.isOpen)
        #expect(throws: LinkError.self) { try client.write([1], deadline: .after(milliseconds: 100)) }
        do {
            var buffer = [UInt8](repeating: 0, count: 4)
            _ = try client.read(into: &buffer, deadline: .after(milliseconds: 100))
        } catch {
            #expect(error.kind == .closed)
        }
    }

    @Test func acceptTimesOut() throws {
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        do {
            _ = try listener.accept(deadline: .after(milliseconds: 50))
            Issue.record("accept returned with no client")
        } catch {
            #expect(error.kind == .timeout)
        }
    }
}
