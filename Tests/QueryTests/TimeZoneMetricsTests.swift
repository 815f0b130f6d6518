import APISupport
import Foundation
import Store
import TestSupport
import Testing
import Time
@testable import Query

/// `tz` and `group_by=hour|day|week|month` against PostgreSQL's own time zone code over raw rows
/// (``MetricsOracle``): whole-hour zones with and without daylight saving (New York, Berlin; Istanbul has
/// none, the control), half-hour (Kolkata; Adelaide, with daylight saving) and 45-minute (Kathmandu)
/// zones, around the 2026 changes and across both year ends, after late events merged into closed days.
@Suite struct TimeZoneMetricsTests {
    static let zones = ["UTC", "America/New_York", "Europe/Berlin", "Europe/Istanbul", "Asia/Kolkata", "Australia/Adelaide", "Asia/Kathmandu"]
    static let names = ["purchase", "view"]
    static let channels = ["web", "app", "email"]
    static let hour: Int64 = 3_600_000_000
    static let day: Int64 = 86_400_000_000
    /// Daylight-saving changes of 2026 (New York, Berlin, Adelaide) and the two year ends.
    static let centres = [
        "2026-03-08T07:00:00Z", "2026-11-01T06:00:00Z", "2026-03-29T01:00:00Z", "2026-10-25T01:00:00Z",
        "2026-04-04T16:30:00Z", "2026-10-03T16:30:00Z", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z",
    ].map { UTCTime.parseRFC3339($0)! }

    static func events(_ count: Int, tag: String, using generator: inout SplitMix64) -> [SeedEvent] {
        var events = (0..<count).map { _ in
            let centre = centres.randomElement(using: &generator)!
            return SeedEvent(
                name: names.randomElement(using: &generator)!, channel: channels.randomElement(using: &generator)!,
                user: "\(tag)_\(Int.random(in: 0..<70, using: &generator))", micros: centre + Int64.random(in: (-12 * day)..<(12 * day), using: &generator))
        }
        // Every centre's neighbouring quarter hours (local midnights and hours in every zone here), and
        // a microsecond before each.
        for (index, centre) in centres.enumerated() {
            for quarter in stride(from: -8 * 96, to: 8 * 96, by: 7) {
                let boundary = centre + Int64(quarter) * hour / 4
                for micros in [boundary, boundary - 1] {
                    events.append(SeedEvent(name: names[(index + quarter) & 1], channel: channels[abs(quarter) % 3], user: "\(tag)_edge_\(quarter % 5)", micros: micros))
                }
            }
        }
        return events
    }

    static func window(using generator: inout SplitMix64) -> (Int64, Int64) {
        let centre = centres.randomElement(using: &generator)!
        let start = centre + Int64.random(in: (-11 * day)..<(4 * day), using: &generator)
        switch Int.random(in: 0..<5, using: &generator) {
        case 0:  // unaligned, hours to days
            return (start, start + Int64.random(in: hour..<(9 * day), using: &generator))
        case 1:  // on quarter hours (local midnights and hours of some zone)
            let from = start / (hour / 4) * (hour / 4)
            return (from, from + Int64.random(in: 1...(40 * 4), using: &generator) * hour / 4)
        case 2:  // inside a few hours
            return (start, start + Int64.random(in: 1..<(3 * hour), using: &generator))
        case 3:  // two changes apart (weeks and months across them)
            let other = centres.randomElement(using: &generator)!
            let (a, b) = (min(centre, other), max(centre, other))
            return (a - Int64.random(in: 0..<(9 * day), using: &generator), b + Int64.random(in: 1..<(9 * day), using: &generator))
        default:  // around a whole centre
            return (centre - 11 * day - 17, centre + 11 * day + 5)
        }
    }

