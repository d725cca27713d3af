import HDLC
import Testing

/// Feeds `chunks` one after the other and collects the frames.
func deframe(_ chunks: [[UInt8]], capacity: Int = Deframer.defaultCapacity) -> ([[UInt8]], DeframerCounters) {
    var deframer = Deframer(capacity: capacity)
    var out: [[UInt8]] = []
    for chunk in chunks {
        deframer.feed(chunk) { frame, bytes in
            #expect(frame.start == 0 && frame.count == bytes.count)
            out.append(Array(bytes))
        }
    }
    return (out, deframer.counters)
}

@Suite struct DeframerTests {
    static let ua = try! HDLCFrame.encode(
        destination: try! .client(sap: 1), source: try! HDLCAddress(logical: 0, physical: 1),
        control: .unnumberedAcknowledge(final: true), info: LinkParameters.defaults.encode())
    static let bigI = try! HDLCFrame.encode(
        destination: try! .client(sap: 16), source: try! HDLCAddress(logical: 1, physical: 1234),
        control: .information(send: 2, receive: 3, poll: true), segmented: true,
        info: (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7) } + [0x7E, 0x7E])
    /// Five frames, one with `7E` in its FCS and one with `7E` in its info field.
    static let frames = [Golden.snrm, ua, Golden.flagInFCS, bigI, Golden.disc]
    static let stream = frames.flatMap { $0 }

    /// Like swift-nio's ByteToMessageDecoderVerifier: the same frames whatever the chunking.
    @Test func everySplitYieldsTheSameFrames() {
        let s = Self.stream
        // Byte by byte.
        let (single, c1) = deframe(s.map { [$0] })
        #expect(single == Self.frames)
        #expect(c1.frames == 5 && c1.discardedFrames == 0 && c1.garbageBytes == 0)
        // Every split into two chunks.
        for i in 0...s.count {
            let (got, counters) = deframe([Array(s[..<i]), Array(s[i...])])
            #expect(got == Self.frames, "split at \(i)")
            #expect(counters.discardedFrames == 0 && counters.garbageBytes == 0, "split at \(i)")
        }
        // Every split into three chunks around the first three frames (all pairs would be 170k runs).
        let head = Self.frames[0].count + Self.frames[1].count + Self.frames[2].count + 4
        for i in 0...head {
            for j in i...head {
                let (got, _) = deframe([Array(s[..<i]), Array(s[i..<j]), Array(s[j...])])
                #expect(got == Self.frames, "split at \(i), \(j)")
            }
        }
    }

    @Test func sharedFlagsBetweenFrames() {
        // The closing flag of one frame opens the next.
        let shared = Golden.snrm + Golden.disc.dropFirst() + Golden.flagInFCS.dropFirst()
        let (got, counters) = deframe([Array(shared)])
        #expect(got == [Golden.snrm, Golden.disc, Golden.flagInFCS])
        #expect(counters.frames == 3 && counters.repeatedFlags == 0 && counters.discardedFrames == 0)
    }

    @Test func garbageBeforeAndBetweenIsCounted() {
        let (got, counters) = deframe([h("01 02 03") + Golden.snrm + h("55 AA") + Golden.disc])
        #expect(got == [Golden.snrm, Golden.disc])
        #expect(counters.garbageBytes == 5)
        #expect(counters.malformedHeaders == 0)
    }

    @Test func repeatedFlagsAreCounted() {
        let (got, counters) = deframe([h("7E 7E") + Golden.snrm + h("7E 7E") + Golden.disc])
        #expect(got == [Golden.snrm, Golden.disc])
        // Two before the SNRM's own flag; after its closing flag, two more and the DISC's opening flag.
        #expect(counters.repeatedFlags == 5)
        #expect(counters.discardedFrames == 0)
    }

    @Test func badHCSIsCountedAndTheNextFrameFound() {
        var bad = Golden.flagInFCS
        bad[8] ^= 0x01
        let (got, counters) = deframe([bad + Golden.disc])
        #expect(got == [Golden.disc])
        #expect(counters.hcsErrors == 1)
    }

    @Test func badFCSIsCountedAndTheNextFrameFound() {
        var bad = Golden.flagInFCS
        bad[12] ^= 0x40  // an info byte: the HCS passes, the FCS fails
        let (got, counters) = deframe([bad + Golden.snrm])
        #expect(got == [Golden.snrm])
        #expect(counters.fcsErrors == 1)
        #expect(counters.hcsErrors == 0)
    }

    /// A frame cut after its (valid) header, then a complete frame inside the cut frame's declared length:
    /// the cut frame is dropped and the complete one delivered.
    @Test func truncatedFrameThenAFrame() {
        let cut = Array(Golden.flagInFCS.prefix(15))
        let (got, counters) = deframe([cut + Golden.disc + Golden.snrm])
        #expect(got == [Golden.disc, Golden.snrm])
        #expect(counters.truncatedFrames + counters.fcsErrors == 1)
        // The FCS check fails at the length the cut frame declares; its 14 bytes after the flag become garbage.
        #expect(counters.garbageBytes == 14)
    }

    @Test func truncatedFrameWithMissingClosingFlag() {
        var noFlag = Golden.snrm
        noFlag[8] = 0x00
        let (got, counters) = deframe([noFlag + Golden.disc])
        #expect(got == [Golden.disc])
        #expect(counters.truncatedFrames == 1)
    }

    /// The caller's inter-frame timeout gives up a frame that stopped arriving.
    @Test func abandonedPartialFrame() {
        var deframer = Deframer()
        #expect(deframer.feed(Array(Golden.flagInFCS.prefix(12))).isEmpty)
        #expect(deframer.hasPartialFrame)
        deframer.abandonPartialFrame()
        #expect(deframer.feed([]).isEmpty)
        #expect(deframer.counters.truncatedFrames == 1)
        #expect(deframer.feed(Golden.snrm) == [Golden.snrm])
        #expect(!deframer.hasPartialFrame)
    }

    @Test func oversizeLengthIsCountedAndSkipped() {
        let (got, counters) = deframe([Self.bigI + Golden.snrm], capacity: 64)
        #expect(got == [Golden.snrm])
        #expect(counters.oversizeFrames == 1)
    }

    @Test func malformedHeadersAreCounted() {
        // 7E then a format byte that is not type 3; 7E A0 with a length too small for a frame.
        let (got, counters) = deframe([h("7E 12 34") + h("7E A0 03") + Golden.snrm])
        #expect(got == [Golden.snrm])
        #expect(counters.malformedHeaders == 2)
    }

    @Test func closingFlagThenNoiseIsGarbageNotAMalformedHeader() {
        let (got, counters) = deframe([Golden.snrm + h("01 02") + Golden.disc])
        #expect(got == [Golden.snrm, Golden.disc])
        #expect(counters.malformedHeaders == 0 && counters.garbageBytes == 2)
    }

    @Test func largestFrameFitsTheDefaultCapacity() throws {
        let server = try HDLCAddress(logical: 1, physical: 17)
        let client = try HDLCAddress.client(sap: 16)
        let info = [UInt8](repeating: 0x7E, count: HDLCFrame.maximumInfoCount(destination: server, source: client))
        let frame = try HDLCFrame.encode(destination: server, source: client, control: .unnumberedInformation(poll: true), info: info)
        #expect(frame.count == HDLCFrame.maximumLength + 2)
        let (got, counters) = deframe([frame + frame])
        #expect(got == [frame, frame])
        #expect(counters.discardedFrames == 0)
    }

    @Test func errorsInFeedNeverLoseLaterFrames() {
        // Whatever precedes, the last complete frame is delivered.
        for prefix in [h("7E"), h("7E A0"), h("7E A7 FF"), h("7E A0 07 03"), h("7E 7E 7E"), h("A0 07 03 03 93 8C 11 7E")] {
            let (got, _) = deframe([prefix + Golden.disc])
            #expect(got.last == Golden.disc, "after \(hexOf(prefix))")
        }
    }
}
