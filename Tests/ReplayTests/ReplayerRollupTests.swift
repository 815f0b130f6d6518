import Events
import Foundation
import Logging
import Rollups
import Store
import Synchronization
import TestSupport
import Testing
import WAL

@testable import Replay

/// The replayer keeps the rollups equal to raw SQL whatever happens: duplicates, crashes around the
/// commit, a killed connection, two nodes at once, a replay from an older checkpoint, poison records.
@Suite("Replayer rollups")
struct ReplayerRollupTests: ReplayTestSuite {
    let logger = Logger(label: "replayer-rollup-test")
    let now = Int64(Date().timeIntervalSince1970)

    func replayer(
        _ wal: WriteAheadLog, _ database: TestDatabase, node: String = "node-a", batch: Int = 250, retain: Bool = false,
        rollups: Bool = true, campaigns: Bool = true, fault: (@Sendable (ReplayFaultPoint, PostgresConnection) throws -> Void)? = nil
    ) -> Replayer {
        makeTestReplayer(wal, database, logger: logger, node: node, batch: batch, retain: retain, rollups: rollups, campaigns: campaigns, fault: fault)
    }

    /// An event spread over the last ~50 hours, over three channels and two names.
    func record(_ i: Int, users: Int = 97, key: String? = nil) -> [UInt8] {
        let event = EventFactory.event(
            user: "user_\(i % users)", name: i % 3 == 0 ? "purchase" : "product_view",
            channel: ["web", "mobile_app", "api"][i % 3 == 0 ? (i / 3) % 3 : i % 3],
            timestamp: now - 180_000 + Int64(i * 7_919 % 180_000), key: key ?? "rollup-\(i)")
        return EventRecordCodec.encode(event)
    }

    /// Every rollup row equals raw SQL, and the all-channels daily totals add up to `events`.
    func expectRollupsMatchRaw(_ database: TestDatabase, events: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let connection = try PostgresConnection(url: database.url)
        defer { connection.close() }
        let report = try RollupVerifier.verify(on: connection)
        #expect(report.differences.map(\.description) == [], sourceLocation: sourceLocation)
        #expect(report.rowsChecked > 0, sourceLocation: sourceLocation)
        #expect(report.complete, sourceLocation: sourceLocation)
        #expect(try database.int("SELECT coalesce(sum(total), 0) FROM rollup_daily WHERE channel = ''") == events, sourceLocation: sourceLocation)
        #expect(try database.int("SELECT coalesce(sum(total), 0) FROM rollup_hourly WHERE channel <> ''") == events, sourceLocation: sourceLocation)
    }

    @Test func duplicatesNeverReachTheRollups() async throws {
        try await withWAL { wal, database in
            for i in 0..<600 {
                _ = try await wal.append(contentsOf: Array(repeating: record(i), count: 1 + i % 4))
            }
            // The same keys again, later in the WAL: a retried request.
            for i in 0..<200 { _ = try await wal.append(record(i)) }
            try await replayer(wal, database).drain()
            #expect(try database.int("SELECT count(*) FROM events") == 600)
            try expectRollupsMatchRaw(database, events: 600)
        }
    }

    @Test(arguments: [ReplayFaultPoint.beforeCommit, .afterCommit])
    func crashesAroundTheCommitNeverDoubleCount(point: ReplayFaultPoint) async throws {
        try await withWAL { wal, database in
            for i in 0..<1_000 { _ = try await wal.append(record(i)) }
            let fault = ReplayFault()
            let replayer = replayer(wal, database, batch: 300, fault: fault.failFirst(3, at: point))
            try await replayer.drain()
            #expect(fault.count > 3)
            try expectRollupsMatchRaw(database, events: 1_000)
        }
    }

    @Test func connectionKilledMidTransaction() async throws {
        try await withWAL { wal, database in
            for i in 0..<500 { _ = try await wal.append(record(i)) }
            let fault = ReplayFault()
            let replayer = replayer(wal, database, batch: 200, fault: fault.killConnectionBeforeCommit(2, adminURL: database.url))
            try await replayer.drain()
            #expect(fault.count == 2)
            try expectRollupsMatchRaw(database, events: 500)
        }
    }

    @Test func twoNodesMergeTheSameRowsWithoutDeadlock() async throws {
        try await withTwoWALs { walA, walB, database in
            // 1,000 keys on A, 600..<1,600 on B: 400 arrive through both; every batch touches shared rows.
            for i in 0..<1_000 { _ = try await walA.append(record(i)) }
            for i in 600..<1_600 { _ = try await walB.append(record(i)) }
            async let a: Void = replayer(walA, database, node: "node-a", batch: 100).drain()
            async let b: Void = replayer(walB, database, node: "node-b", batch: 100).drain()
            _ = try await (a, b)
            #expect(try database.int("SELECT count(*) FROM events") == 1_600)
            try expectRollupsMatchRaw(database, events: 1_600)
        }
    }

