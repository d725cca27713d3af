import HDLC
import Testing

@Suite struct FrameGoldenTests {
    let client1 = try! HDLCAddress.client(sap: 1)
    let client16 = try! HDLCAddress.client(sap: 16)

    @Test func snrmEncodesAndDecodes() throws {
        let server = try HDLCAddress(logical: 0, physical: 1, width: .one)
        let bytes = try HDLCFrame.encode(destination: server, source: client1, control: .setNormalResponseMode(poll: true))
        #expect(bytes == Golden.snrm)
        let frame = try HDLCFrame.parse(Golden.snrm)
        #expect(frame.control == .setNormalResponseMode(poll: true))
        #expect(frame.destination == server)
        #expect(frame.source == client1)
        #expect(!frame.hasInfo && !frame.segmented && frame.count == 9)
    }

    @Test func discEncodesAndDecodes() throws {
        let server = try HDLCAddress(logical: 1, physical: 1, width: .two)
        let bytes = try HDLCFrame.encode(destination: server, source: client1, control: .disconnect(poll: true))
        #expect(bytes == Golden.disc)
        let frame = try HDLCFrame.parse(Golden.disc)
        #expect(frame.destination.logical == 1 && frame.destination.physical == 1 && frame.destination.byteCount == 2)
        #expect(frame.control == .disconnect(poll: true))
    }

    /// The AARQ frame of the facts: its header and HCS are given exactly; its AARQ body is elided there, so
    /// a 31-byte public-client AARQ (`60 1D ...`) stands in and the FCS is checked against the bit-wise CRC.
    @Test func aarqHeaderAndHCS() throws {
        let server = try HDLCAddress(logical: 1, physical: 17, width: .auto)
        let aarq = h("60 1D A1 09 06 07 60 85 74 05 08 01 01 BE 10 04 0E 01 00 00 00 06 5F 1F 04 00 00 7E 1F 04 B0")
        let bytes = try HDLCFrame.encode(destination: server, source: client16,
                                         control: .information(send: 0, receive: 0, poll: true),
                                         llc: .request, info: aarq)
        #expect(Array(bytes.prefix(14)) == Golden.aarqHeader + h("E6 E6 00 60 1D"))
        #expect(bytes.count == 0x2C + 2)
        let fcs = bitwiseCRC(Array(bytes[1..<(bytes.count - 3)]))
        #expect(bytes[bytes.count - 3] == UInt8(fcs & 0xFF) && bytes[bytes.count - 2] == UInt8(fcs >> 8))
        let frame = try HDLCFrame.parse(bytes)
        #expect(Array(bytes[frame.infoRange]) == h("E6 E6 00") + aarq)
        #expect(frame.control == .information(send: 0, receive: 0, poll: true))
    }

    @Test func flagInsideTheFCS() throws {
        let frame = try HDLCFrame.parse(Golden.flagInFCS)
        #expect(frame.control == .information(send: 0, receive: 1, poll: true))
        #expect(Array(Golden.flagInFCS[frame.infoRange]) == h("E6 E7 00 C4 01 C1 00 09 04 12 26 0B FF"))
        let server = try HDLCAddress(logical: 1, physical: 17)
        let again = try HDLCFrame.encode(destination: client16, source: server,
                                         control: .information(send: 0, receive: 1, poll: true),
                                         llc: .response, info: h("C4 01 C1 00 09 04 12 26 0B FF"))
        #expect(again == Golden.flagInFCS)
    }

    @Test func segmentationBitAndElevenBitLength() throws {
        let server = try HDLCAddress(logical: 1, physical: 17)
        let info = [UInt8](repeating: 0x5A, count: 600)
        let bytes = try HDLCFrame.encode(destination: client16, source: server,
                                         control: .information(send: 3, receive: 4, poll: true),
                                         segmented: true, info: info)
        let length = 2 + 1 + 2 + 1 + 2 + 600 + 2
        #expect(bytes[1] == 0xA8 | UInt8(length >> 8))
        #expect(bytes[2] == UInt8(length & 0xFF))
        let frame = try HDLCFrame.parse(bytes)
        #expect(frame.segmented)
        #expect(frame.infoRange.count == 600)
    }

