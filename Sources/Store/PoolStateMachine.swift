/// The bookkeeping of ``PostgresPool`` without any I/O, so every transition is testable.
///
/// The pool has `capacity` leases. A lease carries an idle connection when there is one, or nil,
/// meaning "open a new one". Idle connections plus leases never exceed `capacity`, so neither do
/// open connections. When no lease is free, acquirers wait in FIFO order; a released lease goes
/// straight to the first waiter (with its connection, or nil if that connection was discarded).
struct PoolStateMachine<Connection, Waiter> {
    enum AcquireAction {
        /// Use this connection, or open one when nil.
        case lease(Connection?)
        /// Park the caller; it is resumed by a later release, cancel or shutdown.
        case wait
        case failShutdown
    }

    enum ReleaseAction {
        case none
        /// Hand the lease (and connection, if any) to this waiter.
        case resume(Waiter, Connection?)
        /// The pool is shut down: close this connection.
        case close(Connection)
    }

    let capacity: Int
    private(set) var leased = 0
    private(set) var idle: [Connection] = []
    private var waiters: [(id: UInt64, waiter: Waiter)] = []
    private(set) var isShutdown = false

    init(capacity: Int) {
        precondition(capacity > 0, "a pool needs at least one connection")
        self.capacity = capacity
    }

    var waiterCount: Int { waiters.count }

    mutating func acquire(id: UInt64, waiter: Waiter) -> AcquireAction {
        if isShutdown { return .failShutdown }
        if leased < capacity && waiters.isEmpty {
            leased += 1
            return .lease(idle.popLast())
        }
        waiters.append((id, waiter))
        return .wait
    }

    /// Returns a lease; `connection` is nil when the caller discarded (closed) it.
    mutating func release(_ connection: Connection?) -> ReleaseAction {
        precondition(leased > 0, "release without a lease")
        if isShutdown {
            leased -= 1
            return connection.map { .close($0) } ?? .none
        }
        if !waiters.isEmpty {
            let next = waiters.removeFirst()
            return .resume(next.waiter, connection)
        }
        leased -= 1
        if let connection { idle.append(connection) }
        return .none
    }

    /// Removes a waiter that gave up (timeout or cancellation); nil if it was already resumed.
    mutating func removeWaiter(id: UInt64) -> Waiter? {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return nil }
        return waiters.remove(at: index).waiter
    }

    /// Marks the pool shut down; returns the waiters to fail and the idle connections to close.
    mutating func shutdown() -> (waiters: [Waiter], idle: [Connection]) {
        isShutdown = true
        let result = (waiters.map(\.waiter), idle)
        waiters.removeAll()
        idle.removeAll()
        return result
    }
}
