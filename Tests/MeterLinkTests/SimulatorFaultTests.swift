import COSEM
import HDLC
import MeterLink
import MeterSimulator
import Testing

/// Each fault switch's effect on the bytes the meter core sends.
@Suite struct SimulatorFaultTests {
    let clockValue = InterfaceClass.clock.attribute(2, of: .clock)

    @Test func dropAfterFramesClosesTheLinkWithoutAnswering() throws {
        var h = SimulatorHarness(faults: SimulatorFaults(dropAfterFrames: 3))
        _ = try h.open()  // frames 1 (SNRM) and 2 (AARQ)
        let events = try h.pump(h.link.send(apdu: h.association.getRequest(clockValue)))
        let out = try #require(h.outputs.last)
        #expect(out.closeLink)
        #expect(out.writes.isEmpty)
        #expect(events.isEmpty)
        #expect(!h.meter.isAssociated && !h.meter.isLinkConnected)
        #expect(h.meter.counters.faultDrops == 1)
        // Cleared, the same connection's next SNRM works again.
        h.meter.faults = .none
        let connected = h.connect()
        #expect(connected)
    }

    @Test func replyDelayIsAskedOfTheCaller() throws {
        var h = SimulatorHarness(faults: SimulatorFaults(replyDelayMilliseconds: 20))
        _ = try h.open()
        #expect(h.outputs.allSatisfy { $0.delayMilliseconds == 20 && !$0.writes.isEmpty })
        h.meter.faults = .none
        _ = try h.value(clockValue)
        #expect(h.outputs.last?.delayMilliseconds == 0)
        #expect(h.meter.counters.delayedReplies == 2)
    }

    @Test func corruptEveryNthReplyBreaksOnlyThatFCS() throws {
        var meter = SimulatedMeter(configuration: SimulatorConfiguration(), faults: SimulatorFaults(corruptEveryNthReply: 2))
        let client = try HDLCAddress.client(sap: 16)
        let server = try HDLCAddress(logical: 0, physical: 1)
        let first = meter.receive(frame(to: server, from: client, .setNormalResponseMode(poll: true)), now: 0).bytes
        #expect((try? HDLCFrame.parse(first)) != nil)
        let second = meter.receive(frame(to: server, from: client, .setNormalResponseMode(poll: true)), now: 0).bytes
        #expect(throws: FrameError.self) { _ = try HDLCFrame.parse(second) }
        // Only the FCS differs from a good UA.
        #expect(Array(second.dropLast(3)) == Array(first.dropLast(3)))
        #expect(second.last == 0x7E)
        #expect(meter.counters.corruptedReplies == 1)
        // A client retransmitting after the bad frame gets a good one (the third reply).
        let third = meter.receive(frame(to: server, from: client, .setNormalResponseMode(poll: true)), now: 0).bytes
        #expect(third == first)
    }

    @Test func corruptedRepliesAreDroppedByTheClientLinkWhichRecoversByRetransmitting() throws {
        var h = SimulatorHarness(faults: SimulatorFaults(corruptEveryNthReply: 3))
        _ = try h.open()  // replies 1 (UA) and 2 (AARE) are good
        let events = try h.pump(h.link.send(apdu: h.association.getRequest(clockValue)))
        #expect(events.isEmpty, "the corrupted answer must not be delivered")
        #expect(h.link.deframerCounters.fcsErrors == 1)
        // The client's retransmission (same N(S)) makes the meter resend its last answer.
        let again = h.pump(h.link.retransmit())
        let answer = try #require(again.compactMap { if case let .apdu(a) = $0 { return a } else { return nil } }.first)
        guard case let .result(.data(value)) = try h.association.handleGetResponse(answer) else {
            Issue.record("no clock value"); return
        }
        #expect(value.octets?.count == 12)
    }

    @Test func strayBytesPrecedeEveryReply() throws {
        var h = SimulatorHarness(faults: SimulatorFaults(strayBytes: [0x7E, 0x7E]))
        guard case .accepted = try h.open() else { Issue.record("stray bytes broke the association"); return }
        for out in h.outputs {
            #expect(out.writes.first == [0x7E, 0x7E])
            #expect(out.writes.count == 2)
        }
        h.meter.faults = SimulatorFaults(strayBytes: [0x00, 0xFF, 0x13, 0x37])
        #expect(try h.value(clockValue).octets?.count == 12, "the client skips garbage before the frame")
        #expect(h.meter.counters.strayBursts == 3)
    }

