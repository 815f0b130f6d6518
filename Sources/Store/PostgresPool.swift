import Logging
import NIOPosix
import Synchronization

/// A small bounded pool of ``PostgresConnection``s for queries.
///
/// Bodies run on the pool's own `NIOThreadPool` (one thread per connection), so libpq's blocking calls
/// never run on an event loop or park the Swift cooperative pool. Callers wait asynchronously, in
/// order, for a free connection, at most `acquireTimeout`. Connections open lazily; one that is broken
/// (the server restarted, the backend was terminated) is noticed before it is lent out, or when a body
/// fails on it, and is replaced, so the pool heals by itself after a PostgreSQL restart. While
/// PostgreSQL is down, each call fails fast with `.connectionFailed` (refused at once, or after
/// `connect_timeout`).
public final class PostgresPool: Sendable {
    public struct Statistics: Sendable, Equatable {
        /// Connections open now (idle or lent out).
        public var openConnections: Int
        /// The most connections ever open at once.
        public var peakOpenConnections: Int
        /// Connections opened over the pool's life.
        public var connectionsOpened: Int
        /// Broken connections found and discarded.
        public var connectionsDiscarded: Int
    }

    private typealias Waiter = CheckedContinuation<PostgresConnection?, any Error>

    private struct State {
        var machine: PoolStateMachine<PostgresConnection, Waiter>
        var nextWaiterID: UInt64 = 0
        var statistics = Statistics(openConnections: 0, peakOpenConnections: 0, connectionsOpened: 0, connectionsDiscarded: 0)
        /// Whether the last connection attempt failed; warnings are logged on changes only.
        var reachable = true
    }

    public let size: Int
    private let url: String
    private let applicationName: String
    /// The `statement_timeout` every pooled connection runs with, for error messages.
    public let statementTimeoutMilliseconds: Int?
    private let connectTimeoutSeconds: Int
    private let acquireTimeout: Duration
    private let logger: Logger
    private let threads: NIOThreadPool
    private let state: Mutex<State>

    /// - Parameters:
    ///   - size: connections (and worker threads) at most; default 4.
    ///   - statementTimeoutMilliseconds: `statement_timeout` set on every connection; nil for none.
    ///   - acquireTimeout: how long a caller waits for a free connection before `.poolTimeout`.
    public init(
        url: String,
        size: Int = 4,
        statementTimeoutMilliseconds: Int? = nil,
        applicationName: String = "event-metrics-service",
        connectTimeoutSeconds: Int = 3,
        acquireTimeout: Duration = .seconds(10),
        logger: Logger
    ) {
        precondition(size > 0, "PostgresPool size must be at least 1")
        self.size = size
        self.url = url
        self.applicationName = applicationName
        self.statementTimeoutMilliseconds = statementTimeoutMilliseconds
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.acquireTimeout = acquireTimeout
        self.logger = logger
        self.threads = NIOThreadPool(numberOfThreads: size)
        self.threads.start()
        self.state = Mutex(State(machine: PoolStateMachine(capacity: size)))
    }

    public var statistics: Statistics { state.withLock { $0.statistics } }

