// Golden vectors for the protocol core, built in Embedded Swift for aarch64 and 32-bit ARM and run under
// qemu-user by `make cross-check` (cross/embedded-check.sh). On armv7 `Int` is 32 bits: the date-time and
// length checks below are the ones that would overflow or trap there if the core used `Int` carelessly.
// The expected values are fixed wire bytes from the Microstar notes and values computed independently
// (Python's datetime and struct), not produced by the code under test.
import COSEM
import HDLC

@_extern(c, "exit") func exit(_ status: Int32)

// One thread: the program runs the checks in order and prints as it goes.
nonisolated(unsafe) var passed = 0
nonisolated(unsafe) var failed = 0

func check(_ ok: Bool, _ name: String) {
    if ok {
        passed += 1
    } else {
        failed += 1
        print("FAIL \(name)")
    }
}

func hex(_ bytes: [UInt8]) -> String {
    let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "A", "B", "C", "D", "E", "F"]
    var s = ""
    for b in bytes {
        if !s.isEmpty { s.append(" ") }
        s.append(digits[Int(b >> 4)])
        s.append(digits[Int(b & 0x0F)])
    }
    return s
}

// MARK: CRC-16/X.25

func crcChecks() {
    let text: [UInt8] = Array("123456789".utf8)
    check(CRC16.checksum(text) == 0x906E, "CRC-16/X.25 check value 0x906E (slicing-by-8)")
    check(CRC16.checksumBytewise(text) == 0x906E, "CRC-16/X.25 check value 0x906E (byte-wise)")
    var crc = CRC16()
    crc.update(Array(text[0..<4]))
    for b in text[4...] { crc.update(byte: b) }
    check(crc.value == 0x906E, "CRC-16/X.25 fed in pieces")
    check(CRC16.tableEntry(table: 0, index: 1) == 0x1189 && CRC16.tableEntry(table: 0, index: 255) == 0x0F78,
          "CRC table entries 1 and 255")
}

// MARK: HDLC frames

func expectFrame(_ name: String, _ wire: [UInt8], destination: HDLCAddress, source: HDLCAddress,
                 control: Control) {
    do throws(FrameError) {
        let encoded = try HDLCFrame.encode(destination: destination, source: source, control: control)
        check(encoded == wire, "\(name) encodes to \(hex(wire)) (got \(hex(encoded)))")
        let frame = try HDLCFrame.parse(wire)
        check(frame.destination == destination && frame.source == source && frame.control == control
              && frame.infoRange.isEmpty && !frame.segmented,
              "\(name) parses back to its addresses and control")
    } catch {
        check(false, "\(name): \(error)")
    }
}

func frameChecks() {
    do throws(FrameError) {
        let client = try HDLCAddress.client(sap: 1)
        expectFrame("SNRM", [0x7E, 0xA0, 0x07, 0x03, 0x03, 0x93, 0x8C, 0x11, 0x7E],
                    destination: try HDLCAddress(logical: 0, physical: 1, width: .one), source: client,
                    control: .setNormalResponseMode(poll: true))
        expectFrame("DISC", [0x7E, 0xA0, 0x08, 0x02, 0x03, 0x03, 0x53, 0x09, 0xB1, 0x7E],
                    destination: try HDLCAddress(logical: 1, physical: 1), source: client,
                    control: .disconnect(poll: true))

        // Four-byte server address with a 14-bit physical part (Microstar: last 4 digits of the serial).
        let server = try HDLCAddress(logical: 1, physical: 1234, width: .four)
        check(server.bytes == [0x00, 0x02, 0x12, 0xA5], "4-byte address logical 1 physical 1234")
        let info: [UInt8] = [0xC0, 0x01, 0xC1, 0x00, 0x03, 0x01, 0x00, 0x01, 0x08, 0x00, 0xFF, 0x02, 0x00]
        let wire = try HDLCFrame.encode(destination: server, source: client,
                                        control: .information(send: 0, receive: 0, poll: true),
                                        llc: .request, info: info)
        let frame = try HDLCFrame.parse(wire)
        check(frame.destination.isSameStation(as: server) && frame.control.isInformation,
              "I-frame with LLC round trip: header")
        check(Array(wire[frame.infoRange]) == [0xE6, 0xE6, 0x00] + info || Array(wire[frame.infoRange]) == info,
              "I-frame with LLC round trip: info bytes")

        // Every single-byte corruption of the FCS is caught, never trapped on.
        var caught = 0
        for i in (wire.count - 3)..<(wire.count - 1) {
            var bad = wire
            bad[i] ^= 0x5A
            do throws(FrameError) { _ = try HDLCFrame.parse(bad) } catch { caught += 1 }
        }
        check(caught == 2, "corrupted FCS bytes are rejected")
        // Truncated at every length: an error each time, no trap.
        var truncations = 0
        for n in 0..<wire.count {
            do throws(FrameError) { _ = try HDLCFrame.parse(Array(wire[0..<n])) } catch { truncations += 1 }
        }
        check(truncations == wire.count, "every truncation of a frame is rejected")

        // The deframer finds both frames in a stream split at every byte, with garbage and shared flags.
        let snrm: [UInt8] = [0x7E, 0xA0, 0x07, 0x03, 0x03, 0x93, 0x8C, 0x11, 0x7E]
        let stream: [UInt8] = [0x00, 0x42] + snrm + wire.dropFirst()
        var deframer = Deframer()
        var frames: [[UInt8]] = []
        for b in stream { frames += deframer.feed([b]) }
        check(frames.count == 2, "deframer: two frames from a byte-by-byte stream (got \(frames.count))")
    } catch {
        check(false, "frame checks: \(error)")
    }
}