    @Test func randomizedZonesEqualRawSQL() async throws {
        let seedValue = UInt64(UTCTime.nowMicros())
        var generator = SplitMix64(seed: seedValue)
        try await ScratchDatabase.with(prefix: "query_tz", migrate: true) { database in
            try await seed(Self.events(3_000, tag: "u", using: &generator), url: database.url)
            // Late events: merged into closed hours, days and blocks as the replayer does.
            try await seedMerging(Self.events(600, tag: "late", using: &generator), url: database.url)
            let service = makeService(url: database.url)
            let check = PostgresPool(url: database.url, size: 1, logger: quietLogger)
            var nonEmpty = 0
            for zone in Self.zones {
                for _ in 0..<10 {
                    var (from, to) = Self.window(using: &generator)
                    if to - from > 400 * Self.day { to = from + 400 * Self.day }
                    let name = Self.names.randomElement(using: &generator)!
                    let channel: String? = Int.random(in: 0..<3, using: &generator) == 0 ? Self.channels.randomElement(using: &generator)! : nil
                    let groupings: [MetricsRequest.GroupBy] = to - from > 45 * Self.day ? [.day, .week, .month] : [.hour, .day, .week, .month]
                    for groupBy in groupings {
                        let request = MetricsRequest(
                            eventName: name, fromMicros: from, toMicros: to, channel: channel, groupBy: groupBy, timeZone: MetricsRequest.zone(named: zone)!)
                        let label = "seed \(seedValue): \(name) [\(UTCTime.rfc3339(from)), \(UTCTime.rfc3339(to))) channel \(channel ?? "-") by \(groupBy) in \(zone)"
                        let expected = try await MetricsOracle.answer(check, name: name, from: from, to: to, channel: channel, groupBy: groupBy, zone: zone)
                        let rollups = try await service.metrics(for: request)
                        #expect(rollups == expected, "rollups: \(label)")
                        if rollups != expected { print("expected", expected.groups.prefix(6), "\ngot", rollups.groups.prefix(6)) }
                        let plain = try await service.metrics(for: request, strategy: .plainSQL)
                        #expect(plain == expected, "plain SQL: \(label)")
                        if expected.totalCount > 0 { nonEmpty += 1 }
                    }
                }
            }
            #expect(nonEmpty > 150)
            await check.shutdown()
            await service.pool.shutdown()
        }
    }

    /// Hourly, daily and block bitmaps served from the query cache stay exact after late events
    /// change the rows they came from (new versions).
    @Test func cachedPiecesStayExactUnderLateEvents() async throws {
        try await withCachingService(seedValue: 21) { service, check, url, generator in
            // The same window with and without a channel: the cache keys pieces by the channel read.
            let cases: [(String, MetricsRequest.GroupBy, String, String, String?)] = [
                ("America/New_York", .day, "2026-10-20T13:17:00Z", "2026-11-12T00:00:00Z", nil),
                ("America/New_York", .day, "2026-10-20T13:17:00Z", "2026-11-12T00:00:00Z", "web"),
                ("America/New_York", .hour, "2026-10-31T20:00:00Z", "2026-11-01T12:30:00Z", nil),
                ("Asia/Kolkata", .day, "2026-03-01T00:00:00Z", "2026-03-20T07:07:07Z", "app"),
                ("Europe/Istanbul", .week, "2025-12-20T00:00:00Z", "2026-01-12T00:00:00Z", nil),
                ("Asia/Kathmandu", .month, "2025-12-20T00:00:00Z", "2026-01-12T00:00:00Z", nil),
            ]
            func checkAll(_ label: String) async throws {
                for (zone, groupBy, from, to, channel) in cases {
                    let (a, b) = (UTCTime.parseRFC3339(from)!, UTCTime.parseRFC3339(to)!)
                    let request = MetricsRequest(
                        eventName: "view", fromMicros: a, toMicros: b, channel: channel, groupBy: groupBy, timeZone: MetricsRequest.zone(named: zone)!)
                    let expected = try await MetricsOracle.answer(check, name: "view", from: a, to: b, channel: channel, groupBy: groupBy, zone: zone)
                    #expect(expected.totalCount > 0)
                    #expect(try await service.metrics(for: request) == expected, "\(label): \(zone) \(groupBy) channel \(channel ?? "-")")
                }
            }
            try await checkAll("cold")
            let misses = service.cache.statistics.misses
            try await checkAll("warm")
            #expect(service.cache.statistics.hits > 0)
            #expect(service.cache.statistics.misses == misses)
            try await seedMerging(Self.events(400, tag: "late", using: &generator), url: url)
            try await checkAll("after late events")
            #expect(service.cache.statistics.misses > misses)
        }
    }

    /// 1,500 events around the centres in a scratch database, a service with its query cache, and
    /// a pool for the oracle; both pools are shut down after `body`.
    private func withCachingService(
        seedValue: UInt64, _ body: (MetricsService, PostgresPool, String, inout SplitMix64) async throws -> Void
    ) async throws {
        var generator = SplitMix64(seed: seedValue)
        try await ScratchDatabase.with(prefix: "query_tz", migrate: true) { database in
            try await seed(Self.events(1_500, tag: "u", using: &generator), url: database.url)
            let service = makeService(url: database.url)
            let check = PostgresPool(url: database.url, size: 1, logger: quietLogger)
            try await body(service, check, database.url, &generator)
            await check.shutdown()
            await service.pool.shutdown()
        }
    }