    /// Runs `body` with a connection on a pool thread and returns its result.
    ///
    /// The connection is lent to `body` alone; `body` must not keep it. A connection left inside a
    /// transaction is rolled back; one that broke is closed and replaced on a later call.
    @discardableResult
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        let lease = try await acquire()
        // Every lease is returned exactly once: `submit` always calls its closure, with `.active`, or
        // with `.cancelled` when the thread pool is shutting down.
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            threads.submit { work in
                guard case .active = work else {
                    if let lease { self.discard(lease, broken: false) }
                    self.release(nil)
                    continuation.resume(throwing: PostgresError(code: .closed, message: "PostgreSQL pool is shut down"))
                    return
                }
                continuation.resume(with: Result { try self.run(body, on: lease) })
            }
        }
    }

    /// Closes idle connections, fails waiting callers with `.closed`, and stops the worker threads
    /// after running bodies finish.
    public func shutdown() async {
        let (waiters, idle) = state.withLock { $0.machine.shutdown() }
        for waiter in waiters {
            waiter.resume(throwing: PostgresError(code: .closed, message: "PostgreSQL pool is shut down"))
        }
        for connection in idle { discard(connection, broken: false) }
        try? await threads.shutdownGracefully()
    }

    // MARK: - Leases

    private func acquire() async throws -> PostgresConnection? {
        try Task.checkCancellation()
        let id = state.withLock { state in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: Waiter) in
                let action = state.withLock { $0.machine.acquire(id: id, waiter: continuation) }
                switch action {
                case .lease(let connection):
                    continuation.resume(returning: connection)
                case .failShutdown:
                    continuation.resume(throwing: PostgresError(code: .closed, message: "PostgreSQL pool is shut down"))
                case .wait:
                    let timeout = acquireTimeout
                    Task { [weak self] in
                        try? await Task.sleep(for: timeout)
                        self?.giveUp(waiterID: id, PostgresError(code: .poolTimeout, message: "no PostgreSQL connection became free within \(timeout)"))
                    }
                }
            }
        } onCancel: {
            giveUp(waiterID: id, CancellationError())
        }
    }

    private func giveUp(waiterID: UInt64, _ error: any Error) {
        state.withLock { $0.machine.removeWaiter(id: waiterID) }?.resume(throwing: error)
    }

    private func release(_ connection: PostgresConnection?) {
        let action = state.withLock { $0.machine.release(connection) }
        switch action {
        case .none: break
        case .resume(let waiter, let connection): waiter.resume(returning: connection)
        case .close(let connection): discard(connection, broken: false)
        }
    }

    // MARK: - On a pool thread

    private func run<T>(_ body: (PostgresConnection) throws -> T, on lease: PostgresConnection?) throws -> T {
        var connection = lease
        if let existing = connection, !existing.refreshHealth() {
            logger.info("discarding a broken PostgreSQL connection", metadata: ["backend_pid": "\(existing.backendPID)"])
            discard(existing)
            connection = nil
        }
        if connection == nil {
            do {
                connection = try connect()
            } catch {
                release(nil)
                throw error
            }
        }
        let leased = connection!
        do {
            let value = try body(leased)
            release(reusable(leased))
            return value
        } catch {
            release(reusable(leased))
            throw error
        }
    }

    private func connect() throws -> PostgresConnection {
        let connection: PostgresConnection
        do {
            connection = try PostgresConnection(url: url, applicationName: applicationName, connectTimeoutSeconds: connectTimeoutSeconds)
            if let statementTimeoutMilliseconds {
                try connection.setStatementTimeout(milliseconds: statementTimeoutMilliseconds)
            }
        } catch let error as PostgresError {
            let changed = state.withLock { state in
                defer { state.reachable = false }
                return state.reachable
            }
            if changed { logger.warning("cannot connect to PostgreSQL", metadata: ["error": "\(error.message)"]) }
            throw PostgresError(code: .connectionFailed, message: error.message, sqlState: error.sqlState, query: error.query)
        }
        let wasUnreachable = state.withLock { state in
            state.statistics.openConnections += 1
            state.statistics.connectionsOpened += 1
            state.statistics.peakOpenConnections = max(state.statistics.peakOpenConnections, state.statistics.openConnections)
            defer { state.reachable = true }
            return !state.reachable
        }
        if wasUnreachable { logger.info("connected to PostgreSQL again") }
        logger.debug("opened a PostgreSQL connection", metadata: ["backend_pid": "\(connection.backendPID)"])
        return connection
    }

    /// The connection to keep after a body ran, or nil after closing it.
    private func reusable(_ connection: PostgresConnection) -> PostgresConnection? {
        guard connection.isHealthy else {
            discard(connection)
            return nil
        }
        switch connection.transactionStatus {
        case .idle:
            return connection
        case .inTransaction, .inError:
            if (try? connection.executeScript("ROLLBACK")) != nil, connection.transactionStatus == .idle { return connection }
            discard(connection)
            return nil
        case .active, .unknown:
            discard(connection)
            return nil
        }
    }

    private func discard(_ connection: PostgresConnection, broken: Bool = true) {
        connection.close()
        state.withLock { state in
            state.statistics.openConnections -= 1
            if broken { state.statistics.connectionsDiscarded += 1 }
        }
    }
}
