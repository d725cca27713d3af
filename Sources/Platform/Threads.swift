import CLibc

/// The body handed to a new thread (a module-level class: Embedded Swift cannot specialise a function-local one
/// in another module).
final class ThreadBody {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

/// A joinable POSIX thread. The agent gives each meter a thread because its I/O blocks (with poll(2)
/// timeouts): on a two-core gateway a blocked cooperative-pool thread would stall every other meter.
public final class PlatformThread: @unchecked Sendable {
    private var handle: pthread_t
    private var joined = false

    private init(handle: pthread_t) { self.handle = handle }

    /// Starts `body` on a new thread; `name` says what it is in error messages and, cut to 15 bytes, names the
    /// thread for `top -H`, `ps -L` and perf (`systemName`, when given, is that name instead: a meter's thread
    /// is named by its device id alone, so that a thousand of them tell apart in 15 bytes).
    /// `stackBytes` sets the thread's stack size (default: the C library's, 8 MiB of address space): a gateway
    /// with a thousand meter threads at 8 MiB would need 8 GiB of addresses, more than a 32-bit Pi has.
    public static func spawn(
        name: String, systemName: String? = nil, stackBytes: Int? = nil, _ body: @escaping @Sendable () -> Void
    ) throws(SystemError) -> PlatformThread {
        let shown = systemName ?? name
        let box = Unmanaged.passRetained(ThreadBody({
            clibc_set_thread_name(shown)
            body()
        })).toOpaque()
        var tid = pthread_t()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        if let stackBytes { _ = pthread_attr_setstacksize(&attributes, stackBytes) }
        let rc = pthread_create(&tid, &attributes, { raw in
            let box = Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        if rc != 0 {
            Unmanaged<ThreadBody>.fromOpaque(box).release()
            throw SystemError("pthread_create(\(name))", code: rc)
        }
        return PlatformThread(handle: tid)
    }

    /// Waits for the thread to end. Calling it twice is harmless.
    public func join() {
        if joined { return }
        joined = true
        pthread_join(handle, nil)
    }
}

/// The process's open-file limit (RLIMIT_NOFILE).
public enum OpenFileLimit {
    /// Raises the soft limit to `wanted`, or as far as the hard limit allows (nil: to the hard limit); returns
    /// the soft limit now in force (the kernel lets any process raise it up to the hard limit).
    @discardableResult
    public static func raise(to wanted: Int? = nil) -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        let target = wanted.map { rlim_t($0) }.map { min($0, limit.rlim_max) } ?? limit.rlim_max
        if limit.rlim_cur < target {
            limit.rlim_cur = target
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        return Int(clamping: limit.rlim_cur)
    }

    /// The hard limit.
    public static var hard: Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        return Int(clamping: limit.rlim_max)
    }
}
