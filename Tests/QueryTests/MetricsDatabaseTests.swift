import Foundation
import Store
import TestSupport
import Testing
import Time
@testable import Query

/// Metrics against a real PostgreSQL: a migrated scratch database per test, rows inserted with SQL.
@Suite struct MetricsDatabaseTests {
    /// add_to_cart in [2025-11-29, 2025-12-01): 6 events by u1, u2, u3, plus rows just outside.
    static let handSet: [SeedEvent] = [
        SeedEvent("add_to_cart", "web", "u1", "2025-11-29T00:00:00Z"),          // exactly at from: in
        SeedEvent("add_to_cart", "web", "u2", "2025-11-29T10:30:00Z"),
        SeedEvent("add_to_cart", "app", "u1", "2025-11-29T10:59:59.999999Z"),
        SeedEvent("add_to_cart", "web", "u1", "2025-11-29T11:00:00Z"),
        SeedEvent("add_to_cart", "app", "u3", "2025-11-30T00:00:00Z"),
        SeedEvent("add_to_cart", "web", "u2", "2025-11-30T23:59:59.999999Z"),
        SeedEvent("add_to_cart", "web", "u4", "2025-12-01T00:00:00Z"),          // exactly at to: out
        SeedEvent("add_to_cart", "web", "u5", "2025-11-28T23:59:59.999999Z"),   // just before from: out
        SeedEvent("view_item", "web", "u9", "2025-11-29T10:00:00Z"),            // another event: out
        SeedEvent("ajouter_au_panier_🛒", "móvil", "utilisateur_é", "2025-11-29T12:00:00Z"),
        SeedEvent("ajouter_au_panier_🛒", "móvil", "u1", "2025-11-29T12:30:00Z"),
        SeedEvent("ajouter_au_panier_🛒", "网页", "u1", "2025-11-29T13:00:00Z"),
    ]

    static let window = ["from": "2025-11-29T00:00:00Z", "to": "1764547200"]  // to = 2025-12-01T00:00:00Z

    func result(_ service: MetricsService, _ pairs: [String: String]) async throws -> MetricsResult {
        try await service.metrics(for: service.parse(params(pairs)))
    }

