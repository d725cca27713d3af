import HDLC
import Testing

@Suite struct CRC16Tests {
    @Test func checkValue() {
        let check = Array("123456789".utf8)
        #expect(CRC16.checksum(check) == 0x906E)
        #expect(CRC16.checksumBytewise(check) == 0x906E)
        #expect(bitwiseCRC(check) == 0x906E)
    }

    @Test func byteWiseTableEnds() {
        #expect(CRC16.tableEntry(table: 0, index: 0) == 0x0000)
        #expect(CRC16.tableEntry(table: 0, index: 1) == 0x1189)
        #expect(CRC16.tableEntry(table: 0, index: 255) == 0x0F78)
    }

    /// Every entry of the eight tables, recomputed from the polynomial: a wrong literal fails here.
    @Test func allTablesMatchThePolynomial() {
        var t0 = [UInt16](repeating: 0, count: 256)
        for i in 0..<256 {
            var c = UInt16(i)
            for _ in 0..<8 { c = c & 1 == 1 ? (c >> 1) ^ 0x8408 : c >> 1 }
            t0[i] = c
        }
        var previous = t0
        for i in 0..<256 { #expect(CRC16.tableEntry(table: 0, index: i) == t0[i]) }
        for k in 1..<8 {
            var current = [UInt16](repeating: 0, count: 256)
            for i in 0..<256 { current[i] = (previous[i] >> 8) ^ t0[Int(previous[i] & 0xFF)] }
            for i in 0..<256 { #expect(CRC16.tableEntry(table: k, index: i) == current[i], "table \(k) entry \(i)") }
            previous = current
        }
    }

    /// Slicing-by-8 against the bit-by-bit reference at every length 0...100 (all tail lengths, all
    /// alignments of the 8-byte blocks) and with incremental updates split anywhere.
    @Test func slicedMatchesBitwiseAtEveryLength() {
        var state: UInt32 = 0x1234_5678
        let data: [UInt8] = (0..<100).map { _ in
            state = state &* 1_664_525 &+ 1_013_904_223
            return UInt8(truncatingIfNeeded: state >> 24)
        }
        for n in 0...data.count {
            let slice = Array(data[0..<n])
            let expected = bitwiseCRC(slice)
            #expect(CRC16.checksum(slice) == expected, "length \(n)")
            #expect(CRC16.checksumBytewise(slice) == expected, "length \(n)")
            var crc = CRC16()
            let split = n / 3
            crc.update(Array(slice[0..<split]))
            for b in slice[split..<(split + (n - split) / 2)] { crc.update(byte: b) }
            crc.update(Array(slice[(split + (n - split) / 2)...]))
            #expect(crc.value == expected, "split length \(n)")
        }
    }

    @Test func goldenFrameChecksums() {
        // The SNRM's FCS covers format through control and is sent low byte first: 8C 11.
        #expect(CRC16.checksum(h("A0 07 03 03 93")) == 0x118C)
        #expect(CRC16.checksum(h("A0 2C 02 23 21 10")) == 0x9FAF)
    }
}