// MARK: COSEM

func dateTimeChecks() {
    do throws(COSEMError) {
        // Local 2026-11-22 04:57:05.25 at UTC+1 (deviation -60, the Blue Book sign) = 03:57:05.25Z.
        let local = CosemDateTime(year: 2026, month: 11, day: 22, hour: 4, minute: 57, second: 5,
                                  hundredths: 25, deviation: -60, clockStatus: ClockStatus(rawValue: 0))
        check(try local.unixMilliseconds() == 1_795_319_825_250, "date-time to Unix ms (needs 41 bits)")
        check(local.date.dayOfWeek == 7, "day of week of 2026-11-22 (Sunday = 7)")
        check(local.bytes == [0x07, 0xEA, 0x0B, 0x16, 0x07, 0x04, 0x39, 0x05, 0x19, 0xFF, 0xC4, 0x00],
              "date-time wire bytes")
        let decoded = try CosemDateTime(bytes: local.bytes)
        check(decoded == local, "date-time decodes from its bytes")

        // Past 2^32 seconds: would overflow a 32-bit Int many times over, and UInt32 seconds.
        let far = CosemDateTime(year: 2106, month: 2, day: 7, hour: 6, minute: 28, second: 16,
                                deviation: 0, clockStatus: ClockStatus(rawValue: 0))
        check(try far.unixMilliseconds() == 4_294_967_296_000, "2106-02-07 06:28:16Z is 2^32 s")
        let back = CosemDateTime(unixMilliseconds: 4_294_967_296_000, deviation: 0)
        check(back.date.year == 2106 && back.date.month == 2 && back.date.dayOfMonth == 7
              && back.time.hour == 6 && back.time.minute == 28 && back.time.second == 16,
              "Unix ms back to a date-time past 2^32 s")

        // Not-specified fields are an error, not a garbage timestamp.
        let unspecified = CosemDateTime(year: 0xFFFF, month: 1, day: 1, hour: 0, minute: 0, second: 0)
        var threw = false
        do throws(COSEMError) { _ = try unspecified.unixMilliseconds() } catch { threw = true }
        check(threw, "unspecified year is rejected")
    } catch {
        check(false, "date-time checks: \(error)")
    }
}

func expectDecode(_ name: String, _ wire: [UInt8], _ expected: DataValue) {
    do throws(COSEMError) {
        let value = try DataValue.decode(wire)
        check(value == expected, "\(name) decodes (got \(value))")
        var out: [UInt8] = []
        value.encode(into: &out)
        check(out == wire, "\(name) re-encodes to \(hex(wire)) (got \(hex(out)))")
    } catch {
        check(false, "\(name): \(error)")
    }
}

func expectReject(_ name: String, _ wire: [UInt8]) {
    var threw = false
    do throws(COSEMError) { _ = try DataValue.decode(wire) } catch { threw = true }
    check(threw, "\(name) is rejected without a trap")
}

