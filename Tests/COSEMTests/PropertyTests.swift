import COSEM
import PropertyBased
import Testing

/// Builds a DataValue of any type from a byte script, so generated values shrink with their script.
struct ValueBuilder {
    var script: [UInt8]
    var index = 0

    mutating func byte() -> UInt8 {
        defer { index += 1 }
        return index < script.count ? script[index] : UInt8(truncatingIfNeeded: index &* 37)
    }

    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in byte() } }

    mutating func u16() -> UInt16 { UInt16(byte()) << 8 | UInt16(byte()) }
    mutating func u32() -> UInt32 { UInt32(u16()) << 16 | UInt32(u16()) }
    mutating func u64() -> UInt64 { UInt64(u32()) << 32 | UInt64(u32()) }

    mutating func value(depth: Int = 0) -> DataValue {
        let kind = Int(byte()) % (depth >= 4 ? 22 : 25)
        switch kind {
        case 0: return .null
        case 1: return .boolean(byte() & 1 == 1)
        case 2:
            let bits = Int(byte()) % 40
            var b = bytes((bits + 7) / 8)
            if bits % 8 != 0, !b.isEmpty { b[b.count - 1] &= UInt8(0xFF) << UInt8(8 - bits % 8) }
            return .bitString(BitString(bitCount: bits, bytes: b))
        case 3: return .doubleLong(Int32(bitPattern: u32()))
        case 4: return .doubleLongUnsigned(u32())
        case 5: return .octetString(bytes(Int(byte()) % 40 + (byte() == 0 ? 300 : 0)))
        case 6: return .visibleString(bytes(Int(byte()) % 20))
        case 7: return .utf8String(bytes(Int(byte()) % 20))
        case 8: return .bcd(byte())
        case 9: return .integer(Int8(bitPattern: byte()))
        case 10: return .long(Int16(bitPattern: u16()))
        case 11: return .unsigned(byte())
        case 12: return .longUnsigned(u16())
        case 13: return .long64(Int64(bitPattern: u64()))
        case 14: return .long64Unsigned(u64())
        case 15: return .enumerated(byte())
        case 16: return .float32(Float(bitPattern: u32()))
        case 17: return .float64(Double(bitPattern: u64()))
        case 18: return .dateTime(CosemDateTime(date: CosemDate(year: u16(), month: byte(), dayOfMonth: byte(), dayOfWeek: byte()),
                                                 time: CosemTime(hour: byte(), minute: byte(), second: byte(), hundredths: byte()),
                                                 deviation: Int16(bitPattern: u16()), clockStatus: ClockStatus(rawValue: byte())))
        case 19: return .date(CosemDate(year: u16(), month: byte(), dayOfMonth: byte(), dayOfWeek: byte()))
        case 20: return .time(CosemTime(hour: byte(), minute: byte(), second: byte(), hundredths: byte()))
        case 21:
            return .compactArray(CompactArray(typeDescription: [0x02, 0x02, 0x12, 0x06], contents: bytes(Int(byte()) % 3 * 6)))
        case 22, 23:
            let n = Int(byte()) % 6
            let elements = (0..<n).map { _ in value(depth: depth + 1) }
            return kind == 22 ? .array(elements) : .structure(elements)
        default:
            // A long array, so the 0x81/0x82 count forms are exercised.
            return .array((0..<(130 + Int(byte()) % 200)).map { _ in .unsigned(byte()) })
        }
    }
}

/// Runs `body`, recording any thrown error as a test failure (property closures cannot throw).
func checking(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) {
    do { try body() } catch { Issue.record("unexpected error: \(error)", sourceLocation: sourceLocation) }
}

let scriptGen = Gen.uint8(in: 0...255).array(of: 0...160)
let junkGen = Gen.uint8(in: 0...255).array(of: 0...96)

@Suite struct PropertyTests {
    @Test func dataEncodeThenDecodeIsIdentity() async {
        await propertyCheck(count: 500, input: scriptGen) { script in checking { () throws in
            var builder = ValueBuilder(script: script)
            let value = builder.value()
            let encoded = value.encoded
            #expect(try DataValue.decode(encoded) == value)
            // A-XDR is prefix-free: no strict prefix of an encoding is a complete value.
            let cut = script.first.map { Int($0) % Swift.max(1, encoded.count) } ?? 0
            #expect(throws: COSEMError.self) { try DataValue.decode(Array(encoded.prefix(cut))) }
        } }
    }

