import CLibc
import Platform

/// sd_notify(3) without libsystemd: one datagram per state change to the AF_UNIX socket systemd names in
/// `$NOTIFY_SOCKET` (a path, or an abstract name written with a leading `@`). With `Type=notify` and
/// `WatchdogSec=` in the unit, systemd restarts an agent that stops sending `WATCHDOG=1`.
public struct SystemdNotifier: Sendable {
    public let socketPath: String

    /// The notifier systemd asked for, or nil when not started by systemd with `Type=notify`.
    public init?(environment: [String: String]) {
        guard let path = environment["NOTIFY_SOCKET"], path.hasPrefix("/") || path.hasPrefix("@") else { return nil }
        self.socketPath = path
    }

    public init(socketPath: String) { self.socketPath = socketPath }

    /// `READY=1`: start-up is over (configuration valid, spool open); systemd considers the service started.
    public func ready(status: String? = nil) throws(SystemError) {
        try send("READY=1" + (status.map { "\nSTATUS=" + $0 } ?? ""))
    }

    /// `WATCHDOG=1`: the agent's loops are alive.
    public func watchdog() throws(SystemError) { try send("WATCHDOG=1") }

    /// `STOPPING=1`: shutdown has begun.
    public func stopping() throws(SystemError) { try send("STOPPING=1") }

    /// `RELOADING=1` while certificates are reopened after SIGHUP; send `ready()` afterwards.
    public func reloading() throws(SystemError) { try send("RELOADING=1") }

    /// `STATUS=...`: one line shown by `systemctl status`.
    public func status(_ text: String) throws(SystemError) { try send("STATUS=" + text) }

    /// How often to send `WATCHDOG=1`: half of `$WATCHDOG_USEC`, in milliseconds; nil when no watchdog is set
    /// for this process (`$WATCHDOG_PID`, when present, must be ours).
    public static func watchdogInterval(environment: [String: String]) -> Int64? {
        guard let usecText = environment["WATCHDOG_USEC"], let usec = Int64(usecText), usec > 0 else { return nil }
        if let pid = environment["WATCHDOG_PID"], Int32(pid) != getpid() { return nil }
        return max(1, usec / 2000)
    }

    /// Sends one datagram with `state` (newline-separated `KEY=VALUE` assignments).
    public func send(_ state: String) throws(SystemError) {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError.current("socket(AF_UNIX) for NOTIFY_SOCKET") }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(socketPath.utf8)
        let abstract = path.first == 0x40  // '@'
        if abstract { path[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.count < capacity else {
            throw SystemError("sendto(\(socketPath)): NOTIFY_SOCKET path is too long", code: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in path.enumerated() { raw[i] = b }
        }
        // sun_path follows sun_family (Linux's sockaddr_un has nothing else; no key paths in Embedded Swift).
        let pathOffset = MemoryLayout<sa_family_t>.size
        // Abstract names have no terminating NUL: the length says where they end.
        let length = socklen_t(pathOffset + path.count + (abstract ? 0 : 1))
        let bytes = Array(state.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), sa, length) }
            }
        }
        if sent < 0 { throw SystemError.current("sendto(\(socketPath))") }
    }
}
