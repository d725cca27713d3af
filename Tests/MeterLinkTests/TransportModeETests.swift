import Glibc
import Platform
import Testing

@testable import MeterLink

/// IEC 62056-21 mode E: the byte-level parsers, then the full exchange over a real pty pair with the meter
/// side (`ModeEResponder`) on its own thread.
@Suite struct TransportModeETests {
    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    // MARK: - Bytes

    @Test func messagesAreTheStandardBytes() {
        #expect(ModeE.request() == [0x2F, 0x3F, 0x21, 0x0D, 0x0A])
        #expect(ModeE.request(deviceAddress: "12345678") == Self.bytes("/?12345678!\r\n"))
        #expect(ModeE.acknowledgement(baudCode: 0x35) == [0x06, 0x32, 0x35, 0x32, 0x0D, 0x0A])
        #expect(ModeE.baudRates == [300, 600, 1200, 2400, 4800, 9600, 19200])
        #expect(ModeE.baudRate(forCode: 0x30) == 300)
        #expect(ModeE.baudRate(forCode: 0x36) == 19200)
        #expect(ModeE.baudRate(forCode: 0x37) == nil)
        #expect(ModeE.baudCode(forRate: 9600) == 0x35)
        #expect(ModeE.baudCode(forRate: 115200) == nil)
    }

    @Test func identificationIsParsed() throws {
        let id = try ModeEIdentification.parse(Self.bytes("/MSE5\\2MICROSTAR01\r\n"))
        #expect(id.manufacturer == "MSE")
        #expect(id.baudCode == 0x35)
        #expect(id.baudRate == 9600)
        #expect(id.offersHDLC)
        #expect(id.identification == "MICROSTAR01")
        #expect(id.encoded() == Self.bytes("/MSE5\\2MICROSTAR01\r\n"))

        let plain = try ModeEIdentification.parse(Self.bytes("/ISk6ABC123\r\n"))
        #expect(!plain.offersHDLC)
        #expect(plain.baudRate == 19200)
        #expect(plain.manufacturer == "ISk")
    }

    @Test(arguments: [
        ("/MSEE\\2X\r\n", LinkError.Kind.unsupported, "mode B meter"),
        ("/MSE8\\2X\r\n", .unsupported, "reserved baud code '8'"),
        ("/M1E5\\2X\r\n", .protocolViolation, "garbled mode E identification"),
        ("/MSE5\\2AB\u{01}C\r\n", .protocolViolation, "\\x01"),
        ("/MS\r\n", .protocolViolation, "garbled"),
        ("MSE5\\2X\r\n", .protocolViolation, "garbled"),
        ("/MSE5\\\r\n", .protocolViolation, "garbled"),
    ])
    func badIdentificationsAreExplained(line: String, kind: LinkError.Kind, says: String) {
        do {
            _ = try ModeEIdentification.parse(Self.bytes(line), peer: "/dev/ttyUSB0")
            Issue.record("\(line) parsed")
        } catch {
            #expect(error.kind == kind)
            #expect(error.description.contains(says), "\(error.description)")
            #expect(error.description.contains("/dev/ttyUSB0"))
        }
    }

    @Test func clientParserDropsEchoAndNoiseInEverySplit() throws {
        let request = ModeE.request()
        // Echo of the request, noise, then the identification; the parity bit set on some bytes (7E1 on a
        // line that delivers 8 bits).
        var stream = request + [0x00, 0x7F & 0x20] + Self.bytes("/MSE5\\2MICROSTAR01\r\n")
        stream[7] |= 0x80
        for split in 0...stream.count {
            var parser = ModeEClientParser(request: request)
            var id = try parser.consume(stream[..<split])
            if id == nil { id = try parser.consume(stream[split...]) }
            let found = try #require(id, "split at \(split)")
            #expect(found.identification == "MICROSTAR01")
            #expect(found.baudRate == 9600)
            #expect(parser.echoBytes == request.count)
        }
        var tooLong = ModeEClientParser(request: request)
        #expect(throws: LinkError.self) { _ = try tooLong.consume([0x2F] + [UInt8](repeating: 0x41, count: 200)) }
    }

    @Test func serverParserFindsRequestAndAcknowledgement() throws {
        var parser = ModeEServerParser()
        #expect(try parser.consume(Self.bytes("\0/?1234")) == nil)
        #expect(try parser.consume(Self.bytes("5678!\r\n")) == .request(address: "12345678"))
        #expect(try parser.consume(ModeE.acknowledgement(baudCode: 0x34)) == .acknowledgement(protocolControl: 0x32, baudCode: 0x34, modeControl: 0x32))
        #expect(throws: LinkError.self) { _ = try parser.consume(Self.bytes("/X!\r\n")) }
    }

    @Test func rateIsCappedByTheProbe() throws {
        let id = try ModeEIdentification.parse(Self.bytes("/MSE6\\2X\r\n"))
        #expect(ModeEOpener().chosenBaudCode(for: id) == 0x36)
        #expect(ModeEOpener(maximumBaudRate: 9600).chosenBaudCode(for: id) == 0x35)
        #expect(ModeEOpener(maximumBaudRate: 100).chosenBaudCode(for: id) == 0x30)
    }

    // MARK: - Over a pty pair

    /// Runs `body` on a thread with the pty's master; its result comes back through a queue.
    static func meter<T: Sendable>(
        _ pty: PseudoTerminal, _ body: @escaping @Sendable (SerialTransport) throws(LinkError) -> T
    ) throws -> (PlatformThread, BlockingQueue<Result<T, LinkError>>) {
        let results = BlockingQueue<Result<T, LinkError>>()
        let thread = try PlatformThread.spawn(name: "simulated meter") {
            results.push(Result { () throws(LinkError) -> T in try body(pty.master) })
        }
        return (thread, results)
    }

