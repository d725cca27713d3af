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

/// Keeps one meter readable for months: opens the session when needed, re-associates after a dropped
/// link, backs off exponentially with jitter between reconnects, backs off at the down rate (and probes the
/// address width again) once the meter is down, and keeps an idle association alive.
///
/// Whether the meter is down is not the poller's to count: its ``FailureStreakSource`` (the agent's health
/// recorder) keeps the failures in a row, counted from what each poll returned, and the poller reads it before
/// the next attempt. The poller keeps only its back-off: when to try again.
public final class MeterPoller {
    public let session: MeterSession
    public var settings: MeterSettings { session.settings }
    /// The error of the last attempt, while it is the last (nil after a success).
    public private(set) var lastError: MeterError?
    private let streak: any FailureStreakSource
    /// A failed attempt whose back-off is drawn at the next poll, once its keeper has counted it.
    private var failedAt: MonotonicInstant?
    private var nextAttempt: MonotonicInstant?
    /// Failed attempts since the last successful association: the exponent of the back-off.
    private var failedConnects = 0
    /// The address width was forgotten for this down period (it is probed again once per period).
    private var widthForgotten = false
    private var random: SplitMix64

    public init(
        session: MeterSession, failureStreak: any FailureStreakSource,
        seed: UInt64 = UInt64(truncatingIfNeeded: MonotonicInstant.now().nanoseconds)
    ) {
        self.session = session
        self.streak = failureStreak
        self.random = SplitMix64(seed: seed)
    }

    /// Down, as the meter's failure streak says.
    public var isDown: Bool { streak.failureStreak.isDown }

    /// Polls `measurements` once, reconnecting as needed. Never throws: every failure is an outcome.
    public func poll(_ measurements: [Measurement], now: MonotonicInstant = .now()) -> PollOutcome {
        settleLastFailure()
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
        lastError = nil
        failedAt = nil
        widthForgotten = false
    }

    private func failed(_ error: MeterError, now: MonotonicInstant) {
        failedConnects += 1
        lastError = error
        failedAt = now
    }

    /// Draws the back-off of the last failed attempt, now that its keeper has counted it: at the down rate when
    /// the meter is down, whose address width is then probed again at the next association.
    private func settleLastFailure() {
        guard let failedAt else { return }
        self.failedAt = nil
        let down = isDown
        if down, !widthForgotten {
            widthForgotten = true
            session.forgetAddressWidth()
        }
        nextAttempt = failedAt.advanced(byMilliseconds: backoff(down: down))
    }

    /// Exponential back-off with ±25 % jitter, so that gateways restarted together do not reconnect in step.
    func backoff(down: Bool) -> Int64 {
        let base: Int64
        if down {
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
