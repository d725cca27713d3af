import COSEM
import Platform

/// The result of one scheduled poll.
public enum PollOutcome: Sendable {
    /// The meter answered; some measurements may still have failed individually.
    case readings([MeasurementResult])
    /// The poll failed as a whole (no link, no association, timeout).
    case failed(MeterError)
    /// No attempt was made: the reconnect back-off has not run out (a dead meter is not hammered).
    case skipped(retryInMilliseconds: Int64, lastError: MeterError?)
}

/// Health of one meter link, for the status topic.
public struct MeterHealth: Sendable, Equatable {
    public var counters: MeterCounters
    public var consecutiveErrors: Int
    /// True after `maxConsecutiveErrors` failures in a row, until a poll succeeds.
    public var isDown: Bool
    public var lastError: String?
}

/// Keeps one meter readable for months: opens the session when needed, re-associates after a dropped
/// link, backs off exponentially with jitter between reconnects, reports the meter down after
/// MAX_CONSEC_ERRORS failures and keeps retrying slowly, and keeps an idle association alive.
public final class MeterPoller {
    public let session: MeterSession
    public var settings: MeterSettings { session.settings }
    public private(set) var consecutiveErrors = 0
    public private(set) var isDown = false
    public private(set) var lastError: MeterError?
    private var nextAttempt: MonotonicInstant?
    private var failedConnects = 0
    private var random: SplitMix64
    /// Called when the meter goes down or comes back (for logging).
    public var onStateChange: (@Sendable (_ down: Bool, _ message: String) -> Void)?

    public init(session: MeterSession, seed: UInt64 = UInt64(truncatingIfNeeded: MonotonicInstant.now().nanoseconds)) {
        self.session = session
        self.random = SplitMix64(seed: seed)
    }

    public var health: MeterHealth {
        MeterHealth(counters: session.counters, consecutiveErrors: consecutiveErrors, isDown: isDown,
                    lastError: lastError?.description)
    }

    /// Polls `measurements` once, reconnecting as needed. Never throws: every failure is an outcome.
    public func poll(_ measurements: [Measurement], now: MonotonicInstant = .now()) -> PollOutcome {
        if let nextAttempt, now < nextAttempt, !session.isAssociated {
            return .skipped(retryInMilliseconds: nextAttempt.milliseconds(since: now), lastError: lastError)
        }
        var attemptedReopen = false
        while true {
            do {
                if !session.isAssociated {
                    try session.open()
                    failedConnects = 0
                    nextAttempt = nil
                }
                let results = try session.read(measurements)
                if settings.connectPerPoll { session.close() }
                succeeded()
                return .readings(results)
            } catch {
                session.abort()
                // A link that dropped while associated (idle timeout, meter restart) gets one immediate
                // re-association within the same poll before the poll counts as failed. A timeout does not:
                // a meter that stopped answering would only time out again.
                // So does a meter that named the invocation counter it expects: the counter jumped ahead.
                if !attemptedReopen, error.kind == .linkDropped || error.reassociateAtOnce, failedConnects == 0 {
                    attemptedReopen = true
                    continue
                }
                failed(error, now: now)
                return .failed(error)
            }
        }
    }

    /// Reads the clock if the association has been idle for the keep-alive interval. A failure drops the
    /// session (the next poll reconnects) and is returned.
    @discardableResult
    public func keepAlive() -> MeterError? {
        do {
            try session.keepAliveIfIdle()
            return nil
        } catch {
            session.abort()
            return error
        }
    }

    /// When `keepAlive()` should next be called (nil: nothing to keep alive).
    public var nextKeepAlive: MonotonicInstant? { session.nextKeepAlive }

    /// Releases the association and disconnects.
    public func shutdown() { session.close() }

    private func succeeded() {
        if isDown {
            isDown = false
            onStateChange?(false, "meter \(settings.endpoint) answers again after \(consecutiveErrors) failed poll(s)")
        }
        consecutiveErrors = 0
        lastError = nil
    }

    private func failed(_ error: MeterError, now: MonotonicInstant) {
        consecutiveErrors += 1
        failedConnects += 1
        lastError = error
        if !isDown, consecutiveErrors >= settings.maxConsecutiveErrors {
            isDown = true
            session.forgetAddressWidth()
            onStateChange?(true,
                "meter \(settings.endpoint) is down: \(consecutiveErrors) failed polls in a row (MAX_CONSEC_ERRORS="
                + "\(settings.maxConsecutiveErrors)); retrying every \(settings.downBackoffMilliseconds / 1000) s. Last error: \(error)")
        }
        nextAttempt = now.advanced(byMilliseconds: backoff())
    }

    /// Exponential back-off with ±25 % jitter, so that gateways restarted together do not reconnect in step.
    func backoff() -> Int64 {
        let base: Int64
        if isDown {
            base = settings.downBackoffMilliseconds
        } else {
            let shift = min(failedConnects - 1, 20)
            base = min(settings.maxBackoffMilliseconds, settings.initialBackoffMilliseconds << Int64(max(0, shift)))
        }
        let spread = base / 4
        guard spread > 0 else { return base }
        let jitter = Int64(random.next() % UInt64(2 * spread + 1)) - spread
        return max(0, base + jitter)
    }
}
