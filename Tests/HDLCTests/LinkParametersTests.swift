import HDLC
import Testing

@Suite struct LinkParametersTests {
    @Test func emptyMeansDefaults() throws {
        #expect(try LinkParameters.decode([]) == .defaults)
        #expect(LinkParameters.defaults.encode(omittingDefaults: true) == [])
    }

    /// The Microstar UA's parameter field (max info in one byte, windows in four).
    @Test func microstarUAField() throws {
        let field = h("81 80 12 05 01 80 06 01 80 07 04 00 00 00 01 08 04 00 00 00 01")
        #expect(LinkParameters.defaults.encode() == field)
        #expect(try LinkParameters.decode(field) == .defaults)
    }

    @Test func twoByteSizesAndNegotiation() throws {
        let client = LinkParameters(maxInfoTransmit: 512, maxInfoReceive: 1024, windowTransmit: 1, windowReceive: 7)
        let field = client.encode()
        #expect(field == h("81 80 14 05 02 02 00 06 02 04 00 07 04 00 00 00 01 08 04 00 00 00 07"))
        #expect(try LinkParameters.decode(field) == client)
        // The meter's UA, its own view: it sends at most 128, receives at most 256, window 1.
        let meter = LinkParameters(maxInfoTransmit: 128, maxInfoReceive: 256, windowTransmit: 1, windowReceive: 1)
        let agreed = client.negotiated(withPeer: meter)
        #expect(agreed == LinkParameters(maxInfoTransmit: 256, maxInfoReceive: 128, windowTransmit: 1, windowReceive: 1))
    }

    /// As gurux-dlms's SNRM: only the parameters that differ from their defaults.
    @Test func omittingDefaultsLeavesOutEachDefault() throws {
        let p = LinkParameters(maxInfoTransmit: 128, maxInfoReceive: 32, windowTransmit: 1, windowReceive: 1)
        #expect(p.encode(omittingDefaults: true) == h("81 80 03 06 01 20"))
        #expect(try LinkParameters.decode(p.encode(omittingDefaults: true)) == p)
    }

    @Test func malformedFieldsAreRefused() {
        #expect(throws: FrameError.invalidParameters(at: 0)) { try LinkParameters.decode(h("80 80 00")) }
        #expect(throws: FrameError.invalidParameters(at: 2)) { try LinkParameters.decode(h("81 80 05 05 01")) }
        #expect(throws: FrameError.invalidParameters(at: 4)) { try LinkParameters.decode(h("81 80 03 05 05 01")) }
        #expect(throws: FrameError.invalidParameters(at: 5)) { try LinkParameters.decode(h("81 80 03 05 01 00")) }
    }
}