    @Test func encodeIntoCallerBuffer() throws {
        let server = try HDLCAddress(logical: 0, physical: 1, width: .one)
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = try buffer.withUnsafeMutableBytes { raw throws(FrameError) in
            try HDLCFrame.encode(into: raw, destination: server, source: client1,
                                 control: .setNormalResponseMode(poll: true))
        }
        #expect(Array(buffer[0..<n]) == Golden.snrm)
        var small = [UInt8](repeating: 0, count: 8)
        #expect(throws: FrameError.bufferTooSmall(needed: 9, available: 8)) {
            _ = try small.withUnsafeMutableBytes { raw throws(FrameError) in
                try HDLCFrame.encode(into: raw, destination: server, source: client1,
                                     control: .setNormalResponseMode(poll: true))
            }
        }
    }

    @Test func infoTooLongIsRefused() throws {
        let server = try HDLCAddress(logical: 1, physical: 17)
        let maximum = HDLCFrame.maximumInfoCount(destination: server, source: client16)
        #expect(maximum == 2047 - 10)
        _ = try HDLCFrame.encode(destination: server, source: client16, control: .unnumberedInformation(poll: true),
                                 info: [UInt8](repeating: 1, count: maximum))
        #expect(throws: FrameError.infoTooLong(count: maximum + 1, maximum: maximum)) {
            try HDLCFrame.encode(destination: server, source: client16, control: .unnumberedInformation(poll: true),
                                 info: [UInt8](repeating: 1, count: maximum + 1))
        }
    }
}

@Suite struct FrameErrorTests {
    @Test func hcsMismatchSaysWhereAndWhat() {
        var bad = Golden.flagInFCS
        bad[7] = 0; bad[8] = 0
        #expect(throws: FrameError.hcsMismatch(at: 7, expected: 0xED59, actual: 0)) { try HDLCFrame.parse(bad) }
        let text = FrameError.hcsMismatch(at: 7, expected: 0x9FAF, actual: 0).description
        #expect(text == "HCS mismatch at byte 8: expected AF9F, got 0000; the line is noisy or the frame was cut")
    }

    @Test func fcsMismatch() {
        var bad = Golden.snrm
        bad[6] ^= 0xFF
        #expect(throws: FrameError.fcsMismatch(at: 6, expected: 0x118C, actual: 0x1173)) { try HDLCFrame.parse(bad) }
    }

    @Test func structuralErrors() {
        #expect(throws: FrameError.missingOpeningFlag(found: 0xA0)) { try HDLCFrame.parse(Array(Golden.snrm.dropFirst())) }
        #expect(throws: FrameError.lengthMismatch(at: 1, declared: 7, available: 6)) {
            try HDLCFrame.parse(Array(Golden.snrm.dropLast()))
        }
        #expect(throws: FrameError.lengthMismatch(at: 1, declared: 7, available: 8)) {
            try HDLCFrame.parse(Golden.snrm + [0x7E])
        }
        #expect(throws: FrameError.truncated(needed: 9, available: 2)) { try HDLCFrame.parse([0x7E, 0xA0]) }
        #expect(throws: FrameError.unsupportedFormat(at: 1, found: 0x80)) { try HDLCFrame.parse(h("7E 80 07 03 03 93 8C 11 7E")) }
        var noClose = Golden.snrm
        noClose[8] = 0x00
        #expect(throws: FrameError.missingClosingFlag(at: 8, found: 0)) { try HDLCFrame.parse(noClose) }
        // Three-byte address: 02 02 03.
        #expect(throws: FrameError.invalidAddress(at: 3, byteCount: 3)) { try HDLCFrame.parse(h("7E A0 09 02 02 03 03 53 00 00 7E")) }
        // Control 0x09 (REJ) is not used by IEC 62056-46.
        #expect(throws: FrameError.unknownControl(at: 5, value: 0x09)) { try HDLCFrame.parse(h("7E A0 07 03 03 09 00 00 7E")) }
    }
}
