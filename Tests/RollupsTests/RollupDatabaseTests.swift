import Bitmaps
import Foundation
import Store
import Synchronization
import TestSupport
import Testing
@testable import Rollups

/// Merge, rebuild and verify against a real PostgreSQL.
@Suite struct RollupDatabaseTests {
    static let start: Int64 = 1_764_374_400  // 2025-11-29T00:00:00Z

    static func verifyClean(_ connection: PostgresConnection) throws -> RollupVerifier.Report {
        let report = try RollupVerifier.verify(on: connection)
        #expect(report.differences.map(\.description) == [])
        return report
    }

    @Test func mergingBatchesEqualsRawSQL() async throws {
        // Three batches, as three replay transactions, overlapping in keys.
        try await withDatabase(merging: randomEvents(count: 3_000, start: Self.start, days: 3), batchSize: 1_000) { _, connection in
            let report = try Self.verifyClean(connection)
            #expect(report.rowsChecked > 100)
            #expect(report.complete)
            let totals = try connection.execute("SELECT sum(total) FROM rollup_daily WHERE channel = ''").int64(0, 0)
            #expect(totals == 3_000)
        }
    }

    @Test func rebuildFillsRollupsForDataThatPredatesThem() async throws {
        try await withDatabase { _, connection in
            try insertRaw(randomEvents(count: 2_000, start: Self.start - 3_600, days: 4), on: connection)
            // Rows inserted behind the rollups' back: verify sees every row as missing.
            let before = try RollupVerifier.verify(on: connection)
            #expect(!before.differences.isEmpty)
            #expect(before.differences.allSatisfy { $0.problem.hasPrefix("row missing") })

            try RollupStatus.setComplete(false, on: connection)
            var seen: [Int] = []
            let summary = try RollupRebuilder.rebuild(on: connection) { seen.append($0.daysDone) }
            #expect(summary.events == 2_000)
            #expect(summary.days == 5)  // 1 hour before the start day, through the fourth day
            #expect(seen == [1, 2, 3, 4, 5])
            #expect(summary.markedComplete)
            #expect(try RollupStatus.isComplete(on: connection))
            _ = try Self.verifyClean(connection)
        }
    }

    /// Each kind of tampering is reported, and a rebuild of that day repairs it.
    @Test(arguments: [
        ("total", "UPDATE rollup_hourly SET total = total + 1 WHERE ctid = (SELECT ctid FROM rollup_hourly WHERE channel = 'web' LIMIT 1)", "total"),
        ("uniques", "UPDATE rollup_daily SET uniques = uniques - 1 WHERE ctid = (SELECT ctid FROM rollup_daily WHERE channel = '' LIMIT 1)", "uniques"),
        ("deleted", "DELETE FROM rollup_hourly WHERE ctid = (SELECT ctid FROM rollup_hourly LIMIT 1)", "row missing"),
        ("orphan", "INSERT INTO rollup_daily SELECT 'ghost', day, channel, total, uniques, users FROM rollup_daily LIMIT 1", "row without events"),
        ("garbage bitmap", #"UPDATE rollup_daily SET users = '\x00010203' WHERE ctid = (SELECT ctid FROM rollup_daily LIMIT 1)"#, "unreadable"),
    ])
    func verifyCatchesTamperingAndRebuildRepairsIt(name: String, tamper: String, expected: String) async throws {
        try await withDatabase(merging: randomEvents(count: 1_500, start: Self.start, days: 2)) { _, connection in
            _ = try Self.verifyClean(connection)
            try connection.executeScript(tamper)
            let report = try RollupVerifier.verify(on: connection)
            #expect(report.differences.count == 1, "\(name)")
            #expect(report.differences.first?.problem.contains(expected) == true, "\(name): \(report.differences)")
            let day = try #require(report.differences.first).key.bucket / 86_400 * 86_400
            _ = try RollupRebuilder.rebuild(fromMicros: day * 1_000_000, toMicros: (day + 1) * 1_000_000, on: connection)
            _ = try Self.verifyClean(connection)
        }
    }

    /// A bitmap holding a uid that has no event (the same count, so only the members differ).
    @Test func verifyComparesBitmapMembers() async throws {
        try await withDatabase(merging: (0..<10).map { RawEvent(name: "view", channel: "web", uid: Int32($0 + 1), micros: (Self.start + 60) * 1_000_000) }) { _, connection in
            let swapped = RoaringBitmap(Array(2...11))
            try connection.execute(
                "UPDATE rollup_hourly SET users = $1 WHERE channel = 'web'",
                parameters: [.bytea(swapped.portableSerialized())])
            let report = try RollupVerifier.verify(on: connection)
            #expect(report.differences.count == 1)
            #expect(report.differences.first?.problem == "users bitmap differs: 1 missing (e.g. uid 1) 1 extra (e.g. uid 11)")
        }
    }

    /// Two writers merging the same keys at once (in opposite orders of arrival) neither deadlock nor
    /// lose an update.
    @Test func concurrentMergesOfTheSameKeysAddUp() async throws {
        try await ScratchDatabase.with(prefix: "rollups_test", migrate: true) { database in
            let events = randomEvents(count: 4_000, start: Self.start, days: 2, users: 500)
            try await insertAndMergeConcurrently([Array(events[..<2_000]), Array(events[2_000...].reversed())], batchSize: 250, into: database)
            try await database.withConnection { connection in _ = try Self.verifyClean(connection) }
        }
    }

    @Test func emptyDatabaseVerifiesAndRebuildsToNothing() async throws {
        try await withDatabase { _, connection in
            #expect(try RollupStatus.isComplete(on: connection))
            let report = try Self.verifyClean(connection)
            #expect(report.days == 0)
            let summary = try RollupRebuilder.rebuild(on: connection)
            #expect(summary.days == 0 && summary.markedComplete)
        }
    }

    /// The database refuses an event without a channel: the all-channels rows stay unambiguous.
    @Test func emptyChannelIsRefusedByTheDatabase() async throws {
        try await withDatabase { _, connection in
            #expect(throws: PostgresError.self) {
                try insertRaw([RawEvent(name: "view", channel: "", uid: 1, micros: Self.start * 1_000_000)], on: connection)
            }
        }
    }
}
