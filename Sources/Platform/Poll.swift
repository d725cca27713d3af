import CLibc

/// Readiness waits on one descriptor with poll(2), retried across EINTR until the deadline.
public enum Poll {
    /// What a wait ended with.
    public enum Readiness: Sendable, Equatable {
        /// The descriptor is ready.
        case ready
        /// The deadline passed first.
        case timedOut
        /// The peer hung up or the device vanished (POLLHUP/POLLERR/POLLNVAL): reads will fail or return 0.
        case hangUp
    }

    /// Waits until `fd` is readable, hung up, or `deadline` passes.
    public static func readable(_ fd: Int32, deadline: Deadline) throws(SystemError) -> Readiness {
        try wait(fd, events: Int16(POLLIN), deadline: deadline)
    }

    /// Waits until `fd` is writable, hung up, or `deadline` passes.
    public static func writable(_ fd: Int32, deadline: Deadline) throws(SystemError) -> Readiness {
        try wait(fd, events: Int16(POLLOUT), deadline: deadline)
    }

    private static func wait(_ fd: Int32, events: Int16, deadline: Deadline) throws(SystemError) -> Readiness {
        while true {
            var pfd = pollfd(fd: fd, events: events, revents: 0)
            let rc = poll(&pfd, 1, deadline.remainingMilliseconds)
            if rc < 0 {
                if errno == EINTR { continue }
                throw SystemError.current("poll")
            }
            if rc == 0 {
                if deadline.hasPassed { return .timedOut }
                continue
            }
            if pfd.revents & events != 0 { return .ready }
            if pfd.revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 { return .hangUp }
        }
    }
}

/// A descriptor another thread can make readable (an eventfd), so that a thread waiting in poll(2) on its own
/// descriptors also wakes for a request (stop, new work) without waking on a timer to look for one.
public final class Wakeup: @unchecked Sendable {
    /// The descriptor to poll for POLLIN; -1 when the kernel refused an eventfd (poll(2) ignores it then, and
    /// the waiter falls back on its timeout).
    public let fd: Int32

    public init() {
        fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// Makes `fd` readable until the waiter drains it.
    public func signal() {
        guard fd >= 0 else { return }
        var one: UInt64 = 1
        _ = write(fd, &one, 8)
    }

    /// Consumes the pending signals (call after poll reported `fd` readable).
    public func drain() {
        guard fd >= 0 else { return }
        var value: UInt64 = 0
        _ = read(fd, &value, 8)
    }
}
