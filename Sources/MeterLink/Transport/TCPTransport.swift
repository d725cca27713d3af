import CLibc
import Platform

/// HDLC straight on a TCP socket (a Microstar on port 3333), or a connection accepted by `TCPListener`.
///
/// Connecting resolves the host (name, IPv4 or IPv6 literal) and tries each address in turn with a
/// non-blocking connect bounded by the deadline. The socket has TCP_NODELAY and keepalive probes.
public final class TCPTransport: ByteTransport, @unchecked Sendable {
    /// The host as configured (nil for an accepted connection).
    public let host: String?
    /// The port as configured (the peer's port for an accepted connection).
    public let port: UInt16
    private var io: DescriptorIO

    /// Connects to `host`:`port`, trying every address the name resolves to, within `timeoutMilliseconds`.
    public convenience init(host: String, port: UInt16, timeoutMilliseconds: Int64 = 5000) throws(LinkError) {
        try self.init(host: host, port: port, deadline: .after(milliseconds: timeoutMilliseconds))
    }

    /// Connects to `host`:`port`, trying every address the name resolves to, before `deadline`.
    public init(host: String, port: UInt16, deadline: Deadline) throws(LinkError) {
        self.host = host
        self.port = port
        let (fd, peer) = try Self.connect(host: host, port: port, deadline: deadline)
        io = DescriptorIO(fd: fd, flavor: .socket, peer: peer)
    }

    /// Wraps a connected socket (from `TCPListener.accept`).
    init(acceptedDescriptor fd: Int32, peer: String, peerPort: UInt16) {
        host = nil
        port = peerPort
        SocketSupport.configureStream(fd)
        io = DescriptorIO(fd: fd, flavor: .socket, peer: peer)
    }

    deinit { io.close() }

    public var peerDescription: String { io.peer }
    public var counters: TransportCounters { io.counters }
    public var isOpen: Bool { io.isOpen }
    /// The socket descriptor (-1 once closed), for callers that poll several links at once.
    public var fileDescriptor: Int32 { io.fd }

    public func read(into buffer: UnsafeMutableRawBufferPointer, deadline: Deadline) throws(LinkError) -> Int {
        try io.read(into: buffer, deadline: deadline)
    }

    public func write(_ bytes: UnsafeRawBufferPointer, deadline: Deadline) throws(LinkError) {
        try io.write(bytes, deadline: deadline)
    }

    @discardableResult
    public func discardInput() -> Int { io.discardInput() }

    public func reopen(deadline: Deadline) throws(LinkError) {
        guard let host else {
            throw LinkError(
                .unsupported, peer: io.peer,
                message: "connection from \(io.peer) was accepted, not dialled: it cannot be reopened")
        }
        io.close()
        let (fd, peer) = try Self.connect(host: host, port: port, deadline: deadline)
        io.fd = fd
        io.peer = peer
        io.counters.reconnects &+= 1
    }

    /// Shuts the connection down in both directions and closes it (the peer sees an orderly end of file).
    public func close() {
        if io.fd >= 0 { _ = shutdown(io.fd, Int32(SHUT_RDWR)) }
        io.close()
    }

    // MARK: - Connecting

    private static func connect(host: String, port: UInt16, deadline: Deadline) throws(LinkError) -> (Int32, String) {
        let addresses = try SocketSupport.resolve(host: host, port: port, passive: false)
        var failures: [LinkError] = []
        for (index, address) in addresses.enumerated() {
            // Share what is left of the time among the addresses still to try, so a dead first address
            // (an IPv6 route that blackholes) does not eat the whole budget.
            let left = max(0, roundedMilliseconds(from: .now(), to: deadline))
            let share = left / Int64(addresses.count - index)
            let attemptDeadline = index == addresses.count - 1 ? deadline : Deadline.after(milliseconds: share)
            let peer = describe(host: host, address: address)
            do throws(LinkError) {
                let fd = try connectOne(address, peer: peer, deadline: attemptDeadline, budget: max(share, left))
                return (fd, peer)
            } catch {
                failures.append(error)
            }
        }
        // One address: its error as is. Several: the last one, naming the others tried.
        var last = failures.removeLast()
        if !failures.isEmpty {
            last.message += " (also tried " + failures.map { "\($0.peer): \($0.kind.rawValue)" }.joined(separator: ", ") + ")"
        }
        throw last
    }

    private static func describe(host: String, address: SocketSupport.Resolved) -> String {
        if host == address.hostText { return address.text }
        return "\(host) (\(address.text))"
    }

