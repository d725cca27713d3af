import CLibc
import Platform

/// Socket plumbing shared by `TCPTransport` and `TCPListener`: name lookup, numeric address text, options.
enum SocketSupport {
    /// One resolved address, copied out of the getaddrinfo list so the list can be freed at once.
    struct Resolved {
        var family: Int32
        var socketType: Int32
        var proto: Int32
        var storage: sockaddr_storage
        var length: socklen_t
        /// `10.0.0.5:3333` or `[::1]:3333`.
        var text: String
        /// `10.0.0.5` or `::1`.
        var hostText: String
    }

    /// Resolves `host` (a name, an IPv4 or an IPv6 literal) for a TCP stream on `port`.
    static func resolve(host: String, port: UInt16, passive: Bool) throws(LinkError) -> [Resolved] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host.isEmpty ? nil : host, String(port), &hints, &list)
        if rc != 0 {
            let reason = rc == EAI_SYSTEM ? String(cString: strerror(errno)) : String(cString: gai_strerror(rc))
            throw LinkError(
                .lookupFailed, peer: host,
                message: "name lookup failed for \(host): \(reason): check the host name (DLMS_HOST) and the "
                    + "gateway's DNS, or use the meter's IP address")
        }
        defer { freeaddrinfo(list) }
        var out: [Resolved] = []
        var cursor = list
        while let info = cursor {
            let ai = info.pointee
            cursor = ai.ai_next
            guard let addr = ai.ai_addr, ai.ai_family == AF_INET || ai.ai_family == AF_INET6 else { continue }
            var storage = sockaddr_storage()
            withUnsafeMutableBytes(of: &storage) { dst in
                dst.copyMemory(from: UnsafeRawBufferPointer(start: addr, count: Int(ai.ai_addrlen)))
            }
            let (hostText, text) = numericText(addr, ai.ai_addrlen)
            out.append(
                Resolved(
                    family: ai.ai_family, socketType: ai.ai_socktype, proto: ai.ai_protocol, storage: storage,
                    length: ai.ai_addrlen, text: text, hostText: hostText))
        }
        if out.isEmpty {
            throw LinkError(
                .lookupFailed, peer: host,
                message: "name lookup failed for \(host): no IPv4 or IPv6 address: check the host name (DLMS_HOST)")
        }
        return out
    }

    /// ("::1", "[::1]:3333") for an address.
    static func numericText(_ addr: UnsafePointer<sockaddr>, _ length: socklen_t) -> (host: String, full: String) {
        var hostBuffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        var serviceBuffer = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        let rc = getnameinfo(
            addr, length, &hostBuffer, socklen_t(hostBuffer.count), &serviceBuffer, socklen_t(serviceBuffer.count),
            NI_NUMERICHOST | NI_NUMERICSERV)
        guard rc == 0 else { return ("?", "?") }
        let host = String(decoding: hostBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let service = String(decoding: serviceBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return (host, addr.pointee.sa_family == sa_family_t(AF_INET6) ? "[\(host)]:\(service)" : "\(host):\(service)")
    }

    /// The port a socket is bound to (for port 0 = ephemeral) and its address text.
    static func localAddress(_ fd: Int32) -> (port: UInt16, text: String) {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard rc == 0 else { return (0, "?") }
        // sin_port and sin6_port both sit at offset 2, in network order.
        let port = withUnsafeBytes(of: &storage) { UInt16(bigEndian: $0.load(fromByteOffset: 2, as: UInt16.self)) }
        let text = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { numericText($0, length).full }
        }
        return (port, text)
    }

    static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) {
        var v = value
        _ = setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size))
    }

    /// TCP_NODELAY (an HDLC frame is a whole request: do not wait to coalesce) and keepalive probes so that a
    /// half-open link (meter rebooted, NAT forgot us) is noticed within about 90 s even when idle.
    static func configureStream(_ fd: Int32) {
        setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        setOption(fd, SOL_SOCKET, SO_KEEPALIVE, 1)
        setOption(fd, Int32(IPPROTO_TCP), TCP_KEEPIDLE, 60)
        setOption(fd, Int32(IPPROTO_TCP), TCP_KEEPINTVL, 10)
        setOption(fd, Int32(IPPROTO_TCP), TCP_KEEPCNT, 3)
    }
}
