import Events
import Foundation
import Logging
import Rollups
import Store
import TestSupport
import Testing
import WAL

@testable import Replay

/// Crashes in the middle of a replay transaction, after its rows, hourly and daily rollups are
/// written but before the day blocks (`rollup_blocks`, levels 1–8) are, or before the campaign blocks
/// (`rollup_campaign_blocks`, written last, after the campaign hours and days): the transaction
/// aborted, or its backend killed. The events are late and out of order (up to ~300 days back, across level-8
/// block boundaries), so every batch touches blocks closed long ago. After recovery every level must
/// equal raw SQL (``RollupVerifier`` checks each block's total, uniques and members).
///
/// The crash point is a statement trigger on `rollup_blocks` that strikes the first N writes to it,
/// counted by a sequence (which a rollback does not undo): the replayer's merge writes the blocks
/// last, so when it fires the transaction already holds the batch's events, hours and days.
@Suite("Replayer block levels under crashes")
struct ReplayerBlockCrashTests {
    let logger = Logger(label: "replayer-block-crash-test")
    static let now = Int64(Date().timeIntervalSince1970)

    enum Strike: String {
        /// The statement fails: the replayer rolls the transaction back and retries.
        case abort = "RAISE EXCEPTION 'injected: crash before the block update'"
        /// The backend terminates itself: the server side of a replayer killed mid-transaction.
        case killBackend = "PERFORM pg_terminate_backend(pg_backend_pid())"
    }

    /// Installs the trigger: the first `times` statements that write `table` strike.
    func installFault(_ strike: Strike, times: Int, table: String = "rollup_blocks", on database: TestDatabase) throws {
        try installBlockFault(strike: strike.rawValue, times: times, table: table, databaseURL: database.url)
    }

    /// How often the trigger fired (struck or not).
    func faultCount(_ database: TestDatabase) throws -> Int {
        try database.int("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM block_fault_count")
    }

    /// A late event: a random time in the last `days` days, a random user of `users`.
    static func lateRecord(_ i: Int, seed: UInt64, days: Int64 = 300, users: Int = 150) -> [UInt8] {
        var random = SplitMix64(seed: seed &+ UInt64(i) &* 0x9E37_79B9)
        let channel = ["web", "mobile_app", "api"][Int(random.next() % 3)]
        let campaign = [nil, "cmp_001", "cmp_002", "spring"][Int(random.next() % 4)]
        let event = EventFactory.event(
            user: "user_\(random.next() % UInt64(users))", name: i % 4 == 0 ? "purchase" : "product_view", channel: channel,
            timestamp: now - 3_600 - Int64(random.next() % UInt64(days * 86_400)), campaign: campaign, key: "late-\(seed)-\(i)")
        return EventRecordCodec.encode(event)
    }

    /// Every row of every table and level equals raw SQL, the blocks are whole, and the top blocks
    /// hold every event.
    func expectEveryLevelExact(_ database: TestDatabase, events: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let connection = try PostgresConnection(url: database.url)
        defer { connection.close() }
        let report = try RollupVerifier.verify(on: connection)
        #expect(report.differences.map(\.description) == [], sourceLocation: sourceLocation)
        #expect(report.levelsComplete, sourceLocation: sourceLocation)
        #expect(try database.int("SELECT count(*) FROM events") == events, sourceLocation: sourceLocation)
        for level in 1...RollupLevel.maxLevel {
            #expect(
                try database.int("SELECT coalesce(sum(total), 0) FROM rollup_blocks WHERE level = \(level) AND channel = ''") == events,
                "level \(level) total", sourceLocation: sourceLocation)
            #expect(
                try database.int("SELECT coalesce(sum(total), 0) FROM rollup_campaign_blocks WHERE level = \(level) AND channel = ''") == events,
                "campaign level \(level) total", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: [(Strike.abort, "rollup_blocks"), (.killBackend, "rollup_blocks"), (.abort, "rollup_campaign_blocks"), (.killBackend, "rollup_campaign_blocks")])
    func crashBeforeTheBlockUpdateLeavesEveryLevelExact(strike: Strike, table: String) async throws {
        let directory = try TemporaryDirectory()
        let database = try TestDatabase.create()
        defer { directory.remove(); database.dropQuietly() }
        let wal = try WriteAheadLog.open(WALConfiguration(directory: directory.appending("wal")), logger: logger)
        // First a history in time order, replayed cleanly; then late events, in random time order.
        for i in 0..<400 { _ = try await wal.append(Self.lateRecord(i, seed: 1)) }
        try await makeTestReplayer(wal, database, logger: logger, batch: 100).drain()
        try installFault(strike, times: 3, table: table, on: database)
        for i in 0..<1_200 { _ = try await wal.append(Self.lateRecord(i, seed: 2)) }
        try await makeTestReplayer(wal, database, logger: logger, batch: 100).drain()
        #expect(try faultCount(database) > 3, "the fault never struck")
        try expectEveryLevelExact(database, events: 1_600)
        try await wal.close()
    }

    /// Two nodes replay late events into the same closed days and blocks at once, while the first
    /// campaign block writes (the last of each transaction) abort: both finish, every level is exact, and PostgreSQL saw no deadlock.
    @Test func twoNodesWithLateEventsIntoTheSameBlocksNeverDeadlock() async throws {
        let directoryA = try TemporaryDirectory()
        let directoryB = try TemporaryDirectory()
        let database = try TestDatabase.create()
        defer { directoryA.remove(); directoryB.remove(); database.dropQuietly() }
        try installFault(.abort, times: 4, table: "rollup_campaign_blocks", on: database)
        let walA = try WriteAheadLog.open(WALConfiguration(directory: directoryA.appending("wal")), logger: logger)
        let walB = try WriteAheadLog.open(WALConfiguration(directory: directoryB.appending("wal")), logger: logger)
        // 60 days back, few users: every batch of either node shares days, blocks and bitmaps with
        // the other's; 300 keys arrive through both nodes.
        for i in 0..<900 { _ = try await walA.append(Self.lateRecord(i, seed: 3, days: 60, users: 80)) }
        for i in 600..<1_500 { _ = try await walB.append(Self.lateRecord(i, seed: 3, days: 60, users: 80)) }
        async let a: Void = makeTestReplayer(walA, database, logger: logger, node: "node-a", batch: 60).drain()
        async let b: Void = makeTestReplayer(walB, database, logger: logger, node: "node-b", batch: 60).drain()
        _ = try await (a, b)
        #expect(try faultCount(database) > 4)
        try expectEveryLevelExact(database, events: 1_500)
        try await walA.close()
        try await walB.close()
        // A deadlock would be resolved by PostgreSQL (one side aborts and retries) and go unseen in
        // the rows: count it from the statistics, once every replayer session has ended and
        // reported them.
        let deadline = ContinuousClock.now + .seconds(20)
        while try database.int("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()") > 0,
              ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(try database.int("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()") == 0)
    }
}
