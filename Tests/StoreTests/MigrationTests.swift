import Dispatch
import Foundation
import Logging
import TestSupport
import Testing
@testable import Store

@Suite struct MigrationTests {
    let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test func bundledMigrationsAreWellNamed() throws {
        let migrations = try SchemaMigrations.bundled()
        #expect(migrations.first?.version == "0001_initial")
        #expect(SchemaMigrations.isValidVersion("0002_rollups"))
        #expect(!SchemaMigrations.isValidVersion("2_rollups"))
        #expect(!SchemaMigrations.isValidVersion("0002-rollups"))
        #expect(!SchemaMigrations.isValidVersion("0002_"))
    }

    @Test func applyOnceAndRecord() async throws {
        try await ScratchDatabase.with(prefix: "store_test") { database in
            let connection = try PostgresConnection(url: database.url)
            let all = try SchemaMigrations.bundled().map(\.version)
            #expect(try SchemaMigrations.appliedVersions(connection: connection) == [])
            #expect(try SchemaMigrations.apply(connection: connection, logger: logger) == all)
            #expect(try SchemaMigrations.appliedVersions(connection: connection) == all)
            #expect(try SchemaMigrations.apply(connection: connection, logger: logger) == [])
            #expect(try SchemaMigrations.apply(url: database.url, logger: logger) == [])

            // The schema is there: the tables (rollups from 0002, day blocks from 0004, campaign rollups from
            // 0005).
            let tables = try connection.execute("""
                SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'
                """).string(0, 0)
            #expect(tables == "dead_letters,events,rollup_blocks,rollup_campaign_blocks,rollup_campaign_daily,rollup_campaign_hourly,rollup_daily,rollup_hourly,rollup_status,schema_migrations,users,wal_checkpoints")
            // The metrics index, covering campaign_id since 0007 (raw partial hours of campaign questions
            // read index-only).
            #expect(
                try connection.execute("SELECT pg_get_indexdef('events_name_ts'::regclass)").string(0, 0)
                    == "CREATE INDEX events_name_ts ON public.events USING btree (event_name, ts) INCLUDE (channel, uid, campaign_id)")
            let recorded = try connection.execute("SELECT count(*) FROM schema_migrations WHERE applied_at <= now()")
            #expect(recorded.int(0, 0) == all.count)
        }
    }

    /// 0006 gives the campaign tables all-channels rows (channel ''): campaign rows written before it
    /// have none, so a database that holds events has its campaign rollups marked incomplete (and its
    /// gap counter moved, for a rebuild running meanwhile); an empty one stays complete.
    @Test(arguments: [false, true])
    func campaignAllChannelsMigrationMarksOlderCampaignRowsIncomplete(withEvents: Bool) async throws {
        try await ScratchDatabase.with(prefix: "store_test") { database in
            let connection = try PostgresConnection(url: database.url)
            defer { connection.close() }
            let all = try SchemaMigrations.bundled()
            _ = try SchemaMigrations.apply(connection: connection, migrations: all.filter { $0.version < "0006" }, logger: logger)
            #expect(try connection.execute("SELECT campaigns_complete FROM rollup_status").bool(0, 0) == true)
            if withEvents {
                try connection.executeScript("""
                    INSERT INTO events (idempotency_key, event_name, channel, campaign_id, user_id, uid, ts, received_at, node_id)
                    VALUES (gen_random_uuid(), 'view', 'web', 'spring', 'u1', 1, now(), now(), 'n1')
                    """)
            }
            #expect(
                try SchemaMigrations.apply(connection: connection, migrations: all.filter { $0.version < "0007" }, logger: logger)
                    == ["0006_campaign_all_channels"])
            let status = try connection.execute("SELECT campaigns_complete, campaign_gaps FROM rollup_status")
            #expect(status.bool(0, 0) == !withEvents)
            #expect(status.int64(0, 1) == (withEvents ? 1 : 0))
            // The all-channels campaign rows are allowed now.
            try connection.executeScript("""
                INSERT INTO rollup_campaign_daily (event_name, day, campaign, channel, total, uniques, users)
                VALUES ('view', '2025-11-29T00:00:00Z', 'spring', '', 1, 1, '\\x00')
                """)
        }
    }

    @Test func failedMigrationLeavesNoTraceAndLaterOnesWait() async throws {
        try await ScratchDatabase.with(prefix: "store_test") { database in
            let connection = try PostgresConnection(url: database.url)
            let migrations = [
                Migration(version: "0001_a", sql: "CREATE TABLE a (x int);"),
                Migration(version: "0002_b", sql: "CREATE TABLE b (x int); SELECT * FROM missing;"),
                Migration(version: "0003_c", sql: "CREATE TABLE c (x int);"),
            ]
            #expect {
                try SchemaMigrations.apply(connection: connection, migrations: migrations, logger: logger)
            } throws: { error in
                let error = error as? PostgresError
                return error?.code == .migrationFailed && error?.message.contains("0002_b") == true
            }
            #expect(try SchemaMigrations.appliedVersions(connection: connection) == ["0001_a"])
            #expect(try connection.execute("SELECT to_regclass('b') IS NULL").bool(0, 0) == true)
            // Fixed file: the rest applies.
            var fixed = migrations
            fixed[1] = Migration(version: "0002_b", sql: "CREATE TABLE b (x int);")
            #expect(try SchemaMigrations.apply(connection: connection, migrations: fixed, logger: logger) == ["0002_b", "0003_c"])
        }
    }

    @Test func concurrentAppliersDoNotFail() async throws {
        try await ScratchDatabase.with(prefix: "store_test") { database in
            let logger = self.logger
            let results = Shared<[Result<[String], ApplyFailure>]>([])
            let group = DispatchGroup()
            for _ in 0..<3 {
                DispatchQueue.global().async(group: group) {
                    let outcome = Result { try SchemaMigrations.apply(url: database.url, logger: logger) }.mapError { ApplyFailure(description: "\($0)") }
                    results.withLock { $0.append(outcome) }
                }
            }
            await withCheckedContinuation { continuation in group.notify(queue: .global()) { continuation.resume() } }
            let outcomes = results.withLock { $0 }
            let applied = try outcomes.map { try $0.get() }
            #expect(applied.flatMap { $0 }.sorted() == (try SchemaMigrations.bundled().map(\.version)))
            #expect(applied.filter(\.isEmpty).count == 2)
        }
    }
}

/// A failed `apply`, as text: the results cross threads, and `any Error` is not `Sendable`.
struct ApplyFailure: Error, CustomStringConvertible {
    var description: String
}