    @Test func handComputedAnswersForEveryGrouping() async throws {
        try await withSeededService(Self.handSet) { service, _, _ async throws in
            var query = Self.window
            query["event_name"] = "add_to_cart"

            query["group_by"] = "none"
            #expect(try await result(service, query) == MetricsResult(totalCount: 6, uniqueUserCount: 3, groups: []))

            query["group_by"] = "channel"
            #expect(try await result(service, query) == MetricsResult(totalCount: 6, uniqueUserCount: 3, groups: [
                MetricsGroup(key: "app", totalCount: 2, uniqueUserCount: 2),
                MetricsGroup(key: "web", totalCount: 4, uniqueUserCount: 2),
            ]))

            query["group_by"] = "day"
            #expect(try await result(service, query) == MetricsResult(totalCount: 6, uniqueUserCount: 3, groups: [
                MetricsGroup(key: "2025-11-29", totalCount: 4, uniqueUserCount: 2),
                MetricsGroup(key: "2025-11-30", totalCount: 2, uniqueUserCount: 2),
            ]))

            query["group_by"] = "hour"
            #expect(try await result(service, query) == MetricsResult(totalCount: 6, uniqueUserCount: 3, groups: [
                MetricsGroup(key: "2025-11-29T00:00:00Z", totalCount: 1, uniqueUserCount: 1),
                MetricsGroup(key: "2025-11-29T10:00:00Z", totalCount: 2, uniqueUserCount: 2),
                MetricsGroup(key: "2025-11-29T11:00:00Z", totalCount: 1, uniqueUserCount: 1),
                MetricsGroup(key: "2025-11-30T00:00:00Z", totalCount: 1, uniqueUserCount: 1),
                MetricsGroup(key: "2025-11-30T23:00:00Z", totalCount: 1, uniqueUserCount: 1),
            ]))

            // The channel filter.
            query["channel"] = "web"
            query["group_by"] = "day"
            #expect(try await result(service, query) == MetricsResult(totalCount: 4, uniqueUserCount: 2, groups: [
                MetricsGroup(key: "2025-11-29", totalCount: 3, uniqueUserCount: 2),
                MetricsGroup(key: "2025-11-30", totalCount: 1, uniqueUserCount: 1),
            ]))
            query["group_by"] = "channel"
            #expect(try await result(service, query) == MetricsResult(totalCount: 4, uniqueUserCount: 2, groups: [
                MetricsGroup(key: "web", totalCount: 4, uniqueUserCount: 2),
            ]))
        }
    }

    @Test func windowEdgesAreHalfOpen() async throws {
        try await withSeededService(Self.handSet) { service, _, _ async throws in
            // [10:59:59.999999, 11:00:00) holds exactly the app event; the 11:00:00 one is at `to`.
            let narrow = try await result(service, [
                "event_name": "add_to_cart", "from": "2025-11-29T10:59:59.999999Z", "to": "2025-11-29T11:00:00Z", "group_by": "channel",
            ])
            #expect(narrow == MetricsResult(totalCount: 1, uniqueUserCount: 1, groups: [MetricsGroup(key: "app", totalCount: 1, uniqueUserCount: 1)]))
            // Starting exactly at an event includes it; ending exactly at one excludes it.
            let atFrom = try await result(service, ["event_name": "add_to_cart", "from": "2025-12-01T00:00:00Z", "to": "2025-12-02T00:00:00Z", "group_by": "none"])
            #expect(atFrom.totalCount == 1)
            let atTo = try await result(service, ["event_name": "add_to_cart", "from": "2025-11-28T00:00:00Z", "to": "2025-11-28T23:59:59.999999Z", "group_by": "none"])
            #expect(atTo.totalCount == 0)
            // Offsets name the same instants.
            let offset = try await result(service, ["event_name": "add_to_cart", "from": "2025-11-29T01:00:00+01:00", "to": "2025-12-01T01:00:00+01:00", "group_by": "none"])
            #expect(offset.totalCount == 6)
        }
    }

    @Test func unicodeNamesAndChannels() async throws {
        try await withSeededService(Self.handSet) { service, _, _ async throws in
            let result = try await result(service, ["event_name": "ajouter_au_panier_🛒", "from": "2025-11-29T00:00:00Z", "to": "2025-11-30T00:00:00Z"])
            #expect(result == MetricsResult(totalCount: 3, uniqueUserCount: 2, groups: [
                MetricsGroup(key: "móvil", totalCount: 2, uniqueUserCount: 2),
                MetricsGroup(key: "网页", totalCount: 1, uniqueUserCount: 1),
            ]))
            let filtered = try await self.result(service, ["event_name": "ajouter_au_panier_🛒", "channel": "网页", "from": "2025-11-29T00:00:00Z", "to": "2025-11-30T00:00:00Z", "group_by": "hour"])
            #expect(filtered.groups == [MetricsGroup(key: "2025-11-29T13:00:00Z", totalCount: 1, uniqueUserCount: 1)])
        }
    }

    @Test func emptyResults() async throws {
        try await withSeededService(Self.handSet) { service, _, _ async throws in
            for groupBy in MetricsRequest.GroupBy.allCases {
                for query in [
                    ["event_name": "never_sent", "group_by": groupBy.rawValue],
                    ["event_name": "add_to_cart", "from": "2020-01-01T00:00:00Z", "to": "2020-02-01T00:00:00Z", "group_by": groupBy.rawValue],
                    ["event_name": "add_to_cart", "channel": "tv", "group_by": groupBy.rawValue],
                ] {
                    #expect(try await result(service, query) == MetricsResult(totalCount: 0, uniqueUserCount: 0, groups: []))
                }
            }
        }
    }

    @Test func duplicateUsersCountOnce() async throws {
        let events = (0..<50).map { SeedEvent(name: "e", channel: "web", user: "same", micros: 1_764_374_400_000_000 + Int64($0) * 60_000_000) }
        try await withSeededService(events) { service, _, _ async throws in
            let result = try await result(service, ["event_name": "e", "from": "1764374400", "to": "1764460800", "group_by": "hour"])
            #expect(result.totalCount == 50)
            #expect(result.uniqueUserCount == 1)
            #expect(result.groups == [MetricsGroup(key: "2025-11-29T00:00:00Z", totalCount: 50, uniqueUserCount: 1)])
        }
    }

    /// Random events and random windows, compared with independent SQL (to_char keys, DISTINCT user_id).
    @Test func randomizedAgainstIndependentSQL() async throws {
        var generator = SystemRandomNumberGenerator()
        let base: Int64 = 1_764_374_400_000_000  // 2025-11-29T00:00:00Z
        let span: Int64 = 10 * 86_400_000_000
        let names = ["add_to_cart", "purchase", "view_é"]
        let channels = ["web", "app", "móvil", "email"]
        let events = (0..<3000).map { _ in
            SeedEvent(
                name: names.randomElement(using: &generator)!, channel: channels.randomElement(using: &generator)!,
                user: "user_\(Int.random(in: 0..<80, using: &generator))", micros: base + Int64.random(in: 0..<span, using: &generator))
        }
        try await withSeededService(events) { service, check, _ async throws in
            for _ in 0..<40 {
                let a = base - 86_400_000_000 + Int64.random(in: 0..<(span + 2 * 86_400_000_000), using: &generator)
                let b = base - 86_400_000_000 + Int64.random(in: 0..<(span + 2 * 86_400_000_000), using: &generator)
                guard a != b else { continue }
                // Mix whole-second and microsecond bounds.
                let from = Bool.random(using: &generator) ? min(a, b) / 1_000_000 * 1_000_000 : min(a, b)
                let to = max(a, b)
                let name = names.randomElement(using: &generator)!
                let channel: String? = Bool.random(using: &generator) ? channels.randomElement(using: &generator)! : nil
                let groupBy = MetricsRequest.GroupBy.allCases.randomElement(using: &generator)!
                var query = ["event_name": name, "from": UTCTime.rfc3339(from), "to": UTCTime.rfc3339(to), "group_by": groupBy.rawValue]
                if let channel { query["channel"] = channel }
                let actual = try await result(service, query)

                let expected = try await MetricsOracle.answer(check, name: name, from: from, to: to, channel: channel, groupBy: groupBy)
                #expect(actual == expected, "query \(query)")
            }
        }
    }
}
