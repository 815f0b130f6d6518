import Foundation
import Store
import Testing
import Time
@testable import Query

/// A partial hour at a window's edge whose rest holds no event of the name (a window ending now:
/// the hour so far) is read as its hourly rollup row instead of its raw rows. Checked against
/// ``MetricsOracle`` for every grouping, zone and filter, and then shown to be that row and not the
/// raw rows: with the hour's raw rows deleted behind the rollups' back the answer is unchanged, and
/// once an event lands in the rest of the hour the raw rows are read again. The event catalogue, whose
/// counts add, takes such an hour as its hourly total minus a count of the rest.
@Suite struct PartialHourRollupTests {
    static let end = UTCTime.parseRFC3339("2025-12-15T11:30:00Z")!
    static let from = UTCTime.parseRFC3339("2025-12-12T07:40:00Z")!

    /// Three and a half days of events up to `end` (none after it), two channels, one campaign and
    /// none; the start edge's hour has events on both sides of `from`.
    static func events() -> [SeedEvent] {
        var state: UInt64 = 0x5EED
        func next(_ bound: Int64) -> Int64 {
            state &+= 0x9E37_79B9_7F4A_7C15  // SplitMix64
            var z = (state ^ (state >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int64((z ^ (z >> 31)) >> 1) % bound
        }
        let first = UTCTime.parseRFC3339("2025-12-12T00:00:00Z")!
        var events: [SeedEvent] = (0..<400).map { _ in
            SeedEvent(
                name: "view", channel: next(3) == 0 ? "app" : "web", user: "u\(next(40))", micros: first + next(end - first),
                campaign: next(2) == 0 ? "cmp_a" : nil)
        }
        for (minute, user) in [(5, "u1"), (10, "u41"), (20, "u42"), (29, "u1")] {
            events.append(SeedEvent(name: "view", channel: "app", user: user, micros: end - Int64(30 - minute) * 60_000_000, campaign: "cmp_a"))
        }
        events.append(SeedEvent("view", "web", "u43", "2025-12-12T07:10:00Z"))
        events.append(SeedEvent("view", "web", "u44", "2025-12-12T07:50:00Z"))
        return events
    }

    static let zones = ["UTC", "America/New_York", "Asia/Kolkata"]

    func request(groupBy: MetricsRequest.GroupBy, zone: String, channel: String? = nil, campaign: String? = nil) -> MetricsRequest {
        MetricsRequest(
            eventName: "view", fromMicros: Self.from, toMicros: Self.end, channel: channel, campaignID: campaign, groupBy: groupBy,
            timeZone: MetricsRequest.zone(named: zone)!)
    }

    @Test func theHourSoFarIsItsHourlyRowAndEqualsRawSQL() async throws {
        try await withSeededService(Self.events()) { service, check, database in
            // Every grouping, zone and filter equals plain SQL (cold, then through the query cache).
            var before: [String: MetricsResult] = [:]
            for zone in Self.zones {
                for groupBy in MetricsRequest.GroupBy.allCases where zone == "UTC" || groupBy != .channel && groupBy != .campaign {
                    for (channel, campaign) in [(nil, nil), ("app", nil), (nil, "cmp_a"), ("web", "")] as [(String?, String?)] {
                        let expected = try await MetricsOracle.answer(
                            check, name: "view", from: Self.from, to: Self.end, channel: channel, campaign: campaign, groupBy: groupBy, zone: zone)
                        let label = "\(groupBy) tz=\(zone) channel \(channel ?? "-") campaign \(campaign ?? "-")"
                        let request = request(groupBy: groupBy, zone: zone, channel: channel, campaign: campaign)
                        #expect(try await service.metrics(for: request) == expected, "\(label)")
                        #expect(try await service.metrics(for: request) == expected, "cached: \(label)")
                        before[label] = expected
                    }
                }
            }
            #expect(before["none tz=UTC channel - campaign -"]?.uniqueUserCount == 43, "u0…u39, and u41, u42, u44 in the edge hours only (u43 is before the window)")
            // The event catalogue counts the hour so far as its hourly total minus the (empty) rest.
            let catalogue = try await service.eventNames(fromMicros: Self.from, toMicros: Self.end)
            #expect(catalogue == (try await EventNameCatalogTests.oracle(check, from: Self.from, to: Self.end)))
            #expect(catalogue.first?.totalCount == before["none tz=UTC channel - campaign -"]?.totalCount)

            // The hour so far loses its raw rows (not its rollups): the answer stands, so it came
            // from the hourly row. (The UTC plan reads a window ending inside a day whose rest is
            // empty as that day's daily row, EndDayRollupTests; by hour it takes the hourly row.)
            _ = try await database.withConnection { connection in
                try connection.execute(
                    "DELETE FROM events WHERE ts >= $1::timestamptz AND ts < $2::timestamptz",
                    [UTCTime.rfc3339(Self.end - 30 * 60_000_000), UTCTime.rfc3339(Self.end)])
            }
            for (groupBy, zone, campaign) in [(MetricsRequest.GroupBy.none, "UTC", nil), (.campaign, "UTC", nil), (.day, "America/New_York", "cmp_a"), (.hour, "Asia/Kolkata", nil), (.hour, "UTC", nil)] as [(MetricsRequest.GroupBy, String, String?)] {
                let label = "\(groupBy) tz=\(zone) channel - campaign \(campaign ?? "-")"
                #expect(try await service.metrics(for: request(groupBy: groupBy, zone: zone, campaign: campaign)) == before[label], "from the hourly row: \(label)")
            }

            #expect(
                try await service.eventNames(fromMicros: Self.from, toMicros: Self.end).first?.totalCount == catalogue.first?.totalCount,
                "the catalogue's count came from the hourly row too")

            // An event after the window's end in that hour: the rest is no longer empty, so the raw
            // rows are read, and the deleted ones are gone from the answer too.
            try await seedMerging([SeedEvent("view", "app", "u45", "2025-12-15T11:45:00Z", campaign: "cmp_a")], url: database.url)
            for (groupBy, zone, campaign) in [(MetricsRequest.GroupBy.none, "UTC", nil), (.campaign, "UTC", nil), (.day, "America/New_York", "cmp_a"), (.hour, "Asia/Kolkata", nil), (.hour, "UTC", nil)] as [(MetricsRequest.GroupBy, String, String?)] {
                let expected = try await MetricsOracle.answer(check, name: "view", from: Self.from, to: Self.end, channel: nil, campaign: campaign, groupBy: groupBy, zone: zone)
                let label = "\(groupBy) tz=\(zone) campaign \(campaign ?? "-")"
                #expect(expected.uniqueUserCount < before["\(groupBy) tz=\(zone) channel - campaign \(campaign ?? "-")"]!.uniqueUserCount, "the deletion shows in plain SQL: \(label)")
                #expect(try await service.metrics(for: request(groupBy: groupBy, zone: zone, campaign: campaign)) == expected, "from raw rows: \(label)")
            }
            // (Not the catalogue here: it always takes this hour as its total minus the rest, and the
            // deletion above made the two disagree. EventNameCatalogTests checks it on whole data.)
        }
    }
}
