import WAL

/// A stop request that the replayer's thread sleeps on: backoff and the wait for a batch to gather end
/// as soon as shutdown asks, instead of the thread waking every few milliseconds to look.
final class StopSignal: @unchecked Sendable {
    // @unchecked: `stopped` is only touched inside `lock`.
    private let lock = ConditionLock()
    private let changed: ConditionLock.Condition
    private var stopped = false

    init() { changed = ConditionLock.Condition(lock) }

    var isRequested: Bool { lock.withLock { stopped } }

    /// Sets the request (it stays set) and wakes every waiter.
    func request() {
        lock.withLock {
            stopped = true
            changed.broadcast()
        }
    }

    /// Sleeps for `duration` (nothing when it is zero or negative) or until a stop is requested.
    func sleep(for duration: Duration) {
        let deadline = MonotonicClock.now() + MonotonicClock.nanoseconds(duration)
        lock.withLock {
            while !stopped, MonotonicClock.now() < deadline { changed.wait(until: deadline) }
        }
    }
}
