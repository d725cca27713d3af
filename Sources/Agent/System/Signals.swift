import CLibc
import Platform

/// What a signal asks the agent to do.
public enum AgentSignal: Sendable, Equatable {
    /// SIGINT or SIGTERM: finish or abandon the poll in flight, release the meters, flush the spool, disconnect.
    case stop(signal: Int32)
    /// SIGHUP: reopen the TLS certificates (and the log), keep running.
    case reload
}

/// Turns SIGINT, SIGTERM and SIGHUP into `AgentSignal` events on one dedicated thread that waits for them with
/// sigwait, so no code runs in an asynchronous signal handler.
///
/// Call `blockSignals()` on the main thread before any other thread starts (threads inherit the mask), then
/// `start`. A signal the process receives then stays pending until the signal thread takes it.
public final class SignalThread: Sendable {
    public static let handled: [Int32] = [SIGINT, SIGTERM, SIGHUP]
    /// Sent to the signal thread by `stop()` to end its wait (blocked process-wide with the others, and
    /// otherwise ignored): the thread sleeps in sigwait with no timeout, so an idle agent does not wake.
    static let wake: Int32 = SIGUSR2

    private let stopRequested = Locked(false)
    private let threadHandle = Locked<pthread_t?>(nil)
    private let thread: Locked<PlatformThread?> = Locked(nil)

    private init() {}

    /// Blocks the handled signals in the calling thread and every thread it starts afterwards.
    public static func blockSignals() {
        var set = signalSet()
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Starts the thread; `handler` runs on it for each signal, in order.
    public static func start(_ handler: @escaping @Sendable (AgentSignal) -> Void) throws(SystemError) -> SignalThread {
        let signals = SignalThread()
        let ready = StopSignal()
        let t = try PlatformThread.spawn(name: "signals") {
            // Blocked here too, in case the caller forgot: sigwait needs the signals blocked in this thread.
            var set = signalSet()
            pthread_sigmask(SIG_BLOCK, &set, nil)
            signals.threadHandle.withLock { $0 = pthread_self() }
            ready.set()
            while !signals.stopRequested.withLock({ $0 }) {
                var signal: Int32 = 0
                guard sigwait(&set, &signal) == 0 else { continue }
                if signal == wake { continue }  // stop() (checked above), or a stray SIGUSR2: ignored
                handler(signal == SIGHUP ? .reload : .stop(signal: signal))
            }
        }
        _ = ready.wait(until: MonotonicInstant.now().advanced(byMilliseconds: 10_000))
        signals.thread.withLock { $0 = t }
        return signals
    }

    /// Ends the thread and waits for it.
    public func stop() {
        stopRequested.withLock { $0 = true }
        if let handle = threadHandle.withLock({ $0 }) { pthread_kill(handle, Self.wake) }
        let t = thread.withLock { $0 }
        t?.join()
    }

    /// Sends `signal` to the signal thread itself (pthread_kill): for tests, where a process-wide signal
    /// could land on a test-runner thread that does not block it.
    func raise(_ signal: Int32) {
        if let handle = threadHandle.withLock({ $0 }) { pthread_kill(handle, signal) }
    }

    private static func signalSet() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for s in handled { sigaddset(&set, s) }
        sigaddset(&set, wake)
        return set
    }
}
