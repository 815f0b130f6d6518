import Logging
import Synchronization

/// The shared heart of one open WAL: its configuration, its lock, the state behind the lock, and
/// the two condition variables threads sleep on. The appenders, the writer thread, readers and
/// the `WriteAheadLog` facade all hold it.
///
/// `@unchecked Sendable`: `state` is read and written only inside `withState`, i.e. under `lock`;
/// `freeBytesCheckedAt` is atomic; everything else is immutable.
final class WALCore: @unchecked Sendable {
    let configuration: WALConfiguration
    let logger: Logger
    let lock = ConditionLock()
    /// The writer thread sleeps on this until appends are queued or the WAL closes.
    let workAvailable: ConditionLock.Condition
    /// Readers sleep on this until a batch becomes durable (broadcast after each fdatasync).
    let dataDurable: ConditionLock.Condition
    private var state: WALState
    /// When `state.freeBytes` was last read from statvfs (MonotonicClock ns).
    private let freeBytesCheckedAt: Atomic<UInt64>

    /// statvfs is not called more often than this.
    static let freeSpaceCheckInterval: UInt64 = 100_000_000

    init(configuration: WALConfiguration, logger: Logger, state: WALState) {
        self.configuration = configuration
        self.logger = logger
        self.state = state
        freeBytesCheckedAt = Atomic(MonotonicClock.now())
        workAvailable = ConditionLock.Condition(lock)
        dataDurable = ConditionLock.Condition(lock)
    }

    @inline(__always)
    func withState<T>(_ body: (inout WALState) throws -> T) rethrows -> T {
        try lock.withLock { try body(&state) }
    }

    /// Refreshes the cached free-space figure when it is older than 100 ms. The staleness check is
    /// one atomic load, so appends pay nearly nothing for it; one caller wins the compare-exchange
    /// and does the statvfs, outside the lock, before its own admission check.
    func refreshFreeBytesIfStale(now: UInt64 = MonotonicClock.now()) {
        let checked = freeBytesCheckedAt.load(ordering: .relaxed)
        guard now &- checked >= Self.freeSpaceCheckInterval,
              freeBytesCheckedAt.compareExchange(expected: checked, desired: now, ordering: .relaxed).exchanged
        else { return }
        do {
            let available = try configuration.fileSystem.availableBytes(configuration.directory)
            withState { $0.freeBytes = available }
        } catch {
            logger.warning("statvfs of the WAL directory failed; keeping the last figure", metadata: ["error": "\(error)"])
        }
    }

    /// Sleeps on `dataDurable` until `ready(state)` holds or the deadline (MonotonicClock ns)
    /// passes. Deliberately also sleeps out the timeout on a closed or failed WAL, so a replayer
    /// loop around it can never spin.
    func waitForDurableData(until deadline: UInt64, _ ready: (WALState) -> Bool) -> Bool {
        lock.withLock {
            while true {
                if ready(state) { return true }
                if !dataDurable.wait(until: deadline) { return ready(state) }
            }
        }
    }
}
