import Events
import Logging
import Store
import Synchronization
import TestSupport
import WAL

@testable import Replay

/// The replayer as the replay tests build it: small batches and fast retries.
func makeTestReplayer(
    _ wal: WriteAheadLog, _ database: TestDatabase, logger: Logger, node: String = "node-a", batch: Int, retain: Bool = false,
    maxBytes: Int? = nil, rollups: Bool = true, directCopy: Bool = true, fault: (@Sendable (ReplayFaultPoint, PostgresConnection) throws -> Void)? = nil
) -> Replayer {
    var configuration = ReplayerConfiguration(databaseURL: database.url, nodeID: node, retainSegments: retain)
    configuration.maxBatchEvents = batch
    if let maxBytes { configuration.maxBatchBytes = maxBytes }
    configuration.minBackoff = .milliseconds(20)
    configuration.maxBackoff = .milliseconds(200)
    configuration.maintainRollups = rollups
    configuration.allowDirectCopy = directCopy
    configuration.faultInjection = fault
    return Replayer(wal: wal, configuration: configuration, logger: logger)
}

struct InjectedFault: Error {}

/// Faults for ``ReplayerConfiguration/faultInjection`` that count how often they struck.
final class ReplayFault: Sendable {
    private let struck = Mutex(0)
    var count: Int { struck.withLock { $0 } }

    /// Throws at `point` the first `times` times it is reached: a transaction aborted before its
    /// commit, or everything the replayer knew dropped right after one, as a crash would.
    func failFirst(_ times: Int, at point: ReplayFaultPoint) -> @Sendable (ReplayFaultPoint, PostgresConnection) throws -> Void {
        { [self] reached, _ in
            guard reached == point else { return }
            if struck.withLock({ count in count += 1; return count <= times }) { throw InjectedFault() }
        }
    }

    /// Terminates the replayer's backend from another connection right before its commit, `times`
    /// times: the server side of a crash between COPY and commit.
    func killConnectionBeforeCommit(_ times: Int, adminURL: String) -> @Sendable (ReplayFaultPoint, PostgresConnection) throws -> Void {
        { [self] reached, connection in
            guard reached == .beforeCommit, struck.withLock({ count in
                guard count < times else { return false }
                count += 1
                return true
            }) else { return }
            let pid = try connection.execute("SELECT pg_backend_pid()").rows[0][0] ?? "0"
            let admin = try PostgresConnection(url: adminURL)
            defer { admin.close() }
            _ = try admin.execute("SELECT pg_terminate_backend($1::int)", [pid])
        }
    }
}
