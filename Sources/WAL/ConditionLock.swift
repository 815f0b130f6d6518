#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A pthread mutex with condition variables on the monotonic clock: the project's one condition-variable
/// type (plain locks are `Mutex` from Synchronization).
///
/// Threads (the WAL writer, the replayer and its read-ahead, the seeder's workers) sleep until
/// something happens — work queued, a batch made durable, a stop requested — with a timeout, which
/// `Mutex` does not offer. `@unchecked Sendable`: the pthread objects are made for use from many
/// threads; the pointers are allocated once in `init` and freed in `deinit`.
public final class ConditionLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    public init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inline(__always)
    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// A condition variable tied to this lock. Waits must happen inside `withLock`.
    public final class Condition: @unchecked Sendable {
        private let condition: UnsafeMutablePointer<pthread_cond_t>
        private let lock: ConditionLock

        public init(_ lock: ConditionLock) {
            self.lock = lock
            condition = .allocate(capacity: 1)
            condition.initialize(to: pthread_cond_t())
            var attributes = pthread_condattr_t()
            pthread_condattr_init(&attributes)
            pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
            pthread_cond_init(condition, &attributes)
            pthread_condattr_destroy(&attributes)
        }

        deinit {
            pthread_cond_destroy(condition)
            condition.deallocate()
        }

        /// Sleeps until signalled (or spuriously woken: callers re-check their predicate).
        public func wait() {
            pthread_cond_wait(condition, lock.mutex)
        }

        /// Sleeps until signalled or until `deadline` (MonotonicClock nanoseconds); false on timeout.
        @discardableResult
        public func wait(until deadline: UInt64) -> Bool {
            var time = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
            return pthread_cond_timedwait(condition, lock.mutex, &time) != ETIMEDOUT
        }

        public func signal() { pthread_cond_signal(condition) }
        public func broadcast() { pthread_cond_broadcast(condition) }
    }
}

/// CLOCK_MONOTONIC in nanoseconds: the clock of every deadline and rate limit in the WAL.
public enum MonotonicClock {
    public static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    public static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return 0 }
        let (total, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? UInt64.max / 2 : total + UInt64(max(0, attoseconds) / 1_000_000_000)
    }
}
