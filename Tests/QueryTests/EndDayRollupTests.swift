import Foundation
import Store
import Testing
import Time
@testable import Query

/// The UTC day holding a window's end, when the rest of that day holds no event of the name (a window
/// ending now: the day so far), is read as its daily rollup row instead of its edge hours and raw
/// partial hour (``RollupMetricsQuery/endDay``). Checked against ``MetricsOracle``, then shown to be
/// that row: with the day's raw rows and hourly rows deleted behind the rollups' back the answer is
/// unchanged, and once an event lands later that day the hours and raw rows are read again.
@Suite struct EndDayRollupTests {
    static let end = PartialHourRollupTests.end
    static let from = PartialHourRollupTests.from
    static let endDay = UTCTime.parseRFC3339("2025-12-15T00:00:00Z")!

    /// The UTC plan's groupings that read the end day whole (not `group_by=hour`), with filters.
    static let cases: [(MetricsRequest.GroupBy, String?, String?)] = [
        (.none, nil, nil), (.channel, nil, nil), (.campaign, nil, nil), (.day, nil, nil), (.day, "app", "cmp_a"), (.none, nil, ""),
        (.campaign, "web", nil),
    ]

    func request(_ groupBy: MetricsRequest.GroupBy, channel: String?, campaign: String?) -> MetricsRequest {
        MetricsRequest(eventName: "view", fromMicros: Self.from, toMicros: Self.end, channel: channel, campaignID: campaign, groupBy: groupBy)
    }

    @Test func theDaySoFarIsItsDailyRowAndEqualsRawSQL() async throws {
        try await withSeededService(PartialHourRollupTests.events()) { service, check, database in
            var before: [String: MetricsResult] = [:]
            for (groupBy, channel, campaign) in Self.cases {
                let label = "\(groupBy) channel \(channel ?? "-") campaign \(campaign ?? "-")"
                let expected = try await MetricsOracle.answer(
                    check, name: "view", from: Self.from, to: Self.end, channel: channel, campaign: campaign, groupBy: groupBy, zone: "UTC")
                #expect(try await service.metrics(for: request(groupBy, channel: channel, campaign: campaign)) == expected, "\(label)")
                #expect(try await service.metrics(for: request(groupBy, channel: channel, campaign: campaign)) == expected, "cached: \(label)")
                before[label] = expected
            }

            // The day so far loses its raw rows and its hourly rollup rows (not its daily ones): the
            // answers stand, so they came from the daily rows.
            _ = try await database.withConnection { connection in
                try connection.execute(
                    "DELETE FROM events WHERE ts >= $1::timestamptz AND ts < $2::timestamptz", [UTCTime.rfc3339(Self.endDay), UTCTime.rfc3339(Self.end)])
                for table in ["rollup_hourly", "rollup_campaign_hourly"] {
                    try connection.execute("DELETE FROM \(table) WHERE hour >= $1::timestamptz", [UTCTime.rfc3339(Self.endDay)])
                }
            }
            for (groupBy, channel, campaign) in Self.cases {
                let label = "\(groupBy) channel \(channel ?? "-") campaign \(campaign ?? "-")"
                #expect(try await service.metrics(for: request(groupBy, channel: channel, campaign: campaign)) == before[label], "from the daily row: \(label)")
            }

            // An event later that day: the rest of the day is no longer empty, so its hours and raw
            // rows are read (the deleted ones are gone from the answer, as from plain SQL).
            try await seedMerging([SeedEvent("view", "app", "u45", "2025-12-15T20:15:00Z", campaign: "cmp_a")], url: database.url)
            for (groupBy, channel, campaign) in Self.cases {
                let label = "\(groupBy) channel \(channel ?? "-") campaign \(campaign ?? "-")"
                let expected = try await MetricsOracle.answer(
                    check, name: "view", from: Self.from, to: Self.end, channel: channel, campaign: campaign, groupBy: groupBy, zone: "UTC")
                #expect(expected.totalCount < before[label]!.totalCount, "the deletion shows in plain SQL: \(label)")
                #expect(try await service.metrics(for: request(groupBy, channel: channel, campaign: campaign)) == expected, "from hours and raw rows: \(label)")
            }
        }
    }

    /// Which windows read their end day whole: only those holding the day's start but not its end,
    /// never by hour, and not one whose whole hours cross midnight.
    @Test func whichWindowsReadTheirEndDayWhole() {
        func endDay(_ from: String, _ to: String, _ groupBy: MetricsRequest.GroupBy = .none) -> Int64? {
            let request = MetricsRequest(
                eventName: "view", fromMicros: UTCTime.parseRFC3339(from)!, toMicros: UTCTime.parseRFC3339(to)!, channel: nil, groupBy: groupBy)
            return RollupMetricsQuery(request: request, split: MetricsWindowSplit(fromMicros: request.fromMicros, toMicros: request.toMicros), useLevels: true)
                .endDay
        }
        let day = Self.endDay / 1_000_000
        #expect(endDay("2025-12-12T07:40:00Z", "2025-12-15T11:30:00Z") == day)
        #expect(endDay("2025-12-12T07:40:00Z", "2025-12-15T11:30:00Z", .day) == day)
        #expect(endDay("2025-12-12T07:40:00Z", "2025-12-15T11:30:00Z", .hour) == nil, "group_by=hour needs the hours")
        #expect(endDay("2025-12-15T00:00:00Z", "2025-12-15T00:20:00Z") == day, "raw rows only, from the day's start")
        #expect(endDay("2025-12-14T23:50:00Z", "2025-12-15T00:20:00Z") == day, "two raw ranges, the second in the end day")
        #expect(endDay("2025-12-14T20:00:00Z", "2025-12-15T05:30:00Z") == nil, "whole hours across midnight")
        #expect(endDay("2025-12-15T01:00:00Z", "2025-12-15T05:30:00Z") == nil, "the window starts after the day's start")
        #expect(endDay("2025-12-12T07:40:00Z", "2025-12-15T00:00:00Z") == nil, "the window ends at midnight")
    }
}
