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
