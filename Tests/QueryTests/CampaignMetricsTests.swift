import Bitmaps
import Rollups
import Store
import TestSupport
import Testing
import Time
@testable import Query

/// `campaign_id=` and `group_by=campaign` from the campaign rollups against independent SQL over raw
/// rows (``MetricsOracle``): events with and without a campaign, late events merged into closed days
/// and blocks as the replayer merges them, windows that align with no block.
@Suite struct CampaignMetricsTests {
    static let campaigns: [String?] = [nil, "spring", "fall-25", "кампания", "x"]
    static let base = RollupLevelMetricsTests.base
    static let day = RollupLevelMetricsTests.day

    static func events(count: Int, days: Int64, users: Int) -> [SeedEvent] {
        var generator = SystemRandomNumberGenerator()
        return RollupLevelMetricsTests.events(count: count, days: days, users: users).map { event in
            var event = event
            event.campaign = campaigns.randomElement(using: &generator)!
            return event
        }
    }

    /// Every campaign question asked of one window: group_by=campaign, and each campaign (the events
    /// without one, and one that never occurs, too) by every grouping the filter supports in UTC.
    static var requests: [(campaign: String?, groupBy: MetricsRequest.GroupBy)] {
        var requests: [(String?, MetricsRequest.GroupBy)] = [(nil, .campaign)]
        for campaign in campaigns.map({ $0 ?? MetricsRequest.noCampaign }) + ["never-seen"] {
            for groupBy in [MetricsRequest.GroupBy.none, .channel, .hour, .day, .campaign] { requests.append((campaign, groupBy)) }
        }
        return requests
    }

    @Test func randomizedCampaignFiltersAndGroupsEqualRawSQL() async throws {
        var generator = SystemRandomNumberGenerator()
        try await withSeededService(Self.events(count: 4_000, days: 70, users: 300)) { service, check, database in
            // Late events into days and blocks closed weeks ago, merged as the replayer merges them.
            try await seedMerging(Self.events(count: 500, days: 60, users: 400), url: database.url)
            for round in 0..<12 {
                let (from, to) = RollupLevelMetricsTests.window(using: &generator)
                let name = RollupLevelMetricsTests.names.randomElement(using: &generator)!
                // Every other round with a channel filter.
                let channel: String? = round % 2 == 0 ? nil : RollupLevelMetricsTests.channels.randomElement(using: &generator)!
                for (campaign, groupBy) in Self.requests {
                    let request = MetricsRequest(eventName: name, fromMicros: from, toMicros: to, channel: channel, campaignID: campaign, groupBy: groupBy)
                    let expected = try await MetricsOracle.answer(
                        check, name: name, from: from, to: to, channel: channel, campaign: campaign, groupBy: groupBy)
                    let label = "\(name) [\(UTCTime.rfc3339(from)), \(UTCTime.rfc3339(to))) channel \(channel ?? "-") campaign \(campaign ?? "-") by \(groupBy)"
                    #expect(try await service.metrics(for: request) == expected, "blocks: \(label)")
                    #expect(try await service.metrics(for: request, strategy: .dailyRollups) == expected, "daily only: \(label)")
                    #expect(try await service.metrics(for: request, strategy: .plainSQL) == expected, "plain SQL: \(label)")
                }
            }
            // The groups of group_by=campaign add up to the whole and include the events without one.
            let whole = MetricsRequest(eventName: "purchase", fromMicros: Self.base - Self.day, toMicros: Self.base + 80 * Self.day, groupBy: .campaign)
            let result = try await service.metrics(for: whole)
            #expect(result.groups.map(\.totalCount).reduce(0, +) == result.totalCount)
            #expect(result.groups.contains { $0.key == MetricsRequest.noCampaign })
        }
    }

    /// A campaign filter with every time grouping in zones of whole, half and three-quarter hour
    /// offsets (the local-bucket plan: local days, ISO weeks and months across the 2025 fall-back
    /// night and a month end, read from the campaign tables' all-channels or channel rows), and
    /// group_by=campaign with any zone (it has no time buckets). Each question twice: the second
    /// through the query cache the first filled.
    @Test func campaignWithTimeZones() async throws {
        try await withSeededService(Self.events(count: 3_000, days: 40, users: 150)) { service, check, _ in
            let (from, to) = (Self.base + 3 * Self.day / 2 + 17, Self.base + 37 * Self.day + 5)
            var questions: [(campaign: String?, channel: String?, groupBy: MetricsRequest.GroupBy, zone: String)] = [
                (nil, nil, .campaign, "Asia/Kolkata"), ("spring", nil, .hour, "America/New_York"),
            ]
            for zone in ["America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Europe/Istanbul"] {
                for groupBy in [MetricsRequest.GroupBy.day, .week, .month] {
                    questions.append(("spring", nil, groupBy, zone))
                    questions.append((MetricsRequest.noCampaign, "web", groupBy, zone))
                }
            }
            questions.append(("fall-25", "app", .hour, "Asia/Kathmandu"))
            for question in questions {
                let request = MetricsRequest(
                    eventName: "purchase", fromMicros: from, toMicros: to, channel: question.channel, campaignID: question.campaign,
                    groupBy: question.groupBy, timeZone: MetricsRequest.zone(named: question.zone)!)
                let expected = try await MetricsOracle.answer(
                    check, name: "purchase", from: from, to: to, channel: question.channel, campaign: question.campaign, groupBy: question.groupBy,
                    zone: question.zone)
                let label = "campaign \(question.campaign ?? "-") channel \(question.channel ?? "-") by \(question.groupBy) in \(question.zone)"
                #expect(expected.totalCount > 0, "\(label)")
                #expect(try await service.metrics(for: request) == expected, "cold: \(label)")
                #expect(try await service.metrics(for: request) == expected, "warm: \(label)")
            }
        }
    }

