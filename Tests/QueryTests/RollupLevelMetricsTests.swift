import APISupport
import Bitmaps
import Foundation
import Hummingbird
import HummingbirdTesting
import Rollups
import Store
import TestSupport
import Testing
import Time
@testable import Query

/// The day-block plan against independent SQL over raw rows (``MetricsOracle``): windows over ten
/// weeks that align with no block, after late events merged into long-closed days and blocks.
@Suite struct RollupLevelMetricsTests {
    static let base: Int64 = 1_764_374_400_000_000 - 50 * day  // 50 days before 2025-11-29
    static let hour: Int64 = 3_600_000_000
    static let day: Int64 = 86_400_000_000
    static let names = ["add_to_cart", "purchase"]
    static let channels = ["web", "app", "móvil"]

    static func events(count: Int, days: Int64, users: Int) -> [SeedEvent] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in
            SeedEvent(
                name: names.randomElement(using: &generator)!, channel: channels.randomElement(using: &generator)!,
                user: "user_\(Int.random(in: 0..<users, using: &generator))", micros: base + Int64.random(in: 0..<(days * day), using: &generator))
        }
    }

    /// A window of 1 to 75 days (whole days, or with partial hours at its edges) somewhere over the
    /// data, starting on any day: most covers mix single days and blocks of several levels.
    static func window(using generator: inout SystemRandomNumberGenerator) -> (Int64, Int64) {
        let firstDay = base + Int64.random(in: -3...65, using: &generator) * day
        let length = Int64.random(in: 1...75, using: &generator) * day
        switch Int.random(in: 0..<3, using: &generator) {
        case 0: return (firstDay, firstDay + length)
        case 1: return (firstDay - Int64.random(in: 1..<day, using: &generator), firstDay + length + Int64.random(in: 1..<day, using: &generator))
        default: return (firstDay + Int64.random(in: 1...5, using: &generator) * hour, firstDay + length - 7 * hour)
        }
    }

    @Test func randomizedLongWindowsEqualRawSQLAfterLateEvents() async throws {
        var generator = SystemRandomNumberGenerator()
        try await withSeededService(Self.events(count: 5_000, days: 70, users: 300)) { service, check, database in
            // Late events into days and blocks closed weeks ago, merged as the replayer merges them.
            try await seedMerging(Self.events(count: 600, days: 60, users: 400), url: database.url)
            var blocksUsed = 0
            for _ in 0..<40 {
                let (from, to) = Self.window(using: &generator)
                let name = Self.names.randomElement(using: &generator)!
                let channel: String? = Int.random(in: 0..<3, using: &generator) == 0 ? Self.channels.randomElement(using: &generator)! : nil
                let split = MetricsWindowSplit(fromMicros: from, toMicros: to)
                if !split.days.isEmpty, RollupLevel.cover(days: split.days).contains(where: { $0.level != nil }) { blocksUsed += 1 }
                for groupBy in MetricsRequest.GroupBy.allCases {
                    let request = MetricsRequest(eventName: name, fromMicros: from, toMicros: to, channel: channel, groupBy: groupBy)
                    let expected = try await MetricsOracle.answer(check, name: name, from: from, to: to, channel: channel, groupBy: groupBy)
                    let label = "\(name) [\(UTCTime.rfc3339(from)), \(UTCTime.rfc3339(to))) channel \(channel ?? "-") by \(groupBy)"
                    #expect(try await service.metrics(for: request) == expected, "blocks: \(label)")
                    #expect(try await service.metrics(for: request, strategy: .dailyRollups) == expected, "daily only: \(label)")
                }
            }
            #expect(blocksUsed > 25)
        }
    }

    /// Until `levels_complete` (a database that predates the blocks), queries read daily rows only,
    /// and are still exact even though the blocks hold only part of the events.
    @Test func incompleteLevelsAreNotRead() async throws {
        try await withSeededService(Self.events(count: 2_000, days: 40, users: 200), prepare: { connection in
            try connection.executeScript("UPDATE rollup_blocks SET total = 0, uniques = 0, users = '\\x3a30000000000000'; UPDATE rollup_status SET levels_complete = false")
        }) { service, check, _ in
            let (from, to) = (Self.base + 2 * Self.day, Self.base + 38 * Self.day)
            for groupBy in MetricsRequest.GroupBy.allCases {
                let request = MetricsRequest(eventName: "purchase", fromMicros: from, toMicros: to, groupBy: groupBy)
                let expected = try await MetricsOracle.answer(check, name: "purchase", from: from, to: to, channel: nil, groupBy: groupBy)
                #expect(expected.totalCount > 0)
                #expect(try await service.metrics(for: request) == expected)
            }
        }
    }

    /// Beyond the running and waiting slots, a query is refused at once with 503 `overloaded` and
    /// `Retry-After`, in the project's JSON error shape; the slots free up afterwards.
    @Test func admissionRefusesBeyondTheQueue() async throws {
        let admission = MetricsAdmission(running: 1, waiting: 1, retryAfterSeconds: 2)
        let (entered, enteredContinuation) = AsyncStream<Void>.makeStream()
        let (release, releaseContinuation) = AsyncStream<Void>.makeStream()
        let holders = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<2 {
                    group.addTask {
                        try await admission.admit {
                            enteredContinuation.yield()
                            for await _ in release { break }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        var iterator = entered.makeAsyncIterator()
        _ = await iterator.next()
        _ = await iterator.next()
        #expect(admission.current == 2)
        do {
            try await admission.admit {}
            Issue.record("a third query was admitted")
        } catch let error as APIError {
            #expect(error.status == .serviceUnavailable)
            #expect(error.code == "overloaded")
            #expect(error.retryAfterSeconds == 2)
        }
        releaseContinuation.yield()
        releaseContinuation.yield()
        releaseContinuation.finish()
        try await holders.value
        #expect(admission.current == 0)
        try await admission.admit {}
    }
}

/// The query cache: hits on repeated windows, and still exact after late events written by another
/// connection (another node's replayer) into cached days and blocks.
@Suite struct BitmapCacheTests {
    @Test func cachedBitmapsStayExactUnderLateEventsFromAnotherNode() async throws {
        try await withSeededService(RollupLevelMetricsTests.events(count: 3_000, days: 60, users: 300)) { service, check, database in
            let base = RollupLevelMetricsTests.base, day = RollupLevelMetricsTests.day
            let windows = [(base + 3 * day, base + 45 * day), (base + 1 * day + 5, base + 59 * day - 7)]
            func checkAll(_ label: String) async throws {
                for (from, to) in windows {
                    for groupBy in MetricsRequest.GroupBy.allCases {
                        let request = MetricsRequest(eventName: "purchase", fromMicros: from, toMicros: to, groupBy: groupBy)
                        let expected = try await MetricsOracle.answer(check, name: "purchase", from: from, to: to, channel: nil, groupBy: groupBy)
                        #expect(try await service.metrics(for: request) == expected, "\(label) by \(groupBy)")
                    }
                }
            }
            try await checkAll("cold")
            let cold = service.cache.statistics
            #expect(cold.misses > 0)
            try await checkAll("warm")
            let warm = service.cache.statistics
            #expect(warm.hits > cold.hits)
            #expect(warm.misses == cold.misses, "a second pass over unchanged data fetches no bitmap")
            #expect(service.cache.currentBytes > 0)
            // Late events into the cached days and blocks, written by another connection.
            try await seedMerging(RollupLevelMetricsTests.events(count: 300, days: 60, users: 500), url: database.url)
            try await checkAll("after late events")
            #expect(service.cache.statistics.misses > warm.misses)
        }
    }

    /// Beyond its budget the cache evicts (least recently used first); 0 turns it off.
    @Test func budgetIsKept() {
        let cache = BitmapCache(budget: 1_000)
        for index in 0..<10 {
            let key = BitmapCache.Key(eventName: Array("e".utf8), level: 0, start: Int64(index) * 86_400, channel: [])
            cache.store(key, version: 1, bitmap: RoaringBitmap([UInt32(index)]), bytes: 300)
            #expect(cache.currentBytes <= 1_000)
        }
        #expect(cache.entries(eventName: "e", pieces: (7..<10).map { (level: 0, start: Int64($0) * 86_400) }).count == 3)
        #expect(cache.entries(eventName: "e", pieces: [(level: 0, start: 0)]).isEmpty)
        // What a query read last is evicted last: 9, then 7, asked for again, outlive 8 once room is
        // needed (one question marks all it reads as used at once, so each is asked alone here).
        _ = cache.entries(eventName: "e", pieces: [(level: 0, start: 9 * 86_400)])
        _ = cache.entries(eventName: "e", pieces: [(level: 0, start: 7 * 86_400)])
        let newest = BitmapCache.Key(eventName: Array("e".utf8), level: 0, start: 10 * 86_400, channel: [])
        cache.store(newest, version: 1, bitmap: RoaringBitmap([10]), bytes: 300)
        #expect(cache.entries(eventName: "e", pieces: [7, 8, 9, 10].map { (level: 0, start: Int64($0) * 86_400) }).map(\.key.start).sorted()
            == [7, 9, 10].map { Int64($0) * 86_400 })
        #expect(cache.currentBytes <= 1_000)
        let off = BitmapCache(budget: 0)
        off.store(BitmapCache.Key(eventName: [], level: 0, start: 0, channel: []), version: 1, bitmap: RoaringBitmap([1]), bytes: 8)
        #expect(off.currentBytes == 0 && !off.isEnabled)
    }
}
