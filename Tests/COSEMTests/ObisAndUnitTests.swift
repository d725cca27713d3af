import COSEM
import Testing

@Suite struct ObisCodeTests {
    @Test(arguments: ["1-1:32.7.0", "1-1:32.7.0.255", "1-1:32.7.0*255", "1.1.32.7.0.255", "0101200700FF",
                      " 1-1:32.7.0 ", "1-1:32.7.0&255"])
    func parsesCommonSpellings(_ text: String) throws {
        let obis = try ObisCode(parsing: text)
        #expect(obis == ObisCode(1, 1, 32, 7, 0, 255))
        #expect(obis.bytes == [1, 1, 32, 7, 0, 255])
    }

    @Test func printsAllSpellings() throws {
        let obis = try ObisCode(parsing: "1-1:32.7.0")
        #expect(obis.description == "1-1:32.7.0")
        #expect(obis.fullDescription == "1-1:32.7.0.255")
        #expect(obis.dottedDescription == "1.1.32.7.0.255")
        #expect(ObisCode(0, 0, 96, 1, 0, 1).description == "0-0:96.1.0.1")
        #expect(try ObisCode(parsing: ObisCode(0, 0, 96, 1, 0, 1).description) == ObisCode(0, 0, 96, 1, 0, 1))
    }

    @Test func ordersByBytes() {
        let codes = [ObisCode(1, 1, 32, 7, 0), ObisCode(0, 0, 1, 0, 0), ObisCode(1, 1, 31, 7, 0), ObisCode(1, 1, 31, 7, 0, 1)]
        #expect(codes.sorted() == [ObisCode(0, 0, 1, 0, 0), ObisCode(1, 1, 31, 7, 0, 1), ObisCode(1, 1, 31, 7, 0), ObisCode(1, 1, 32, 7, 0)])
    }

    @Test(arguments: [
        ("", "empty"), ("1-1:32.7", "pattern"), ("1-1:256.7.0", "larger than 255"), ("1-1:32.7.0.255.1", "more than 6"),
        ("1.1.32.7.0", "needs 6 fields"), ("1-1:32.x.0", "not a digit"), ("1-1:32.7.", "ends with a separator"),
        ("1:1-32.7.0", "pattern"), ("1-1::32.7.0", "missing"),
    ])
    func rejectsBadText(_ text: String, _ reason: String) {
        let error = caught { () throws(COSEMError) in try ObisCode(parsing: text) }
        guard case let .invalidObis(t, why)? = error else {
            Issue.record("expected invalidObis for \(text), got \(String(describing: error))")
            return
        }
        #expect(t == text)
        #expect(why.contains(reason), "reason was: \(why)")
        #expect(error!.description.contains("A-B:C.D.E"))
    }
}

@Suite struct UnitCodeTests {
    @Test func standardCodes() {
        #expect(UnitCode(35).symbol == "V")
        #expect(UnitCode(35).name == "voltage")
        #expect(UnitCode(33).symbol == "A")
        #expect(UnitCode(44).symbol == "Hz")
        #expect(UnitCode(32).symbol == "varh")
        #expect(UnitCode(27).symbol == "W")
        #expect(UnitCode(30).symbol == "Wh")
        #expect(UnitCode(255).symbol == "count")
        #expect(UnitCode.volt == UnitCode(35))
        #expect(UnitCode(58).isKnown == false)
        #expect(UnitCode(58).symbol == "unit 58")
    }

    @Test func tableIsComplete() {
        // Every code 1...57 of IEC 62056-6-2 is defined (58/59 are not).
        for code in UInt8(1)...57 { #expect(UnitCode(code).isKnown, "unit \(code)") }
        for code in UInt8(60)...72 where code != 68 && code != 69 { #expect(UnitCode(code).isKnown, "unit \(code)") }
        for code in UInt8(128)...174 { #expect(UnitCode(code).isKnown, "unit \(code)") }
    }
}