    @Test func anyBytesIntoTheDataDecoderTerminateWithoutTrap() async {
        await propertyCheck(count: 2000, input: junkGen) { junk in checking { () throws in
            if let value = try? DataValue.decode(junk) {
                // What decodes re-encodes to something that decodes to the same value.
                #expect(try DataValue.decode(value.encoded) == value)
            }
        } }
    }

    @Test func anyBytesIntoTheAPDUDecoderTerminateWithoutTrap() async {
        let prefixes: [[UInt8]] = [[0xC4, 0x01], [0xC4, 0x02], [0xC4, 0x03], [0xC0, 0x01], [0xC0, 0x03], [0x60], [0x61],
                                   [0x62], [0x63], [0xD8], [0x0E], []]
        await propertyCheck(count: 2000, input: Gen.int(in: 0...(prefixes.count - 1)), junkGen) { which, junk in checking { () throws in
            var input = prefixes[which] + junk
            // Give the BER APDUs a plausible outer length so their fields are reached.
            if which >= 5 && which <= 8 { input.insert(UInt8(truncatingIfNeeded: junk.count), at: 1) }
            if let apdu = try? APDU.decode(input) {
                #expect(try APDU.decode(apdu.encode()) == apdu)
            }
        } }
    }

    @Test func obisSpellingsRoundTrip() async {
        await propertyCheck(input: Gen.uint8(in: 0...255).array(of: 6...6)) { b in checking { () throws in
            let obis = ObisCode(bytes: b)!
            #expect(try ObisCode(parsing: obis.description) == obis)
            #expect(try ObisCode(parsing: obis.fullDescription) == obis)
            #expect(try ObisCode(parsing: obis.dottedDescription) == obis)
        } }
    }

    @Test func dateTimeUnixRoundTrip() async {
        // Years 1...9999 and any deviation within ±14 h, in both sign conventions.
        await propertyCheck(count: 500, input: Gen.int64(in: -62_000_000_000_000...253_000_000_000_000),
                            Gen.int16(in: -840...840), Gen.bool) { ms, deviation, standard in checking { () throws in
            let exact = ms - ((ms % 10) + 10) % 10
            let convention: DeviationConvention = standard ? .standard : .localMinusUTC
            let dt = CosemDateTime(unixMilliseconds: exact, deviation: deviation, convention: convention)
            #expect(try dt.unixMilliseconds(convention: convention) == exact)
            #expect(try CosemDateTime(bytes: dt.bytes) == dt)
        } }
    }

    @Test func aarqRoundTrip() async {
        await propertyCheck(input: Gen.uint8(in: 0...255).array(of: 0...300), Gen.uint32(in: 0...0xFF_FFFF),
                            Gen.uint16(in: 0...0xFFFF)) { password, conformance, pdu in checking { () throws in
            let aarq = AARQ(authentication: password.isEmpty ? .none : .lowLevel(password: password),
                            proposedConformance: Conformance(rawValue: conformance), maxReceivePDUSize: pdu)
            #expect(try AARQ.decode(aarq.encode()) == aarq)
        } }
    }

    @Test func blocksOfAnySizeReassemble() async {
        await propertyCheck(count: 200, input: scriptGen, Gen.int(in: 13...300), Gen.bool) { script, pdu, zeroBased in checking { () throws in
            var builder = ValueBuilder(script: script)
            let value = builder.value()
            let invoke = InvokeIdAndPriority(invokeId: 9)
            var reassembler = BlockReassembler(invoke: invoke)
            var result: [UInt8]? = nil
            for response in GetResponse.datablocks(invoke: invoke, data: value.encoded, maxPDUSize: pdu,
                                                   firstBlockNumber: zeroBased ? 0 : 1) {
                let wire = response.encode()
                #expect(wire.count <= Swift.max(pdu, 13))
                guard case let .withDatablock(_, block) = try GetResponse.decode(wire) else { Issue.record("not a block"); return }
                if case let .complete(bytes) = try reassembler.receive(block) { result = bytes }
            }
            #expect(try DataValue.decode(#require(result)) == value)
        } }
    }
}
