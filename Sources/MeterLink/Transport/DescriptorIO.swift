import CLibc
import Platform

/// Deadline-bounded reads and writes on a non-blocking descriptor, shared by the socket and tty transports.
/// Descriptors stay O_NONBLOCK for their whole life so that no read, write or connect can outlast a deadline;
/// poll(2) does the waiting.
struct DescriptorIO {
    enum Flavor {
        /// A socket: end of file means the peer closed; writes use send(MSG_NOSIGNAL) so that a closed peer
        /// is an EPIPE, not a SIGPIPE that kills the agent.
        case socket
        /// A terminal or pty: end of file or EIO means the device (or the other pty side) went away.
        case terminal
    }

    var fd: Int32
    let flavor: Flavor
    var peer: String
    var counters = TransportCounters()
    /// For terminals: after the first byte, keep reading until the line has been quiet this long, so that a
    /// frame arriving at 300..9600 baud comes back in one piece. Zero = return what is there at once.
    var interOctetGapMilliseconds: Int32 = 0

    init(fd: Int32, flavor: Flavor, peer: String) {
        self.fd = fd
        self.flavor = flavor
        self.peer = peer
    }

    var isOpen: Bool { fd >= 0 }

    mutating func read(into buffer: UnsafeMutableRawBufferPointer, deadline: Deadline) throws(LinkError) -> Int {
        guard fd >= 0 else { throw LinkError.closed(peer) }
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        let start = MonotonicInstant.now()
        var total = 0
        var sawHangUp = false
        while total < buffer.count {
            let n = CLibc.read(fd, base + total, buffer.count - total)
            if n > 0 {
                total += n
                counters.bytesIn &+= UInt64(n)
                if interOctetGapMilliseconds <= 0 || total == buffer.count { break }
                continue
            }
            if n == 0 {
                if total > 0 { break }  // report the end on the next call, after the caller took the bytes
                throw endOfLink(sawHangUp ? "hang-up" : "end of file")
            }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK {
                if sawHangUp {
                    if total > 0 { break }
                    throw endOfLink("hang-up")
                }
                // Waiting for more: the inter-octet gap once data flows, the caller's deadline before that.
                let waitUntil: Deadline
                if total > 0 {
                    let gapEnd = Deadline.after(milliseconds: Int64(interOctetGapMilliseconds))
                    waitUntil = gapEnd.instant < deadline.instant ? gapEnd : deadline
                } else {
                    waitUntil = deadline
                }
                let readiness: Poll.Readiness
                do { readiness = try Poll.readable(fd, deadline: waitUntil) } catch {
                    throw LinkError.system(peer, error)
                }
                switch readiness {
                case .ready: continue
                case .hangUp: sawHangUp = true; continue
                case .timedOut:
                    if total > 0 { return total }
                    counters.timeouts &+= 1
                    throw LinkError.timeout(
                        peer, waitingFor: "waiting for data", milliseconds: roundedMilliseconds(from: start, to: deadline))
                }
            }
            if total > 0 { break }
            throw failure(code, "read")
        }
        return total
    }

    mutating func write(_ bytes: UnsafeRawBufferPointer, deadline: Deadline) throws(LinkError) {
        guard fd >= 0 else { throw LinkError.closed(peer) }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        let start = MonotonicInstant.now()
        var done = 0
        while done < bytes.count {
            let n: Int
            switch flavor {
            case .socket: n = send(fd, base + done, bytes.count - done, Int32(MSG_NOSIGNAL))
            case .terminal: n = CLibc.write(fd, base + done, bytes.count - done)
            }
            if n >= 0 {
                done += n
                counters.bytesOut &+= UInt64(n)
                continue
            }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK {
                let readiness: Poll.Readiness
                do { readiness = try Poll.writable(fd, deadline: deadline) } catch {
                    throw LinkError.system(peer, error)
                }
                switch readiness {
                case .ready, .hangUp: continue  // a hang-up shows as EPIPE/EIO on the next write
                case .timedOut:
                    counters.timeouts &+= 1
                    throw LinkError.timeout(
                        peer, waitingFor: "sending (\(done) of \(bytes.count) bytes sent)",
                        milliseconds: roundedMilliseconds(from: start, to: deadline))
                }
            }
            throw failure(code, "write")
        }
    }

    /// Reads and drops everything pending without waiting; flushes the terminal's input queue too.
    mutating func discardInput() -> Int {
        guard fd >= 0 else { return 0 }
        if flavor == .terminal { _ = tcflush(fd, TCIFLUSH) }
        var dropped = 0
        withUnsafeTemporaryAllocation(byteCount: 256, alignment: 1) { scratch in
            while true {
                let n = CLibc.read(fd, scratch.baseAddress!, scratch.count)
                if n > 0 { dropped += n; continue }
                if n < 0 && errno == EINTR { continue }
                break
            }
        }
        counters.bytesDiscarded &+= UInt64(dropped)
        return dropped
    }

    mutating func close() {
        if fd >= 0 { _ = CLibc.close(fd) }
        fd = -1
    }

    /// The error for the link ending: a closed socket is dropped, a terminal that ends has vanished.
    mutating func endOfLink(_ detail: String) -> LinkError {
        counters.drops &+= 1
        switch flavor {
        case .socket: return LinkError.dropped(peer, "the peer closed the connection")
        case .terminal: return LinkError.vanished(peer, detail)
        }
    }

    /// Maps a failed read or write to the kind the session acts on.
    mutating func failure(_ code: Int32, _ call: String) -> LinkError {
        let error = SystemError("\(call)(\(peer))", code: code)
        switch code {
        case ECONNRESET, EPIPE, ETIMEDOUT, ECONNABORTED, ENOTCONN:
            counters.drops &+= 1
            return LinkError(
                .dropped, peer: peer,
                message: "link to \(peer) dropped (\(error.message)): the meter or a gateway closed the "
                    + "connection; it will be reconnected",
                systemError: error)
        case EIO, ENXIO, ENODEV:
            counters.drops &+= 1
            return LinkError.vanished(peer, error.message, systemError: error)
        default:
            return LinkError.system(peer, error)
        }
    }
}
