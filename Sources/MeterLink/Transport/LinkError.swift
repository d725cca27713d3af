import Platform

/// What went wrong on the link to a meter: the transport layer's one error type.
///
/// `kind` is for code (which counter to bump, whether to reconnect); `description` is for the operator and
/// says what happened, to which peer, and what to check.
public struct LinkError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The class of failure, for counters and recovery decisions.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// The deadline passed with no (or not enough) data.
        case timeout
        /// The peer actively refused the connection (TCP RST: nothing listens on that port).
        case refused
        /// No route to the host or network.
        case unreachable
        /// The connection was closed or reset by the peer after it was established.
        case dropped
        /// The device disappeared (USB probe unplugged, pty master closed): reopen it when it is back.
        case vanished
        /// The host name could not be resolved.
        case lookupFailed
        /// The serial device is already opened exclusively by another process.
        case busy
        /// The device or port exists but this process may not use it.
        case permissionDenied
        /// The device path does not exist.
        case notFound
        /// A setting cannot be applied (unsupported baud rate, not a terminal, bad port number).
        case invalidConfiguration
        /// The peer sent bytes that do not follow the expected exchange (garbled mode E identification).
        case protocolViolation
        /// The peer asked for something this side does not support (a mode E baud code out of range).
        case unsupported
        /// The transport was closed by this process; open a new one or call `reopen`.
        case closed
        /// Any other failed system call; the message carries the errno text.
        case system
    }

    /// The class of failure.
    public var kind: Kind
    /// The peer in words, e.g. `10.0.0.5:3333` or `/dev/ttyUSB0`.
    public var peer: String
    /// The whole operator-facing message.
    public var message: String
    /// The failed system call behind this error, when there is one.
    public var systemError: SystemError?

    public init(_ kind: Kind, peer: String, message: String, systemError: SystemError? = nil) {
        self.kind = kind
        self.peer = peer
        self.message = message
        self.systemError = systemError
    }

    public var description: String { message }

    /// True when reconnecting (or reopening the device) later may cure it.
    public var isRecoverable: Bool {
        switch kind {
        case .invalidConfiguration, .permissionDenied, .unsupported: return false
        default: return true
        }
    }
}

// Factories: @inline(never) keeps the string building off the hot path.
extension LinkError {
    @inline(never)
    static func timeout(_ peer: String, waitingFor what: String, milliseconds: Int64) -> LinkError {
        LinkError(
            .timeout, peer: peer,
            message: "no answer from \(peer) within \(formatMilliseconds(milliseconds)) while \(what): "
                + "check that the meter is powered and connected, and the address and timeouts")
    }

    @inline(never)
    static func dropped(_ peer: String, _ detail: String) -> LinkError {
        LinkError(
            .dropped, peer: peer,
            message: "link to \(peer) dropped (\(detail)): the meter or a gateway closed the connection; "
                + "it will be reconnected")
    }

    @inline(never)
    static func vanished(_ peer: String, _ detail: String, systemError: SystemError? = nil) -> LinkError {
        LinkError(
            .vanished, peer: peer,
            message: "device \(peer) vanished (\(detail)): check that the probe is plugged in; "
                + "it will be reopened when it is back",
            systemError: systemError)
    }

    @inline(never)
    static func closed(_ peer: String) -> LinkError {
        LinkError(.closed, peer: peer, message: "link to \(peer) is closed: reopen it before use")
    }

    @inline(never)
    static func system(_ peer: String, _ error: SystemError) -> LinkError {
        LinkError(.system, peer: peer, message: "\(error) on \(peer)", systemError: error)
    }

    @inline(never)
    static func invalid(_ peer: String, _ detail: String) -> LinkError {
        LinkError(.invalidConfiguration, peer: peer, message: "\(detail) (\(peer))")
    }
}

/// Milliseconds from `start` to `deadline`, rounded to the nearest: a 150 ms deadline taken a few
/// microseconds before `start` still reads "150 ms" in messages.
func roundedMilliseconds(from start: MonotonicInstant, to deadline: Deadline) -> Int64 {
    (deadline.instant.microseconds(since: start) + 500) / 1000
}

/// "5 s", "300 ms", "1.5 s": timeouts as an operator writes them.
func formatMilliseconds(_ milliseconds: Int64) -> String {
    if milliseconds < 1000 { return "\(milliseconds) ms" }
    if milliseconds % 1000 == 0 { return "\(milliseconds / 1000) s" }
    return "\(milliseconds / 1000).\((milliseconds % 1000) / 100) s"
}

/// What a transport has done since it was created, for health reports and the `read --verbose` summary.
public struct TransportCounters: Sendable, Equatable {
    /// Bytes received from the peer (after any echo was discarded by mode E).
    public var bytesIn: UInt64 = 0
    /// Bytes handed to the kernel for the peer.
    public var bytesOut: UInt64 = 0
    /// Reads or writes whose deadline passed.
    public var timeouts: UInt64 = 0
    /// Successful `reopen` calls (reconnects, reopened serial devices).
    public var reconnects: UInt64 = 0
    /// Links lost: peer closed or reset, device vanished.
    public var drops: UInt64 = 0
    /// Bytes thrown away by `discardInput` (stray bytes, echoes).
    public var bytesDiscarded: UInt64 = 0

    public init() {}
}