    /// A local day's cached union stands for its rows only at their versions: it answers without
    /// its hourly bitmaps while nothing changed, and a late event into its hours makes the query
    /// fold the new rows (or, when the hourly bitmaps are gone from the cache, run again without
    /// unions), always equal to plain SQL.
    @Test func cachedLocalDayUnionsStayExact() async throws {
        try await withCachingService(seedValue: 2117) { service, check, url, generator in
            let (a, b) = (UTCTime.parseRFC3339("2026-10-20T05:00:00Z")!, UTCTime.parseRFC3339("2026-11-12T05:00:00Z")!)
            func checkAll(_ label: String) async throws {
                for channel in [nil, "web"] as [String?] {
                    let request = MetricsRequest(
                        eventName: "view", fromMicros: a, toMicros: b, channel: channel, groupBy: .day, timeZone: MetricsRequest.zone(named: "America/New_York")!)
                    let expected = try await MetricsOracle.answer(check, name: "view", from: a, to: b, channel: channel, groupBy: .day, zone: "America/New_York")
                    #expect(expected.groups.count > 10)
                    #expect(try await service.metrics(for: request) == expected, "\(label): channel \(channel ?? "-")")
                }
            }
            try await checkAll("cold")
            #expect(service.cache.count(level: LocalBucketQuery.memoLevel) > 20)
            // Without the hourly bitmaps: the unions stand, nothing is fetched.
            service.cache.evict(level: LocalBucketQuery.hourLevel)
            let misses = service.cache.statistics.misses
            try await checkAll("unions only")
            #expect(service.cache.statistics.misses == misses)
            // Late events change hours under the unions; with the hourly bitmaps cached, and without.
            try await seedMerging(Self.events(300, tag: "late1", using: &generator), url: url)
            try await checkAll("late events, hourly bitmaps cached")
            try await seedMerging(Self.events(300, tag: "late2", using: &generator), url: url)
            service.cache.evict(level: LocalBucketQuery.hourLevel)
            try await checkAll("late events, unions only")
            try await checkAll("again")
        }
    }

    /// The 23- and 25-hour days and the repeated local hour, spelled out.
    @Test func daylightSavingDaysAndHours() throws {
        let newYork = TimeZone(identifier: "America/New_York")!
        let from = UTCTime.parseRFC3339("2026-11-01T00:00:00-04:00")!
        let days = LocalBuckets(fromMicros: from, toMicros: from + 3 * Self.day, unit: .day, zone: newYork)
        #expect(days.starts.map { days.key(seconds: $0) } == ["2026-11-01T00:00:00-04:00", "2026-11-02T00:00:00-05:00", "2026-11-03T00:00:00-05:00"])
        #expect(days.starts[1] - days.starts[0] == 25 * 3_600)
        let hours = LocalBuckets(fromMicros: from + Self.hour, toMicros: from + 3 * Self.hour, unit: .hour, zone: newYork)
        #expect(hours.starts.map { hours.key(seconds: $0) } == ["2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00"])
        let spring = LocalBuckets(fromMicros: UTCTime.parseRFC3339("2026-03-08T00:00:00-05:00")!, toMicros: UTCTime.parseRFC3339("2026-03-08T12:00:00Z")!, unit: .day, zone: newYork)
        #expect(spring.starts.count == 1)
        let weeks = LocalBuckets(fromMicros: UTCTime.parseRFC3339("2026-12-30T00:00:00Z")!, toMicros: UTCTime.parseRFC3339("2027-01-12T00:00:00Z")!, unit: .week, zone: MetricsRequest.utc)
        #expect(weeks.starts.map { weeks.key(seconds: $0) } == ["2026-12-28T00:00:00Z", "2027-01-04T00:00:00Z", "2027-01-11T00:00:00Z"])
        let kathmandu = TimeZone(identifier: "Asia/Kathmandu")!
        let months = LocalBuckets(fromMicros: UTCTime.parseRFC3339("2026-12-31T18:00:00Z")!, toMicros: UTCTime.parseRFC3339("2027-01-01T00:00:00Z")!, unit: .month, zone: kathmandu)
        #expect(months.starts.map { months.key(seconds: $0) } == ["2026-12-01T00:00:00+05:45", "2027-01-01T00:00:00+05:45"])
    }

    @Test func unknownZoneIsA400NamingTz() {
        for bad in ["Mars/Olympus", "EST5EDT ", "", "+05:30", "utc", "../etc/passwd", "Europe", "/usr/share/zoneinfo/UTC", "GMT+0530"] {
            do {
                _ = try MetricsRequest.parse(params(["event_name": "purchase", "tz": bad]), nowMicros: 1_764_450_000_000_000)
                Issue.record("tz \(bad) was accepted")
            } catch {
                #expect(error.field == "tz" && error.status == .badRequest)
            }
        }
        for zone in Self.zones + ["America/St_Johns", "Australia/Lord_Howe", "Etc/GMT+5", "Asia/Calcutta"] {
            let request = try? MetricsRequest.parse(params(["event_name": "purchase", "tz": zone, "group_by": "week"]), nowMicros: 1_764_450_000_000_000)
            #expect(request.map { MetricsRequest.name(of: $0.timeZone) } == zone, "\(zone)")
            #expect(request?.groupBy == .week)
        }
    }
}