    func fullExchange(echo: Bool, address: String) throws {
        let pty = try PseudoTerminal()
        let probe = try SerialTransport(path: pty.slavePath, settings: .hdlc(baudRate: 2400))
        let responder = ModeEResponder(
            manufacturer: "MSE", baudCode: 0x35, identification: "MICROSTAR01",
            deviceAddress: address.isEmpty ? nil : address, echoesInput: echo)
        let (thread, results) = try Self.meter(pty) { master throws(LinkError) in
            let agreement = try responder.respond(on: master, deadline: .after(milliseconds: 5000))
            // Then HDLC: answer one frame with another, at the new rate.
            var frame = [UInt8](repeating: 0, count: 9)
            var got = 0
            while got < frame.count {
                got += try master.read(into: &frame, from: got, deadline: .after(milliseconds: 3000))
            }
            try master.write(frame.reversed(), deadline: .after(milliseconds: 1000))
            return (agreement, frame)
        }
        defer { thread.join() }

        let result = try ModeEOpener(deviceAddress: address).open(probe)
        #expect(result.identification.manufacturer == "MSE")
        #expect(result.identification.identification == "MICROSTAR01")
        #expect(result.baudRate == 9600)
        #expect(result.echoBytesDiscarded == (echo ? ModeE.request(deviceAddress: address).count + 6 : 0))
        #expect(probe.lineSettings.description == "9600 8N1")
        #expect(try probe.currentLineSettings().baudRate == 9600)
        #expect(probe.lineSettings.dtr == true)

        let snrm: [UInt8] = [0x7E, 0xA0, 0x07, 0x03, 0x21, 0x93, 0x0F, 0x01, 0x7E]
        try probe.write(snrm, deadline: .after(milliseconds: 1000))
        var reply = [UInt8](repeating: 0, count: 9)
        var got = 0
        while got < reply.count { got += try probe.read(into: &reply, from: got, deadline: .after(milliseconds: 3000)) }
        #expect(reply == snrm.reversed())

        let meterSide = try #require(results.pop(deadline: .after(milliseconds: 5000)))
        let (agreement, frame) = try meterSide.get()
        #expect(agreement == ModeEAgreement(requestedAddress: address, baudRate: 9600))
        #expect(frame == snrm)
        #expect(pty.master.lineSettings.description == "9600 8N1")
    }

    @Test func fullExchangeWithoutEcho() throws { try fullExchange(echo: false, address: "") }

    @Test func fullExchangeWithEchoingHead() throws { try fullExchange(echo: true, address: "") }

    @Test func fullExchangeWithDeviceAddressAndEcho() throws { try fullExchange(echo: true, address: "12345678") }

    @Test func silentMeterTimesOut() throws {
        let pty = try PseudoTerminal()
        let probe = try SerialTransport(path: pty.slavePath)
        do {
            _ = try ModeEOpener(identificationTimeoutMilliseconds: 200).open(probe)
            Issue.record("opening succeeded with nobody answering")
        } catch {
            #expect(error.kind == .timeout)
            #expect(error.description.hasPrefix("no answer from \(pty.slavePath) within 200 ms to the mode E sign-on \"/?!\\r\\n\""))
        }
    }

    @Test func onlyTheEchoComesBack() throws {
        // The meter under the head has another address: it stays silent, the head still echoes.
        let pty = try PseudoTerminal()
        let probe = try SerialTransport(path: pty.slavePath)
        let responder = ModeEResponder(deviceAddress: "AAAA", echoesInput: true)
        let (thread, results) = try Self.meter(pty) { master throws(LinkError) in
            try responder.respond(on: master, deadline: .after(milliseconds: 1500))
        }
        defer { thread.join() }
        do {
            _ = try ModeEOpener(deviceAddress: "BBBB", identificationTimeoutMilliseconds: 300).open(probe)
            Issue.record("opening succeeded against the wrong address")
        } catch {
            #expect(error.kind == .timeout)
            #expect(error.description.contains("only the echo of \"/?BBBB!\\r\\n\" came back"))
        }
        let meterSide = try #require(results.pop(deadline: .after(milliseconds: 5000)))
        #expect(throws: LinkError.self) { try meterSide.get() }
    }

    @Test func garbledIdentificationIsReported() throws {
        let pty = try PseudoTerminal()
        let probe = try SerialTransport(path: pty.slavePath)
        let (thread, results) = try Self.meter(pty) { master throws(LinkError) in
            var parser = ModeEServerParser()
            var buffer = [UInt8](repeating: 0, count: 32)
            while true {
                let n = try master.read(into: &buffer, deadline: .after(milliseconds: 3000))
                if try parser.consume(buffer[0..<n]) != nil { break }
            }
            try master.write(Self.bytes("/M\u{02}E5\\2XYZ\r\n"), deadline: .after(milliseconds: 1000))
            return true
        }
        defer { thread.join() }
        do {
            _ = try ModeEOpener(identificationTimeoutMilliseconds: 3000).open(probe)
            Issue.record("a garbled identification was accepted")
        } catch {
            #expect(error.kind == .protocolViolation)
            #expect(error.description.contains("garbled mode E identification from \(pty.slavePath): \"/M\\x02E5\\x5C2XYZ\\r\\n\""))
        }
        #expect(try results.pop(deadline: .after(milliseconds: 5000))?.get() == true)
    }
}
