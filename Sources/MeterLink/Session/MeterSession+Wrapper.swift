import COSEM
import Platform

// The IEC 62056-47 wrapper on TCP: each APDU behind an 8-byte header (version 1, source wPort, destination
// wPort, length). No link layer, no retransmission (TCP is reliable): a request gets one answer or times out.

extension MeterSession {
    /// Sends `apdu` in a wrapper PDU from the client wPort to the logical device and returns the answer's APDU.
    func transactWrapped(_ apdu: [UInt8], masking secret: [UInt8], timeout: Int64?) throws(MeterError) -> [UInt8] {
        guard let transport, let client = wrapperClient else {
            throw MeterError(.linkDropped, "no connection to \(settings.endpoint)")
        }
        let frame: [UInt8]
        do { frame = try WrapperHeader.frame(apdu, source: UInt16(client), destination: settings.serverLogical) } catch {
            throw MeterError(.protocolError, "cannot wrap the request for \(settings.endpoint): \(error.description)")
        }
        try write(frame, on: transport, masking: secret)
        let sent = MonotonicInstant.now()
        let limit = timeout ?? settings.responseTimeoutMilliseconds
        let deadline = Deadline.after(milliseconds: limit)
        var received: [UInt8] = []
        while true {
            if received.count >= WrapperHeader.size {
                let header: WrapperHeader
                do { header = try WrapperHeader.parse(received) } catch {
                    counters.framingErrors += 1
                    throw MeterError(.protocolError, "\(settings.endpoint) answered outside the wrapper: "
                        + "\(error.description)")
                }
                let total = WrapperHeader.size + Int(header.length)
                if received.count >= total {
                    let answer = Array(received[WrapperHeader.size..<total])
                    received.removeFirst(total)
                    // A PDU for another wPort (another client of the same gateway) is not this answer.
                    guard header.source == settings.serverLogical, header.destination == UInt16(client) else {
                        counters.framingErrors += 1
                        continue
                    }
                    counters.lastRTTMicroseconds = MonotonicInstant.now().microseconds(since: sent)
                    return answer
                }
            }
            let n: Int
            do { n = try transport.read(into: &readBuffer, deadline: deadline) } catch {
                if error.kind == .timeout {
                    counters.timeouts += 1
                    throw MeterError(.timeout,
                        "no answer from \(settings.endpoint) within \(limit) ms (wrapper, client wPort \(client), "
                        + "logical device \(settings.serverLogical)): check DLMS_SERVER_LOGICAL (the logical device, "
                        + "1 = management) and DLMS_CLIENT_SAP; it will be retried")
                }
                throw MeterError.transport(error)
            }
            counters.bytesIn += n
            lastActivity = .now()
            let chunk = Array(readBuffer[0..<n])
            received += chunk
            if let trace, !chunk.isEmpty { trace(.receive, hexString(chunk)) }
        }
    }
}
