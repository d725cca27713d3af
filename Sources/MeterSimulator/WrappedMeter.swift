import COSEM
import HDLC

// The simulated meter behind the IEC 62056-47 wrapper (`simulate --transport wrapper`): each APDU in an
// 8-byte header, no link layer; the AARQ is the first PDU.

extension SimulatedMeter {
    /// Feeds wrapper bytes from the client: answers each whole PDU addressed to this meter's logical device
    /// from a known client wPort; a PDU that is not the wrapper closes the connection (the stream is lost).
    mutating func receiveWrapped(_ bytes: [UInt8], now: Int64) -> MeterOutput {
        var out = MeterOutput()
        wrapperPending += bytes
        while wrapperPending.count >= WrapperHeader.size {
            let header: WrapperHeader
            do { header = try WrapperHeader.parse(wrapperPending) } catch {
                counters.discardedFrames += 1
                note(&out, "not a wrapper PDU (\(error.description)): connection closed")
                forgetLink()
                out.closeLink = true
                return out
            }
            let total = WrapperHeader.size + Int(header.length)
            guard wrapperPending.count >= total else { break }
            let apdu = Array(wrapperPending[WrapperHeader.size..<total])
            wrapperPending.removeFirst(total)
            counters.framesReceived += 1
            framesInConnection += 1
            if tracing { out.trace.append("RX " + Self.maskedHex(header.bytes + apdu)) }
            if let limit = faults.dropAfterFrames, framesInConnection >= limit {
                counters.faultDrops += 1
                note(&out, "fault: dropping the connection on PDU \(framesInConnection)")
                forgetLink()
                out.closeLink = true
                return out
            }
            if faults.silent {
                counters.silentFrames += 1
                continue
            }
            guard header.destination == configuration.serverLogical else {
                counters.framesForOtherAddresses += 1
                note(&out, "PDU to wPort \(header.destination) is not for this meter (logical device \(configuration.serverLogical)): no answer")
                continue
            }
            guard header.source <= 0x7F, configuration.knows(clientSAP: UInt8(header.source)) else {
                counters.framesFromUnknownClients += 1
                note(&out, "PDU from unknown client wPort \(header.source): no answer")
                continue
            }
            lastFrameAt = now
            guard let response = respond(to: apdu, clientSAP: UInt8(header.source), now: now, into: &out) else { continue }
            guard let wrapped = try? WrapperHeader.frame(response, source: header.destination, destination: header.source)
            else { continue }
            repliesInConnection += 1
            counters.framesSent += 1
            if tracing { out.trace.append("TX " + hexString(wrapped)) }
            out.writes.append(wrapped)
        }
        if !out.writes.isEmpty && faults.replyDelayMilliseconds > 0 {
            out.delayMilliseconds = faults.replyDelayMilliseconds
            counters.delayedReplies += 1
        }
        return out
    }
}
