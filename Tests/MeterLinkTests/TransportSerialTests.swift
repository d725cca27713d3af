import Glibc
import Platform
import Testing

@testable import MeterLink

/// Real pseudo-terminals: the client side is a `SerialTransport` on the slave path, as the agent would open
/// an optical probe; the master plays the meter.
@Suite struct TransportSerialTests {
    /// termios of `path` as a second, independent opener sees it.
    static func kernelTermios(_ path: String) throws -> termios {
        let fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK)
        try #require(fd >= 0, "cannot open \(path) to inspect it")
        defer { close(fd) }
        var t = termios()
        try #require(tcgetattr(fd, &t) == 0)
        return t
    }

    static func readExactly(_ transport: some ByteTransport, count: Int) throws(LinkError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        var filled = 0
        let deadline = Deadline.after(milliseconds: 2000)
        while filled < count { filled += try transport.read(into: &buffer, from: filled, deadline: deadline) }
        return buffer
    }

    @Test func termiosIsAppliedAndSwitchesBetween7E1And8N1() throws {
        let pty = try PseudoTerminal()
        let port = try SerialTransport(path: pty.slavePath, settings: .hdlc(baudRate: 9600))
        defer { port.close() }

        var t = try Self.kernelTermios(pty.slavePath)
        #expect(cfgetospeed(&t) == speed_t(B9600))
        #expect(t.c_cflag & tcflag_t(CSIZE) == tcflag_t(CS8))
        #expect(t.c_cflag & tcflag_t(PARENB) == 0)
        #expect(t.c_cflag & tcflag_t(CLOCAL) != 0)
        #expect(t.c_lflag & tcflag_t(ICANON | ECHO | ISIG) == 0)
        #expect(t.c_iflag & tcflag_t(ICRNL | IXON) == 0)
        #expect(t.c_oflag & tcflag_t(OPOST) == 0)

        try port.apply(.iec62056Opening)
        t = try Self.kernelTermios(pty.slavePath)
        #expect(cfgetospeed(&t) == speed_t(B300))
        #expect(port.lineSettings.description == "300 7E1")
        // A Linux pty keeps CS8 and no parity whatever is asked (drivers/tty/pty.c): check the termios that
        // was handed to tcsetattr instead, which a UART driver honours.
        #expect(SerialTransport.isPseudoTerminal(port.fileDescriptor))
        let asked = SerialSettings.iec62056Opening.applied(to: t)
        #expect(asked.c_cflag & tcflag_t(CSIZE) == tcflag_t(CS7))
        #expect(asked.c_cflag & tcflag_t(PARENB | CLOCAL | CREAD) == tcflag_t(PARENB | CLOCAL | CREAD))
        #expect(asked.c_cflag & tcflag_t(PARODD | CSTOPB) == 0)
        #expect(asked.c_iflag & tcflag_t(INPCK) != 0)
        #expect(SerialSettings.decoded(from: asked, base: .hdlc()).description == "300 7E1")

        try port.apply(.hdlc(baudRate: 19200))
        t = try Self.kernelTermios(pty.slavePath)
        #expect(cfgetospeed(&t) == speed_t(B19200))
        #expect(t.c_cflag & tcflag_t(CSIZE) == tcflag_t(CS8))
        #expect(t.c_cflag & tcflag_t(PARENB) == 0)
        #expect(port.lineSettings == .hdlc(baudRate: 19200))
        #expect(try port.currentLineSettings().description == "19200 8N1")
    }

    @Test func bytesFlowBothWaysThroughThePty() throws {
        let pty = try PseudoTerminal()
        let port = try SerialTransport(path: pty.slavePath)
        defer { port.close() }
        // Every byte value, including CR, LF, XON/XOFF and ^C, must pass untouched (raw mode).
        let all = (0...255).map { UInt8($0) }
        try pty.master.write(all, deadline: .after(milliseconds: 2000))
        #expect(try Self.readExactly(port, count: all.count) == all)
        try port.write(all.reversed(), deadline: .after(milliseconds: 2000))
        #expect(try Self.readExactly(pty.master, count: all.count) == all.reversed())
        #expect(port.counters.bytesIn == 256)
        #expect(port.counters.bytesOut == 256)
    }

    @Test func secondOpenerIsRefused() throws {
        let pty = try PseudoTerminal()
        let first = try SerialTransport(path: pty.slavePath)
        do {
            _ = try SerialTransport(path: pty.slavePath)
            Issue.record("a second exclusive open succeeded")
        } catch {
            #expect(error.kind == .busy)
            #expect(error.description.contains("\(pty.slavePath) is in use by another process"))
        }
        first.close()
        let second = try SerialTransport(path: pty.slavePath)
        #expect(second.isOpen)
    }

    @Test func vanishedDeviceIsALinkErrorNotATrap() throws {
        let pty = try PseudoTerminal()
        let port = try SerialTransport(path: pty.slavePath)
        pty.close()  // the probe is unplugged
        var buffer = [UInt8](repeating: 0, count: 16)
        do {
            _ = try port.read(into: &buffer, deadline: .after(milliseconds: 2000))
            Issue.record("read from a vanished device returned data")
        } catch {
            #expect(error.kind == .vanished)
            #expect(error.description.contains("check that the probe is plugged in"))
        }
        do {
            try port.write([0x7E, 0xA0], deadline: .after(milliseconds: 2000))
            Issue.record("write to a vanished device succeeded")
        } catch {
            #expect(error.kind == .vanished)
        }
        #expect(port.counters.drops == 2)
        // Reopening fails cleanly while the device is gone, and the error can be retried later.
        do {
            try port.reopen(deadline: .after(milliseconds: 500))
            Issue.record("reopen of a vanished pty succeeded")
        } catch {
            #expect(error.isRecoverable)
        }
    }

    @Test func masterSeesTheClientGoAway() throws {
        let pty = try PseudoTerminal(keepSlaveOpen: false)
        let port = try SerialTransport(path: pty.slavePath)
        try port.write([1], deadline: .after(milliseconds: 1000))
        #expect(try Self.readExactly(pty.master, count: 1) == [1])
        port.close()
        var buffer = [UInt8](repeating: 0, count: 4)
        do {
            _ = try pty.master.read(into: &buffer, deadline: .after(milliseconds: 2000))
            Issue.record("master read data after the client left")
        } catch {
            #expect(error.kind == .vanished)
        }
    }

    @Test func readDeadlineAndInterOctetGap() throws {
        let pty = try PseudoTerminal()
        var settings = SerialSettings.hdlc()
        settings.interOctetGapMilliseconds = 40
        let port = try SerialTransport(path: pty.slavePath, settings: settings)
        var buffer = [UInt8](repeating: 0, count: 64)
        do {
            _ = try port.read(into: &buffer, deadline: .after(milliseconds: 100))
            Issue.record("read returned with nothing sent")
        } catch {
            #expect(error.kind == .timeout)
            #expect(error.description.contains("within 100 ms"))
        }
        #expect(port.counters.timeouts == 1)
        try pty.master.write([1, 2, 3, 4, 5], deadline: .after(milliseconds: 1000))
        let start = MonotonicInstant.now()
        let n = try port.read(into: &buffer, deadline: .after(milliseconds: 2000))
        #expect(n == 5)
        // The read waited for the line to be quiet for the gap before returning a partial buffer.
        #expect(MonotonicInstant.now().milliseconds(since: start) >= 40)
    }

    @Test func openErrorsAreExplained() {
        do {
            _ = try SerialTransport(path: "/dev/ttyNO-SUCH-PROBE")
            Issue.record("opened a missing device")
        } catch {
            #expect(error.kind == .notFound)
            #expect(error.description == "serial device /dev/ttyNO-SUCH-PROBE does not exist: check that the probe "
                + "is plugged in and the device path (--serial)")
        }
        do {
            _ = try SerialTransport(path: "/dev/null")
            Issue.record("/dev/null accepted as a serial port")
        } catch {
            #expect(error.kind == .invalidConfiguration)
            #expect(error.description.contains("/dev/null is not a serial port"))
        }
        do {
            let pty = try PseudoTerminal()
            _ = try SerialTransport(path: pty.slavePath, settings: .hdlc(baudRate: 1234))
            Issue.record("an unsupported rate was accepted")
        } catch {
            #expect(error.kind == .invalidConfiguration)
            #expect(error.description.contains("unsupported baud rate 1234"))
        }
    }
}
