import Bitmaps
import Foundation
import Store
import TestSupport
import Testing
@testable import Rollups

/// The day blocks of `rollup_blocks`: the cover arithmetic, and that every writer keeps them exact.
@Suite struct RollupLevelTests {
    static let start: Int64 = 1_764_374_400 - 40 * 86_400  // 40 days before 2025-11-29

    /// Any range of whole days is covered exactly, by aligned pieces, at most two per level.
    @Test func coverIsExactAlignedAndSmall() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let first = Int64.random(in: -400...30_000, using: &generator)
            let count = Int64.random(in: 1...520, using: &generator)
            let days = (first * 86_400)..<((first + count) * 86_400)
            let pieces = RollupLevel.cover(days: days)
            var next = days.lowerBound
            var perLevel: [Int: Int] = [:]
            for piece in pieces {
                #expect(piece.start == next)
                #expect(piece.start % piece.seconds == 0, "aligned: \(piece)")
                next += piece.seconds
                perLevel[piece.level?.level ?? 0, default: 0] += 1
            }
            #expect(next == days.upperBound)
            #expect(perLevel.filter { $0.key < RollupLevel.maxLevel }.values.allSatisfy { $0 <= 2 }, "\(count) days: \(perLevel)")
            #expect(pieces.count <= 2 * RollupLevel.maxLevel + 2 + Int(count >> Int64(RollupLevel.maxLevel)))
        }
        // 180 days from an unaligned day: 8 pieces instead of 180 bitmaps.
        let day = Int64(20_421)  // 2025-11-29
        #expect(RollupLevel.cover(days: (day * 86_400)..<((day + 180) * 86_400)).count <= 10)
        #expect(RollupLevel(3).bucket(containing: 20_421 * 86_400 + 5) == 20_416 * 86_400)
        #expect(RollupLevel(1).bucket(containing: -1) == -2 * 86_400)
    }

    /// Batches in time order, then late events into days and blocks long closed, then two writers at
    /// once over the same blocks: every level still equals raw SQL (`rollups verify` checks them).
    @Test func lateAndConcurrentEventsKeepEveryLevelExact() async throws {
        try await ScratchDatabase.with(prefix: "rollups_test", migrate: true) { database in
            let events = randomEvents(count: 6_000, start: Self.start, days: 70, users: 400).sorted { $0.micros < $1.micros }
            let late = randomEvents(count: 800, start: Self.start, days: 60, users: 500)
            try await database.withConnection { connection in try insertAndMerge(events, batchSize: 500, on: connection) }
            // Two writers with late events over the same closed blocks, in opposite orders.
            try await insertAndMergeConcurrently([Array(late[..<400]), Array(late[400...].reversed())], batchSize: 50, into: database)
            try await database.withConnection { connection in
                let report = try RollupDatabaseTests.verifyClean(connection)
                #expect(report.levelsComplete)
                let levels = try connection.execute("SELECT count(DISTINCT level) FROM rollup_blocks").int64(0, 0)
                #expect(levels == Int64(RollupLevel.maxLevel))
                // The top all-channels blocks hold every event.
                let top = try connection.execute("SELECT sum(total) FROM rollup_blocks WHERE level = 8 AND channel = ''").int64(0, 0)
                #expect(top == 6_800)
            }
        }
    }

    /// A database whose daily rows predate the blocks: `rebuildLevels` fills them from the days, and
    /// until then the verifier leaves them alone (and /metrics does not read them).
    @Test func levelsOnlyRebuildFillsBlocksFromDailyRows() async throws {
        try await withDatabase(merging: randomEvents(count: 2_000, start: Self.start, days: 30)) { _, connection in
            try connection.executeScript("DELETE FROM rollup_blocks; UPDATE rollup_status SET levels_complete = false")
            let skipped = try RollupVerifier.verify(on: connection)
            #expect(skipped.differences.isEmpty && !skipped.levelsComplete)

            let days = try RollupRange.days(fromMicros: nil, toMicros: nil, on: connection)
            var levelsSeen: [Int] = []
            let written = try RollupLevelRebuilder.rebuildLevels(days: days, markComplete: true, on: connection) { level, _ in levelsSeen.append(level.level) }
            #expect(written > 0)
            #expect(levelsSeen == Array(1...RollupLevel.maxLevel))
            #expect(try RollupStatus.levelsComplete(on: connection))
            let report = try RollupDatabaseTests.verifyClean(connection)
            #expect(report.levelsComplete)
        }
    }

    /// A block that disagrees with its events is reported, and rebuilding one of its days repairs it.
    @Test func verifyCatchesATamperedBlock() async throws {
        try await withDatabase(merging: randomEvents(count: 1_000, start: Self.start, days: 10)) { _, connection in
            try connection.executeScript("UPDATE rollup_blocks SET total = total + 1 WHERE ctid = (SELECT ctid FROM rollup_blocks WHERE level = 2 AND channel = '' LIMIT 1)")
            let report = try RollupVerifier.verify(on: connection)
            #expect(report.differences.count == 1)
            let difference = try #require(report.differences.first)
            #expect(difference.level == RollupLevel(2))
            #expect(difference.problem.hasPrefix("total "))
            #expect(difference.description.hasPrefix("rollup_blocks level 2"))
            let day = difference.key.bucket
            _ = try RollupRebuilder.rebuild(fromMicros: day * 1_000_000, toMicros: (day + 1) * 1_000_000, on: connection)
            _ = try RollupDatabaseTests.verifyClean(connection)
        }
    }
}
