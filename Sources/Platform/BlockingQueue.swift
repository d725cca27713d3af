import CLibc

/// A mutex with a condition variable on the monotonic clock, for threads that must wait with a timeout
/// (a spool writer waiting for readings, a publisher waiting for broker acknowledgements).
public final class ConditionLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>

    public init() {
        mutex = .allocate(capacity: 1)
        cond = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        cond.deallocate()
    }

    /// Runs `body` holding the lock.
    public func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Waits, holding the lock, until `predicate` is true or `deadline` passes (nil = no deadline).
    /// Returns the predicate's last value. Call only inside `withLock`.
    public func wait(until predicate: () -> Bool, deadline: Deadline?) -> Bool {
        while !predicate() {
            if let deadline {
                if deadline.hasPassed { return predicate() }
                var ts = timespec()
                ts.tv_sec = time_t(deadline.instant.nanoseconds / 1_000_000_000)
                ts.tv_nsec = Int(deadline.instant.nanoseconds % 1_000_000_000)
                _ = pthread_cond_timedwait(cond, mutex, &ts)
            } else {
                pthread_cond_wait(cond, mutex)
            }
        }
        return true
    }

    /// Wakes every waiter. Call inside `withLock` after changing what they wait on.
    public func broadcast() { pthread_cond_broadcast(cond) }
}

/// A FIFO handed between threads; `pop` waits with a deadline. Unbounded: producers are bounded by their
/// own schedule (one reading per poll), and the spool, not this queue, is where readings are kept.
public final class BlockingQueue<Element: Sendable>: @unchecked Sendable {
    private let lock = ConditionLock()
    private var items: [Element] = []
    private var head = 0
    private var closed = false

    public init() {}

    /// Appends an element; returns false when the queue was closed.
    @discardableResult
    public func push(_ element: Element) -> Bool {
        lock.withLock {
            if closed { return false }
            items.append(element)
            lock.broadcast()
            return true
        }
    }

    /// The oldest element, waiting until `deadline` (nil = forever); nil on timeout or once closed and empty.
    public func pop(deadline: Deadline?) -> Element? {
        lock.withLock {
            _ = lock.wait(until: { head < items.count || closed }, deadline: deadline)
            guard head < items.count else { return nil }
            let element = items[head]
            head += 1
            if head > 64 && head * 2 > items.count {
                items.removeFirst(head)
                head = 0
            }
            return element
        }
    }

    /// Everything queued now, without waiting.
    public func drain() -> [Element] {
        lock.withLock {
            let out = Array(items[head...])
            items.removeAll(keepingCapacity: true)
            head = 0
            return out
        }
    }

    /// Number of queued elements.
    public var count: Int { lock.withLock { items.count - head } }

    /// Wakes every waiter; later pushes are refused, queued elements can still be popped.
    public func close() {
        lock.withLock {
            closed = true
            lock.broadcast()
        }
    }
}

/// Wakes one waiting thread early: "there is work" (or "stop"), without the waiter looking on a timer.
public final class Doorbell: @unchecked Sendable {
    private let lock = ConditionLock()
    private var rung = false

    public init() {}

    /// Wakes the waiter, or makes its next wait return at once.
    public func ring() {
        lock.withLock {
            rung = true
            lock.broadcast()
        }
    }

    /// Waits until rung (since the last wait) or `deadline` (nil: no deadline); true when it was rung.
    @discardableResult
    public func wait(until deadline: MonotonicInstant?) -> Bool {
        lock.withLock {
            let wasRung = lock.wait(until: { rung }, deadline: deadline.map { Deadline($0) })
            rung = false
            return wasRung
        }
    }
}
