import Foundation
import Rollups
import Store
import TestSupport
import Testing
import Time
@testable import Query

/// Windows whose whole days align with no block level (they start and end on odd day numbers, so
/// the cover begins and ends with single days and uses blocks only inside), after late events whose
/// merge was first aborted right before the block update. Against ``MetricsOracle`` (raw SQL), for
/// the day-block plan (cold, then from the query cache) and the daily-only plan.
@Suite struct UnalignedWindowMetricsTests {
    static let day: Int64 = 86_400_000_000
    static let hour: Int64 = 3_600_000_000

    /// The first statement writing `rollup_blocks` in the next `times` transactions fails (a sequence
    /// counts them: a rollback does not undo it), after the events, hours and days were written.
    static func abortBlockWrites(times: Int, url: String) async throws {
        try await offload {
            try installBlockFault(strike: "RAISE EXCEPTION 'injected: crash before the block update'", times: times, databaseURL: url)
        }
    }

    /// `[first, first + length)` in whole days, or with partial hours at both edges around the same
    /// unaligned whole days.
    static func windows() -> [(from: Int64, to: Int64)] {
        let base = RollupLevelMetricsTests.base / day  // day number 20371: odd
        var windows: [(Int64, Int64)] = []
        for (offset, length) in [(0, 2), (2, 6), (4, 14), (6, 30), (2, 46), (0, 62), (10, 50), (20, 34), (30, 38), (8, 60)] as [(Int64, Int64)] {
            let first = (base + offset) * day
            windows.append((first, first + length * day))
            windows.append((first - 5 * hour - 17, first + length * day + 3 * hour + 1))
        }
        return windows
    }

    @Test func unalignedWindowsEqualRawSQLAfterAbortedLateMerges() async throws {
        try await ScratchDatabase.with(prefix: "query_test", migrate: true) { database in
            try await seed(RollupLevelMetricsTests.events(count: 4_000, days: 70, users: 300), url: database.url)
            try await Self.abortBlockWrites(times: 2, url: database.url)
            let late = RollupLevelMetricsTests.events(count: 700, days: 68, users: 450)
            for attempt in 1...2 {
                await #expect(throws: (any Error).self, "attempt \(attempt) should abort at the blocks") {
                    try await seedMerging(late, url: database.url)
                }
            }
            try await seedMerging(late, url: database.url)

            let service = makeService(url: database.url)
            let check = PostgresPool(url: database.url, size: 1, logger: quietLogger)
            let totals = try await check.withConnection { try $0.execute("SELECT count(*) FROM events") }
            #expect(totals.int64(0, 0) == 4_700, "the aborted attempts left no events behind")
            for (from, to) in Self.windows() {
                let split = MetricsWindowSplit(fromMicros: from, toMicros: to)
                let cover = RollupLevel.cover(days: split.days)
                #expect((split.days.lowerBound / 86_400) % 2 == 1 && (split.days.upperBound / 86_400) % 2 == 1, "aligned with no level")
                #expect(cover.first?.level == nil && cover.last?.level == nil)
                if split.days.count > 3 * 86_400 { #expect(cover.contains { $0.level != nil }, "uses blocks inside") }
                for channel in [nil, "app"] as [String?] {
                    for groupBy in MetricsRequest.GroupBy.allCases {
                        let request = MetricsRequest(eventName: "purchase", fromMicros: from, toMicros: to, channel: channel, groupBy: groupBy)
                        let expected = try await MetricsOracle.answer(check, name: "purchase", from: from, to: to, channel: channel, groupBy: groupBy)
                        let label = "[\(UTCTime.rfc3339(from)), \(UTCTime.rfc3339(to))) channel \(channel ?? "-") by \(groupBy)"
                        #expect(try await service.metrics(for: request) == expected, "blocks: \(label)")
                        #expect(try await service.metrics(for: request) == expected, "blocks, cached: \(label)")
                        #expect(try await service.metrics(for: request, strategy: .dailyRollups) == expected, "daily only: \(label)")
                    }
                }
            }
            #expect(service.cache.statistics.hits > 0)
            await check.shutdown()
            await service.pool.shutdown()
        }
    }
}
