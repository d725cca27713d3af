import CLibc

/// A failed system call: which call, on what, and errno. The description reads like
/// "open(/var/lib/dlms-bridge/spool/000001.log) failed: No space left on device (errno 28)".
public struct SystemError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The call that failed, with its subject when there is one, e.g. `connect(10.0.0.5:3333)`.
    public var call: String
    /// The errno value.
    public var code: Int32

    public init(_ call: String, code: Int32) {
        self.call = call
        self.code = code
    }

    /// The error for `call` with the current errno.
    @inline(never)
    public static func current(_ call: String) -> SystemError { SystemError(call, code: errno) }

    /// The C library's text for the errno value.
    public var message: String { String(cString: strerror(code)) }

    public var description: String { "\(call) failed: \(message) (errno \(code))" }

    public var isNoSpace: Bool { code == ENOSPC || code == EDQUOT }
    public var isReadOnlyFileSystem: Bool { code == EROFS }
}

/// Runs a system call until it is not interrupted by a signal; returns its result or throws with errno.
/// One place retries EINTR so that no caller forgets to.
@inlinable
public func retryingInterrupts<T: BinaryInteger>(
    _ call: @autoclosure () -> String, _ body: () -> T
) throws(SystemError) -> T {
    while true {
        let result = body()
        if result >= 0 { return result }
        let code = errno
        if code == EINTR { continue }
        throw SystemError(call(), code: code)
    }
}

/// The calling thread's errno: C's `errno` is a macro Swift cannot import, so every module reads it here.
public var errno: Int32 {
    get { clibc_errno() }
    set { clibc_set_errno(newValue) }
}
