import HDLC
import Testing

@Suite struct FrameDescriptionTests {
    @Test func validFrameShowsEveryField() throws {
        let d = FrameDescription(Golden.flagInFCS)
        #expect(d.isValid)
        #expect(d.hasOpeningFlag && d.hasClosingFlag == true)
        #expect(d.format == 0xA017 && d.formatType == 3 && d.segmented == false && d.declaredLength == 0x17)
        #expect(d.destination == (try HDLCAddress.client(sap: 16)))
        #expect(d.source == (try HDLCAddress(logical: 1, physical: 17)))
        #expect(d.controlByte == 0x30 && d.control == .information(send: 0, receive: 1, poll: true))
        #expect(d.hcs == ChecksumVerdict(offset: 7, expected: 0xED59, actual: 0xED59))
        #expect(d.fcs == ChecksumVerdict(offset: 22, expected: 0x8C7E, actual: 0x8C7E))
        #expect(d.llc == .response)
        #expect(d.apdu == h("C4 01 C1 00 09 04 12 26 0B FF"))
        let text = d.description
        #expect(text.contains("HCS         59ED ok"))
        #expect(text.contains("FCS         7E8C ok"))
        #expect(text.contains("APDU        C4 01 C1 00 09 04 12 26 0B FF"))
        #expect(text.hasSuffix("valid frame"))
    }

    /// A bad checksum still shows the addresses, control and info, with expected and actual values.
    @Test func badChecksumsKeepTheFields() throws {
        var bytes = Golden.flagInFCS
        bytes[7] = 0; bytes[8] = 0
        bytes[22] = 0x12
        let d = FrameDescription(bytes)
        #expect(!d.isValid)
        #expect(d.destination == (try HDLCAddress.client(sap: 16)))
        #expect(d.control == .information(send: 0, receive: 1, poll: true))
        #expect(d.hcs == ChecksumVerdict(offset: 7, expected: 0xED59, actual: 0))
        #expect(d.fcs?.isValid == false && d.fcs?.actual == 0x8C12)
        #expect(d.apdu == h("C4 01 C1 00 09 04 12 26 0B FF"))
        #expect(d.problems.first == .hcsMismatch(at: 7, expected: 0xED59, actual: 0))
        #expect(d.description.contains("HCS mismatch at byte 8: expected 59ED, got 0000"))
    }

    @Test func cutFrameKeepsWhatArrived() {
        let d = FrameDescription(Array(Golden.flagInFCS.prefix(16)))
        #expect(!d.isValid)
        #expect(d.control != nil && d.hcs?.isValid == true)
        #expect(d.info == h("E6 E7 00 C4 01 C1 00"))
        #expect(d.fcs == nil)
        #expect(d.problems.contains(.lengthMismatch(at: 1, declared: 0x17, available: 15)))
    }

    @Test func pastedWithoutFlags() {
        let d = FrameDescription(Array(Golden.snrm.dropFirst().dropLast()))
        #expect(d.isValid)
        #expect(!d.hasOpeningFlag)
        #expect(d.control == .setNormalResponseMode(poll: true))
        #expect(d.fcs?.isValid == true)
    }

    @Test func notAFrame() {
        let d = FrameDescription(h("01 02 03"))
        #expect(d.problems == [.missingOpeningFlag(found: 0x01)])
        #expect(d.description.contains("no opening flag at byte 1: expected 7E, got 01"))
        #expect(FrameDescription([]).problems == [.truncated(needed: 9, available: 0)])
    }

    @Test func trailingBytesAreReported() {
        let d = FrameDescription(Golden.snrm + Golden.disc)
        #expect(!d.isValid)
        #expect(d.trailingCount == 10)
        #expect(d.control == .setNormalResponseMode(poll: true))
    }
}

/// Inputs the fuzzer found where the description once disagreed with the parser.
@Suite struct FrameDescriptionRegressionTests {
    @Test(arguments: ["7E A0 07 03 A0 93 8C 11 7E", "A0 08 7E 03 2C FF 7C A0"])
    func lengthTooShortForTheHeaderIsInvalid(hex: String) {
        let d = FrameDescription(h(hex))
        #expect(!d.isValid)
        #expect(d.problems.contains { if case .lengthMismatch = $0 { return true } else { return false } })
    }
}
