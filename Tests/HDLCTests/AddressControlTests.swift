import HDLC
import Testing

@Suite struct AddressTests {
    @Test(arguments: [
        (UInt16(0), UInt16(1), AddressWidth.one, "03"),
        (0, 1, .two, "00 03"),
        (0, 1, .four, "00 00 00 03"),
        (0, 1, .auto, "03"),
        (1, 17, .two, "02 23"),
        (1, 17, .four, "00 02 00 23"),
        (1, 17, .auto, "02 23"),
        (1, 1, .two, "02 03"),
        (1, 1234, .auto, "00 02 12 A5"),
        (1, 1234, .four, "00 02 12 A5"),
        (0x3FFF, 0x3FFF, .four, "FE FE FE FF"),
    ])
    func serverByteForms(logical: UInt16, physical: UInt16, width: AddressWidth, wire: String) throws {
        let address = try HDLCAddress(logical: logical, physical: physical, width: width)
        #expect(hexOf(address.bytes) == wire)
    }

    @Test(arguments: [(UInt8(1), "03"), (16, "21"), (32, "41"), (127, "FF")])
    func clientSAPs(sap: UInt8, wire: String) throws {
        let client = try HDLCAddress.client(sap: sap)
        #expect(hexOf(client.bytes) == wire)
        #expect(client.sap == sap)
    }

    @Test func outOfRangeIsRefusedWithReason() {
        #expect(throws: FrameError.addressOutOfRange(logical: 1, physical: 1, width: .one)) {
            try HDLCAddress(logical: 1, physical: 1, width: .one)
        }
        #expect(throws: FrameError.addressOutOfRange(logical: 0, physical: 1234, width: .two)) {
            try HDLCAddress(logical: 0, physical: 1234, width: .two)
        }
        #expect(throws: FrameError.addressOutOfRange(logical: 0, physical: 0x4000, width: .auto)) {
            try HDLCAddress(logical: 0, physical: 0x4000)
        }
        #expect(throws: FrameError.self) { try HDLCAddress.client(sap: 128) }
        let message = FrameError.addressOutOfRange(logical: 0, physical: 1234, width: .two).description
        #expect(message.contains("1234") && message.contains("2-byte"))
    }

    @Test func sameStationAcrossWidths() throws {
        let one = try HDLCAddress(logical: 0, physical: 1, width: .one)
        let four = try HDLCAddress(logical: 0, physical: 1, width: .four)
        #expect(one != four)
        #expect(one.isSameStation(as: four))
    }
}

@Suite struct ControlTests {
    @Test(arguments: [
        (Control.setNormalResponseMode(poll: true), UInt8(0x93)),
        (.unnumberedAcknowledge(final: true), 0x73),
        (.disconnect(poll: true), 0x53),
        (.disconnectedMode(final: true), 0x1F),
        (.frameReject(final: true), 0x97),
        (.unnumberedInformation(poll: true), 0x13),
        (.information(send: 0, receive: 0, poll: true), 0x10),
        (.information(send: 1, receive: 1, poll: true), 0x32),
        (.information(send: 2, receive: 2, poll: true), 0x54),
        (.information(send: 0, receive: 1, poll: true), 0x30),
        (.information(send: 7, receive: 7, poll: false), 0xEE),
        (.receiveReady(receive: 0, poll: true), 0x11),
        (.receiveReady(receive: 1, poll: true), 0x31),
        (.receiveReady(receive: 7, poll: true), 0xF1),
        (.receiveNotReady(receive: 2, poll: true), 0x55),
    ])
    func byteForms(control: Control, byte: UInt8) {
        #expect(control.byte == byte)
        #expect(Control(byte: byte) == control)
    }

    /// Every byte decodes to nothing or to a control that encodes back to the same byte.
    @Test func everyByteRoundTripsOrIsRefused() {
        var known = 0
        for b in 0...255 {
            if let control = Control(byte: UInt8(b)) {
                #expect(control.byte == UInt8(b), "byte \(b)")
                known += 1
            }
        }
        // 128 I-frames, 16 RR, 16 RNR, 6 unnumbered x 2 (P/F) = 172
        #expect(known == 172)
    }
}