    private static func connectOne(
        _ address: SocketSupport.Resolved, peer: String, deadline: Deadline, budget: Int64
    ) throws(LinkError) -> Int32 {
        let fd = socket(address.family, address.socketType | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), address.proto)
        if fd < 0 { throw LinkError.system(peer, .current("socket")) }
        var storage = address.storage
        var rc = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { CLibc.connect(fd, $0, address.length) }
        }
        var code: Int32 = rc == 0 ? 0 : errno
        if rc != 0 && (code == EINPROGRESS || code == EINTR) {
            let readiness: Poll.Readiness
            do { readiness = try Poll.writable(fd, deadline: deadline) } catch {
                _ = CLibc.close(fd)
                throw LinkError.system(peer, error)
            }
            if readiness == .timedOut {
                _ = CLibc.close(fd)
                throw LinkError(
                    .timeout, peer: peer,
                    message: "no answer from \(peer) within \(formatMilliseconds(budget)) while connecting: check the "
                        + "meter's address (DLMS_HOST), that it is powered and on the network, and any firewall")
            }
            var length = socklen_t(MemoryLayout<Int32>.size)
            rc = getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length)
            if rc != 0 { code = errno }
        }
        if code == 0 {
            SocketSupport.configureStream(fd)
            return fd
        }
        _ = CLibc.close(fd)
        let error = SystemError("connect(\(address.text))", code: code)
        switch code {
        case ECONNREFUSED:
            throw LinkError(
                .refused, peer: peer,
                message: "connection refused by \(address.text): nothing listens there, check DLMS_PORT "
                    + "and that the meter's TCP port is enabled",
                systemError: error)
        case ETIMEDOUT:
            throw LinkError(
                .timeout, peer: peer,
                message: "no answer from \(peer) while connecting (\(error.message)): check the meter's address "
                    + "(DLMS_HOST), that it is powered and on the network, and any firewall",
                systemError: error)
        case EHOSTUNREACH, ENETUNREACH, EADDRNOTAVAIL, EAFNOSUPPORT:
            throw LinkError(
                .unreachable, peer: peer,
                message: "\(address.hostText) is unreachable (\(error.message)): check the gateway's network "
                    + "connection and route to the meter",
                systemError: error)
        default:
            throw LinkError.system(peer, error)
        }
    }
}

/// A listening TCP socket for the simulated meter: bind a host and port (0 = ephemeral), accept clients.
public final class TCPListener: @unchecked Sendable {
    /// The port actually bound (the kernel's choice when 0 was asked).
    public let port: UInt16
    /// The bound address, e.g. `127.0.0.1:41234` or `[::1]:41234`.
    public let localDescription: String
    private var fd: Int32

    /// Binds and listens on `host`:`port`. `backlog` is the kernel's queue of connections not yet accepted.
    public init(host: String = "127.0.0.1", port: UInt16 = 0, backlog: Int32 = 8) throws(LinkError) {
        let addresses = try SocketSupport.resolve(host: host, port: port, passive: true)
        var lastError: LinkError?
        for address in addresses {
            let fd = socket(address.family, address.socketType | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), address.proto)
            if fd < 0 { lastError = .system(address.text, .current("socket")); continue }
            SocketSupport.setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
            var storage = address.storage
            let rc = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, address.length) }
            }
            if rc != 0 {
                let error = SystemError.current("bind(\(address.text))")
                _ = CLibc.close(fd)
                lastError = LinkError(
                    error.code == EADDRINUSE ? .busy : .system, peer: address.text,
                    message: error.code == EADDRINUSE
                        ? "cannot listen on \(address.text): the port is already in use; choose another port"
                        : "cannot listen on \(address.text): \(error)",
                    systemError: error)
                continue
            }
            if listen(fd, backlog) != 0 {
                lastError = .system(address.text, .current("listen(\(address.text))"))
                _ = CLibc.close(fd)
                continue
            }
            self.fd = fd
            (self.port, self.localDescription) = SocketSupport.localAddress(fd)
            return
        }
        throw lastError ?? LinkError.invalid(host, "no address to listen on")
    }

    deinit { close() }

    /// The listening descriptor (-1 once closed).
    public var fileDescriptor: Int32 { fd }

    /// Waits until a client connects or `deadline` passes (`.timeout`).
    public func accept(deadline: Deadline) throws(LinkError) -> TCPTransport {
        let start = MonotonicInstant.now()
        while true {
            guard fd >= 0 else { throw LinkError.closed(localDescription) }
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let client = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    CLibc.accept(fd, $0, &length)
                }
            }
            if client >= 0 {
                // accept4 is not visible from Swift's Glibc: set the flags the accepted socket needs.
                _ = clibc_fcntl(client, F_SETFL, Int(clibc_fcntl(client, F_GETFL, 0) | O_NONBLOCK))
                _ = clibc_fcntl(client, F_SETFD, Int(FD_CLOEXEC))
                let (text, port) = withUnsafePointer(to: &storage) { pointer in
                    let text = pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        SocketSupport.numericText($0, length).full
                    }
                    let port = withUnsafeBytes(of: pointer.pointee) {
                        UInt16(bigEndian: $0.load(fromByteOffset: 2, as: UInt16.self))
                    }
                    return (text, port)
                }
                return TCPTransport(acceptedDescriptor: client, peer: text, peerPort: port)
            }
            let code = errno
            switch code {
            case EINTR, ECONNABORTED, EPROTO: continue  // a client that gave up before we accepted it
            case EAGAIN, EWOULDBLOCK:
                let readiness: Poll.Readiness
                do { readiness = try Poll.readable(fd, deadline: deadline) } catch {
                    throw LinkError.system(localDescription, error)
                }
                if readiness == .timedOut {
                    throw LinkError(
                        .timeout, peer: localDescription,
                        message: "no client connected to \(localDescription) within "
                            + formatMilliseconds(roundedMilliseconds(from: start, to: deadline)))
                }
            default:
                throw LinkError.system(localDescription, SystemError("accept(\(localDescription))", code: code))
            }
        }
    }

    /// Stops listening. Calling it twice is harmless.
    public func close() {
        if fd >= 0 { _ = CLibc.close(fd) }
        fd = -1
    }
}
