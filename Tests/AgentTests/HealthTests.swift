import Foundation
import Testing

@testable import Agent

@Suite struct HealthTests {
    @Test func countersAndStateTransitions() {
        let r = MeterHealthRecorder(deviceID: "m1", maxConsecutiveErrors: 3)
        #expect(r.snapshot.state == .starting)
        #expect(!r.recordFailure("timeout", link: LinkCounters(retransmissions: 2), skippedSlots: 0))
        #expect(r.snapshot.state == .degraded)
        #expect(!r.recordFailure("timeout", link: LinkCounters(crcErrors: 1), skippedSlots: 0))
        #expect(r.recordFailure("association rejected", link: LinkCounters(associationFailures: 1), skippedSlots: 1))
        #expect(r.snapshot.state == .down)
        #expect(!r.recordFailure("still down", link: LinkCounters(), skippedSlots: 1))  // reported once
        #expect(r.recordSuccess(atMilliseconds: 99, rttMicroseconds: 41_250, failedMeasurements: 1,
            link: LinkCounters(retransmissions: 1), skippedSlots: 1))
        let h = r.snapshot
        #expect(h.state == .up && h.polls == 5 && h.failedPolls == 4 && h.consecutiveErrors == 0)
        #expect(h.link == LinkCounters(crcErrors: 1, retransmissions: 3, associationFailures: 1))
        #expect(h.measurementErrors == 1 && h.lastRTTMicroseconds == 41_250 && h.lastSuccessMilliseconds == 99)
        #expect(h.lastError == "still down" && h.skippedSlots == 1)
    }

    @Test func healthJSON() throws {
        let r = MeterHealthRecorder(deviceID: "microstar-001", maxConsecutiveErrors: 10)
        r.recordFailure("no answer within 5000 ms", link: LinkCounters(crcErrors: 1, retransmissions: 1), skippedSlots: 0)
        r.recordSuccess(atMilliseconds: 1_728_564_120_000, rttMicroseconds: 41_200, failedMeasurements: 0,
            link: LinkCounters(), skippedSlots: 0)
        let bytes = HealthPayload.render(
            r.snapshot, spool: SpoolDepth(pendingReadings: 3, bytes: 612, droppedReadings: 0),
            timestampMilliseconds: 1_728_564_123_456, uptimeSeconds: 600)
        #expect(String(decoding: bytes, as: UTF8.self) == #"{"device_id":"microstar-001","ts":1728564123456,"state":"up","polls":2,"failed_polls":1,"consecutive_errors":0,"skipped_slots":0,"backoff_polls":0,"measurement_errors":0,"crc_errors":1,"retransmissions":1,"association_failures":0,"security_faults":0,"implausible_readings":0,"last_rtt_ms":41.2,"last_success_ts":1728564120000,"last_error":"no answer within 5000 ms","spool":{"pending":3,"bytes":612,"dropped":0},"uptime_s":600}"#)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        #expect(parsed["state"] as? String == "up")
    }

    @Test func healthJSONBeforeAnyPoll() {
        let r = MeterHealthRecorder(deviceID: "m", maxConsecutiveErrors: 1)
        let text = String(decoding: HealthPayload.render(r.snapshot, spool: SpoolDepth(), timestampMilliseconds: 1,
            uptimeSeconds: 0), as: UTF8.self)
        #expect(text.contains(#""state":"starting""#) && text.contains(#""last_rtt_ms":null,"last_success_ts":null,"last_error":null"#))
    }
}