    @Test func replayingFromAnOlderCheckpointChangesNoRollup() async throws {
        try await withWAL { wal, database in
            for i in 0..<400 { _ = try await wal.append(record(i, users: 50)) }
            try await replayer(wal, database, retain: true).drain()
            let snapshot = "SELECT md5(string_agg(event_name || hour || channel || total || uniques || encode(users, 'hex'), ',' ORDER BY event_name, hour, channel)) FROM rollup_hourly"
            let before = try database.scalar(snapshot)
            _ = try database.scalar(#"UPDATE wal_checkpoints SET segment = 0, "offset" = 0, sequence = 0"#)
            let second = replayer(wal, database, retain: true)
            try await second.drain()
            #expect(second.status().duplicateEvents == 400)
            #expect(try database.scalar(snapshot) == before)
            try expectRollupsMatchRaw(database, events: 400)
        }
    }

    @Test func poisonSlicesThatRollBackAreNotCounted() async throws {
        try await withWAL { wal, database in
            for i in 0..<150 { _ = try await wal.append(record(i)) }
            var rejected = EventFactory.event(user: "user_x")
            rejected.userID = "nul\u{0}inside"
            _ = try await wal.append(EventRecordCodec.encode(rejected))
            for i in 150..<300 { _ = try await wal.append(record(i)) }
            try await replayer(wal, database, batch: 1_000).drain()
            #expect(try database.int("SELECT count(*) FROM dead_letters") == 1)
            try expectRollupsMatchRaw(database, events: 300)
        }
    }

    /// Replay without rollup maintenance (benchmarks only) marks the rollups incomplete, so /metrics
    /// falls back to raw SQL; a full rebuild restores them.
    @Test func replayWithoutRollupsMarksThemIncomplete() async throws {
        try await withWAL { wal, database in
            for i in 0..<200 { _ = try await wal.append(record(i)) }
            try await replayer(wal, database, rollups: false).drain()
            #expect(try database.int("SELECT count(*) FROM rollup_hourly") == 0)
            #expect(try database.scalar("SELECT complete FROM rollup_status") == "f")
            let connection = try PostgresConnection(url: database.url)
            defer { connection.close() }
            _ = try RollupRebuilder.rebuild(on: connection)
            try expectRollupsMatchRaw(database, events: 200)
        }
    }

    /// Without the campaign rollups (the service's default) the replayer writes no campaign rows and
    /// records the gap in the same transaction: campaign questions go to plain SQL and `rollups verify`
    /// leaves the campaign tables alone. A full rebuild with them, during which such a replayer
    /// commits (after the rebuild's first day), does not claim them complete; one without does.
    @Test func replayWithoutCampaignRollupsRecordsTheGap() async throws {
        try await withWAL { wal, database in
            for i in 0..<300 { _ = try await wal.append(record(i)) }
            try await replayer(wal, database, campaigns: false).drain()
            #expect(try database.int("SELECT count(*) FROM rollup_campaign_hourly") == 0)
            #expect(try database.scalar("SELECT campaigns_complete FROM rollup_status") == "f")
            #expect(try database.int("SELECT campaign_gaps FROM rollup_status") > 0)
            try expectRollupsMatchRaw(database, events: 300)
            let connection = try PostgresConnection(url: database.url)
            defer { connection.close() }
            var gapError: (any Error)?
            var days = 0
            let summary = try RollupRebuilder.rebuild(on: connection) { _ in
                days += 1
                guard days == 1 else { return }
                do {
                    let other = try PostgresConnection(url: database.url)
                    defer { other.close() }
                    try RollupStatus.recordCampaignGap(on: other)
                } catch { gapError = error }
            }
            #expect(gapError == nil)
            #expect(days > 1, "the events span several days")
            #expect(summary.markedComplete && !summary.campaignsMarkedComplete)
            #expect(try database.scalar("SELECT campaigns_complete FROM rollup_status") == "f")
            let again = try RollupRebuilder.rebuild(on: connection)
            #expect(again.campaignsMarkedComplete)
            let report = try RollupVerifier.verify(on: connection)
            #expect(report.campaignsComplete)
            #expect(report.differences.map(\.description) == [])
            #expect(try database.int("SELECT coalesce(sum(total), 0) FROM rollup_campaign_daily WHERE channel = ''") == 300)
        }
    }
}
