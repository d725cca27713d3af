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

    /// Starts `body` on a new thread; `name` says what it is in error messages.
    public static func spawn(name: String, _ body: @escaping @Sendable () -> Void) throws(SystemError) -> PlatformThread {
        let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { raw in
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