    @Test func rejectPasswordRefusesEvenTheRightOne() throws {
        var h = SimulatorHarness(faults: SimulatorFaults(rejectPassword: true), clientSAP: 1, password: "22222222")
        guard case let .rejected(_, diagnostic, _) = try h.open() else { Issue.record("accepted"); return }
        #expect(diagnostic == .authenticationFailure)
        #expect(h.meter.counters.passwordRejections == 1)
        // The public client needs no password and is not affected.
        var open = SimulatorHarness(faults: SimulatorFaults(rejectPassword: true), clientSAP: 16)
        guard case .accepted = try open.open() else { Issue.record("public client rejected"); return }
    }

    @Test func aSilentMeterAnswersNothing() throws {
        var h = SimulatorHarness(faults: SimulatorFaults(silent: true))
        let connected = h.connect()
        #expect(!connected)
        #expect(h.outputs.allSatisfy { $0.writes.isEmpty })
        #expect(h.meter.counters.silentFrames == 1)
        h.meter.faults = .none
        let reconnected = h.connect()
        #expect(reconnected)
    }

    @Test func unavailableObjectAnswersObjectUnavailable() throws {
        let voltage = SimulatedObjectModel.voltage
        var h = SimulatorHarness(faults: SimulatorFaults(unavailableObjects: [voltage]))
        _ = try h.open()
        #expect(try h.get(InterfaceClass.register.attribute(2, of: voltage)) == .error(.objectUnavailable))
        let list = try h.get(list: [AttributeRequest(InterfaceClass.register.attribute(2, of: voltage)),
                                    AttributeRequest(InterfaceClass.register.attribute(2, of: SimulatedObjectModel.current))])
        #expect(list.first == .error(.objectUnavailable))
        if case .data = list.last {} else { Issue.record("the current should still read") }
        #expect(h.meter.counters.unavailableAnswers == 2)
    }

    @Test func faultWordsParse() throws {
        let faults = try SimulatorFaults(parsing: [
            "drop-after-frames=3", "reply-delay-ms=20", "corrupt-every=4", "stray-bytes=7E7E", "reject-password", "silent",
            "unavailable=1-1:32.7.0",
        ])
        #expect(faults == SimulatorFaults(dropAfterFrames: 3, replyDelayMilliseconds: 20, corruptEveryNthReply: 4,
                                          strayBytes: [0x7E, 0x7E], rejectPassword: true, silent: true,
                                          unavailableObjects: [ObisCode(1, 1, 32, 7, 0)]))
        #expect(try SimulatorFaults(parsing: ["none"]) == .none)
        #expect(faults.summary.contains("reply-delay-ms=20") && faults.summary.contains("stray-bytes=7E7E"))
        #expect(throws: SimulatorError.self) { _ = try SimulatorFaults(parsing: ["explode"]) }
        #expect(throws: SimulatorError.self) { _ = try SimulatorFaults(parsing: ["reply-delay-ms=soon"]) }
        #expect(throws: SimulatorError.self) { _ = try SimulatorFaults(parsing: ["stray-bytes=XYZ"]) }
    }

    @Test func garbageFromTheClientNeverCrashesTheMeter() {
        var meter = SimulatedMeter(configuration: SimulatorConfiguration())
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let bytes = (0..<Int.random(in: 0..<300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = meter.receive(bytes, now: 0)
        }
        // Valid frames with undecodable APDUs inside an established link.
        var h = SimulatorHarness()
        _ = try? h.open()
        for apdu: [UInt8] in [[0xC0], [0xC0, 0x01], [0x60, 0x03, 0x00], [0x99, 0x01], [0xC0, 0x02, 0xC1, 0, 0, 0, 9]] {
            let answer = h.transact(apdu)
            #expect(answer != nil, "the meter answers \(apdu)")
        }
    }
}