    /// Until `campaigns_complete` (a database that held events before the campaign tables), campaign
    /// questions are answered from plain SQL, exact although the campaign tables are empty; a full
    /// rebuild fills them and `rollups verify` agrees.
    @Test func incompleteCampaignRollupsAreNotRead() async throws {
        let forgetCampaigns: @Sendable (PostgresConnection) throws -> Void = { connection in
            try connection.executeScript("""
                TRUNCATE rollup_campaign_hourly, rollup_campaign_daily, rollup_campaign_blocks;
                UPDATE rollup_status SET campaigns_complete = false
                """)
        }
        try await withSeededService(Self.events(count: 1_000, days: 20, users: 100), prepare: forgetCampaigns) { service, check, database in
            let (from, to) = (Self.base + 2 * Self.day, Self.base + 18 * Self.day)
            let request = MetricsRequest(eventName: "purchase", fromMicros: from, toMicros: to, groupBy: .campaign)
            let expected = try await MetricsOracle.answer(check, name: "purchase", from: from, to: to, channel: nil, groupBy: .campaign)
            #expect(expected.totalCount > 0)
            #expect(try await service.metrics(for: request) == expected)
            let report = try await offload {
                let connection = try PostgresConnection(url: database.url)
                defer { connection.close() }
                let summary = try RollupRebuilder.rebuild(on: connection)
                #expect(summary.markedComplete)
                return try RollupVerifier.verify(on: connection)
            }
            #expect(report.differences.map(\.description) == [])
            #expect(try await service.metrics(for: request) == expected)
        }
    }

    /// The campaign tables' days, blocks and edge hours go through the query cache, keyed with the
    /// campaign and channel: a repeated question fetches no bitmap, and late events merged into the
    /// window's days and edge hours (new row versions) are seen at once.
    @Test func campaignBitmapsComeFromTheQueryCacheAndLateEventsAreSeen() async throws {
        try await withSeededService(Self.events(count: 2_000, days: 12, users: 150)) { service, check, database in
            // Partial hours and partial days at both ends, whole days and blocks between.
            let (from, to) = (Self.base + Self.day + 5 * 3_600_000_000 + 17, Self.base + 10 * Self.day + 20 * 3_600_000_000 + 5)
            let requests: [(String?, MetricsRequest.GroupBy)] = [(nil, .campaign), ("spring", .none), (MetricsRequest.noCampaign, .channel)]
            func expectEqualToRawSQL(_ label: String) async throws {
                for (campaign, groupBy) in requests {
                    let request = MetricsRequest(eventName: "purchase", fromMicros: from, toMicros: to, campaignID: campaign, groupBy: groupBy)
                    let expected = try await MetricsOracle.answer(
                        check, name: "purchase", from: from, to: to, channel: nil, campaign: campaign, groupBy: groupBy)
                    #expect(expected.totalCount > 0)
                    #expect(try await service.metrics(for: request) == expected, "\(label): \(campaign ?? "-") by \(groupBy)")
                }
            }
            try await expectEqualToRawSQL("cold")
            let cold = service.cache.statistics
            #expect(cold.misses > 0)
            #expect(service.cache.count(level: LocalBucketQuery.hourLevel) > 0, "edge hours are cached")
            // group_by=campaign keeps one union per campaign (the four and the events without one).
            #expect(service.cache.count(level: CampaignUnions.memoLevel) == Self.campaigns.count)
            let hours = MetricsWindowSplit(fromMicros: from, toMicros: to).hours
            func kept(_ campaign: String) -> RoaringBitmap? {
                let key = BitmapCache.Key(
                    eventName: Array("purchase".utf8), level: CampaignUnions.memoLevel, start: hours.lowerBound, channel: [], end: hours.upperBound,
                    campaign: Array(campaign.utf8))
                return service.cache.memo(key)?.bitmap
            }
            let coldUnion = try #require(kept("spring"))
            try await expectEqualToRawSQL("warm")
            let warm = service.cache.statistics
            #expect(warm.misses == cold.misses, "a repeated question fetches no bitmap")
            #expect(warm.hits > cold.hits)
            #expect(kept("spring") === coldUnion, "and takes the kept union instead of making it again")
            // Late events into the window's days and its first and last partial days.
            try await seedMerging(Self.events(count: 300, days: 12, users: 400), url: database.url)
            try await expectEqualToRawSQL("after late events")
            #expect(service.cache.statistics.misses > warm.misses)
        }
    }
}
