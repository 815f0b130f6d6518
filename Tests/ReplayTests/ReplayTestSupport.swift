import Events
import Logging
import Store
import Synchronization
import TestSupport
import WAL

@testable import Replay

/// The replayer as the replay tests build it: small batches and fast retries, and the campaign
/// rollups on unless told (the service's default is off; the crash suites cover them this way).
func makeTestReplayer(
    _ wal: WriteAheadLog, _ database: TestDatabase, logger: Logger, node: String = "node-a", batch: Int, retain: Bool = false,
    maxBytes: Int? = nil, rollups: Bool = true, campaigns: Bool = true, directCopy: Bool = true, fault: (@Sendable (ReplayFaultPoint, PostgresConnection) throws -> Void)? = nil
) -> Replayer {
    var configuration = ReplayerConfiguration(databaseURL: database.url, nodeID: node, retainSegments: retain)
    configuration.maxBatchEvents = batch
    if let maxBytes { configuration.maxBatchBytes = maxBytes }
    configuration.minBackoff = .milliseconds(20)
    configuration.maxBackoff = .milliseconds(200)
    configuration.maintainRollups = rollups
    configuration.campaignRollups = campaigns
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

/// What the replay suites share: a logger, and the scratch WALs and database every test starts from.
protocol ReplayTestSuite {
    var logger: Logger { get }
}

extension ReplayTestSuite {
    func openWAL(
        _ directory: TemporaryDirectory, _ name: String = "wal", segmentSize: Int = 64 << 20, fsync: WALFsyncPolicy = .always
    ) throws -> WriteAheadLog {
        var configuration = WALConfiguration(directory: directory.appending(name))
        configuration.segmentSize = segmentSize
        configuration.fsyncPolicy = fsync
        return try WriteAheadLog.open(configuration, logger: logger)
    }

    /// Runs `body` with a fresh migrated database and one WAL in a fresh temporary directory; closes
    /// the WAL and removes both afterwards, also when `body` throws.
    /// `fsync`: `.interval` for a test about timing rather than durability, so that appends do not
    /// wait for a disk that a busy machine makes slow.
    func withWAL(
        segmentSize: Int = 64 << 20, fsync: WALFsyncPolicy = .always, _ body: (WriteAheadLog, TestDatabase) async throws -> Void
    ) async throws {
        try await withWALs(1, segmentSize: segmentSize, fsync: fsync) { wals, database in try await body(wals[0], database) }
    }

    /// The same with two WALs in two directories, as two nodes writing into one database.
    func withTwoWALs(_ body: (WriteAheadLog, WriteAheadLog, TestDatabase) async throws -> Void) async throws {
        try await withWALs(2, segmentSize: 64 << 20) { wals, database in try await body(wals[0], wals[1], database) }
    }

    private func withWALs(
        _ count: Int, segmentSize: Int, fsync: WALFsyncPolicy = .always, _ body: ([WriteAheadLog], TestDatabase) async throws -> Void
    ) async throws {
        let database = try TestDatabase.create()
        defer { database.dropQuietly() }
        let directories = try (0..<count).map { _ in try TemporaryDirectory() }
        defer { directories.forEach { $0.remove() } }
        var wals: [WriteAheadLog] = []
        do {
            for directory in directories { wals.append(try openWAL(directory, segmentSize: segmentSize, fsync: fsync)) }
            try await body(wals, database)
        } catch {
            for wal in wals { try? await wal.close() }
            throw error
        }
        for wal in wals { try await wal.close() }
    }
}