func dataChecks() {
    expectDecode("double-long-unsigned 123456", [0x06, 0x00, 0x01, 0xE2, 0x40], .doubleLongUnsigned(123_456))
    expectDecode("double-long -2", [0x05, 0xFF, 0xFF, 0xFF, 0xFE], .doubleLong(-2))
    expectDecode("long64-unsigned 2^63+1", [0x15, 0x80, 0, 0, 0, 0, 0, 0, 0x01],
                 .long64Unsigned(9_223_372_036_854_775_809))
    expectDecode("long64 -2^40", [0x14, 0xFF, 0xFF, 0xFF, 0x00, 0, 0, 0, 0], .long64(-1_099_511_627_776))
    expectDecode("float64 pi", [0x18, 0x40, 0x09, 0x21, 0xFB, 0x54, 0x44, 0x2D, 0x18], .float64(3.141592653589793))
    expectDecode("float32 230.5", [0x17, 0x43, 0x66, 0x80, 0x00], .float32(230.5))
    expectDecode("scaler_unit {-2, Wh}", [0x02, 0x02, 0x0F, 0xFE, 0x16, 0x1E],
                 .structure([.integer(-2), .enumerated(30)]))
    var long: [UInt8] = [0x09, 0x82, 0x01, 0x2C]
    long += [UInt8](repeating: 0xA5, count: 300)
    expectDecode("octet-string of 300 bytes (82 01 2C length)", long, .octetString([UInt8](repeating: 0xA5, count: 300)))

    // Lengths that do not fit a 32-bit Int, or exceed the input, must throw on every target.
    expectReject("octet-string claiming 2^32-1 bytes", [0x09, 0x84, 0xFF, 0xFF, 0xFF, 0xFF, 0x00])
    expectReject("array claiming 2^31 elements", [0x01, 0x84, 0x80, 0x00, 0x00, 0x00, 0x00])
    expectReject("octet-string with 8-byte length form", [0x09, 0x88, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
    expectReject("truncated double-long-unsigned", [0x06, 0x00, 0x01])
    expectReject("unknown tag 0xFE", [0xFE, 0x00])

    do throws(COSEMError) {
        let response = try GetResponse.decode([0xC4, 0x01, 0xC1, 0x00, 0x06, 0x00, 0x00, 0x30, 0x39])
        if case let .normal(invoke, result) = response {
            check(invoke.invokeId == 1 && invoke.isHighPriority, "GET-Response-Normal invoke-id-and-priority C1")
            check(try result.get() == .doubleLongUnsigned(12_345), "GET-Response-Normal value 12345")
        } else {
            check(false, "GET-Response-Normal decodes as normal")
        }
        let obis = try ObisCode(parsing: "1.0.1.8.0.255")
        check(obis.bytes == [1, 0, 1, 8, 0, 255], "OBIS 1.0.1.8.0.255 parses to its bytes")
    } catch {
        check(false, "GET/OBIS checks: \(error)")
    }
}

// MARK: Security framing (issue 12)

// The parts of suite 0 that do not need AES (the seam is OpenSSL's, not built here): the security header
// and ciphered APDU layout of security-facts.md vector 1, the IEC 62056-47 header, and the 32-bit edges of
// the invocation counter (UInt32.max must be usable once, then never again, with a 32-bit Int).
func securityChecks() {
    do throws(COSEMError) {
        let sc30: [UInt8] = [0xC8, 0x1E, 0x30, 0x01, 0x23, 0x45, 0x67, 0x41, 0x13, 0xD3, 0xFF, 0x93, 0x5A, 0x47, 0x56, 0x68,
                             0x27, 0xC4, 0x67, 0xBC, 0x59, 0x7F, 0x9F, 0xD4, 0xFA, 0xB3, 0x70, 0x0D, 0xBB, 0x3B, 0xC3, 0x30]
        let apdu = try CipheredAPDU.parse(sc30)
        check(apdu.plainTag == 0xC0 && apdu.security == .authenticatedEncrypted, "glo-get-request SC 0x30")
        check(apdu.invocationCounter == 0x0123_4567, "invocation counter 0x01234567")
        check(apdu.text == 7..<20 && apdu.authenticationTag == 20..<32 && apdu.end == 32, "ciphertext and tag ranges")
        let wrapper: [UInt8] = [0x00, 0x01, 0x00, 0x10, 0x00, 0x01, 0x00, 0x1F]
        let header = try WrapperHeader.parse(wrapper)
        check(header.source == 16 && header.destination == 1 && header.length == 31, "wrapper header 16 -> 1, 31 bytes")
        check(header.bytes == wrapper, "wrapper header re-encodes")
    } catch {
        check(false, "security framing: \(error.description)")
    }
    var counter = InvocationCounter(next: .max)
    check((try? counter.take()) == UInt32.max, "invocation counter 0xFFFFFFFF is used once")
    check(counter.next == nil && (try? counter.take()) == nil, "then the counter is exhausted")
    var replay = ReplayGuard()
    replay.accept(0xFFFF_FFFE)
    check((try? replay.check(0xFFFF_FFFF)) != nil && (try? replay.check(0x7FFF_FFFF)) == nil,
          "replay guard compares counters above 2^31")
}

// MARK: Float ABI guard

// On armv7 the objects must use the hard-float calling convention of Debian armhf's libm; a soft-float build
// passes doubles in core registers and ceil() would return garbage.
@_extern(c, "ceil") func ceil(_ x: Double) -> Double

@main
struct CrossCheck {
    static func main() {
        check(ceil(2.25) == 3.0, "float ABI matches the C library (ceil(2.25) == 3)")
        crcChecks()
        frameChecks()
        dateTimeChecks()
        dataChecks()
        securityChecks()
        print("cross-check: \(passed) passed, \(failed) failed (Int is \(Int.bitWidth) bits)")
        exit(failed == 0 && passed > 0 ? 0 : 1)
    }
}
