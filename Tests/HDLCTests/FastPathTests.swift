import HDLC
import Testing

/// The allocation-free paths the benchmarks measure agree with the plain ones, byte for byte.
@Suite struct FastPathTests {
    static let addresses: [HDLCAddress] = [
        try! HDLCAddress(logical: 0, physical: 1, width: .one),
        try! HDLCAddress(logical: 1, physical: 17, width: .two),
        try! HDLCAddress(logical: 1, physical: 1234, width: .four),
    ]

    /// Framing an APDU written in place gives the same frame as copying it in.
    @Test(arguments: addresses, [0, 1, 13, 100])
    func infoInPlaceMatchesCopiedInfo(server: HDLCAddress, count: Int) throws {
        let client = try HDLCAddress.client(sap: 16)
        let info = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 0x7E) }
        for llc in [nil, LLCHeader.request] {
            let control = Control.information(send: 2, receive: 5, poll: true)
            let expected = try HDLCFrame.encode(destination: server, source: client, control: control,
                                                llc: llc, info: info)
            var buffer = [UInt8](repeating: 0xAA, count: 256)
            // (A Result, not a typed-throws closure: Swift 6.3's IRGen crashes on that thunk.)
            let n = try buffer.withUnsafeMutableBytes { raw -> Result<Int, FrameError> in
                let at = HDLCFrame.infoOffset(destination: server, source: client, llc: llc)
                for (i, b) in info.enumerated() { raw[at + i] = b }
                do throws(FrameError) {
                    return .success(try HDLCFrame.encode(into: raw, destination: server, source: client,
                                                         control: control, llc: llc, infoInPlace: count))
                } catch { return .failure(error) }
            }.get()
            #expect(Array(buffer.prefix(n)) == expected)
            #expect(try HDLCFrame.parse(expected).infoRange.count == count + (llc == nil ? 0 : 3))
        }
    }

    @Test func infoInPlaceRefusesASmallBuffer() throws {
        let client = try HDLCAddress.client(sap: 1)
        var buffer = [UInt8](repeating: 0, count: 20)
        let result = buffer.withUnsafeMutableBytes { raw -> Result<Int, FrameError> in
            do throws(FrameError) {
                return .success(try HDLCFrame.encode(into: raw, destination: Self.addresses[0], source: client,
                                                     control: .information(send: 0, receive: 0, poll: true),
                                                     llc: .request, infoInPlace: 10))
            } catch { return .failure(error) }
        }
        #expect(result == .failure(.bufferTooSmall(needed: 24, available: 20)))
    }

    /// `Control.isValid` accepts exactly the bytes `Control(byte:)` decodes.
    @Test func controlValidityMatchesTheDecoder() {
        for byte in UInt8.min...UInt8.max {
            #expect(Control.isValid(byte) == (Control(byte: byte) != nil), "control byte \(byte)")
        }
    }

    /// A frame's CRC run over its FCS as well ends at the residue the parser checks for.
    @Test func crcOverAFrameAndItsFCSIsTheResidue() {
        var x: UInt32 = 0x1234_5678
        for length in 0..<64 {
            let data = (0..<length).map { _ -> UInt8 in
                x ^= x << 13; x ^= x >> 17; x ^= x << 5
                return UInt8(truncatingIfNeeded: x)
            }
            let fcs = bitwiseCRC(data)
            var crc = CRC16()
            crc.update(data + [UInt8(fcs & 0xFF), UInt8(fcs >> 8)])
            #expect(crc.value ^ 0xFFFF == CRC16.goodResidue, "length \(length)")
        }
    }

    /// Every single-bit error in the FCS region of a valid I-frame is refused as an FCS mismatch that
    /// names the right expected value.
    @Test func corruptedFCSIsReportedWithTheExpectedValue() throws {
        let server = Self.addresses[2]
        let frame = try HDLCFrame.encode(destination: server, source: try HDLCAddress.client(sap: 32),
                                         control: .information(send: 0, receive: 1, poll: true),
                                         llc: .response, info: h("C4 01 C1 00 06 00 01 E2 40"))
        let fcsAt = frame.count - 3
        let good = UInt16(frame[fcsAt]) | UInt16(frame[fcsAt + 1]) << 8
        for bit in 0..<16 {
            var bad = frame
            bad[fcsAt + bit / 8] ^= 1 << UInt8(bit % 8)
            let actual = UInt16(bad[fcsAt]) | UInt16(bad[fcsAt + 1]) << 8
            #expect(throws: FrameError.fcsMismatch(at: fcsAt, expected: good, actual: actual)) {
                try HDLCFrame.parse(bad)
            }
        }
    }
}
