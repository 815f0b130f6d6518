import Foundation
import Hummingbird
import HummingbirdTesting
import Store
import TestSupport
import Testing
import Time
@testable import Query

/// `GET /event-names` from rollups against independent SQL over raw rows, for every kind of window
/// (``RollupMetricsTests/window(using:)``), after late events merged into closed days.
@Suite struct EventNameCatalogTests {
    /// Count, first and last time per name, straight from `events`, ordered as the contract says.
    static func oracle(_ pool: PostgresPool, from: Int64, to: Int64) async throws -> [EventNameCatalog.Entry] {
        let rows = try await pool.withConnection {
            try $0.execute(
                """
                SELECT event_name, count(*), floor(extract(epoch FROM min(ts)) * 1000000)::int8, floor(extract(epoch FROM max(ts)) * 1000000)::int8
                FROM events WHERE ts >= $1::timestamptz AND ts < $2::timestamptz GROUP BY 1 ORDER BY 2 DESC, event_name COLLATE "C"
                """, [UTCTime.rfc3339(from), UTCTime.rfc3339(to)])
        }
        return (0..<rows.rowCount).map {
            EventNameCatalog.Entry(eventName: rows.string($0, 0)!, totalCount: rows.int64($0, 1)!, firstSeenMicros: rows.int64($0, 2)!, lastSeenMicros: rows.int64($0, 3)!)
        }
    }

    @Test func randomizedWindowsEqualRawSQL() async throws {
        var generator = SystemRandomNumberGenerator()
        try await ScratchDatabase.with(prefix: "query_catalog", migrate: true) { database in
            try await seed(RollupMetricsTests.events(), url: database.url)
            try await seedMerging(Array(RollupMetricsTests.events().prefix(300)), url: database.url)
            let service = makeService(url: database.url)
            let check = PostgresPool(url: database.url, size: 1, logger: quietLogger)
            var nonEmpty = 0
            for _ in 0..<150 {
                let (from, to) = RollupMetricsTests.window(using: &generator)
                let expected = try await Self.oracle(check, from: from, to: to)
                let label = "[\(UTCTime.rfc3339(from)), \(UTCTime.rfc3339(to)))"
                #expect(try await service.eventNames(fromMicros: from, toMicros: to) == expected, "rollups \(label)")
                #expect(try await service.eventNames(fromMicros: from, toMicros: to, plainSQL: true) == expected, "plain SQL \(label)")
                if !expected.isEmpty { nonEmpty += 1 }
            }
            #expect(nonEmpty > 60)
            await check.shutdown()
            await service.pool.shutdown()
        }
    }

    @Test func routeAnswersJSONAndNamesBadFields() async throws {
        try await ScratchDatabase.with(prefix: "query_catalog", migrate: true) { database in
            try await seed(MetricsDatabaseTests.handSet, url: database.url)
            let service = makeService(url: database.url)
            let router = Router()
            addMetricsRoutes(to: router, service: service)
            try await Application(router: router).test(.router) { client in
                try await client.execute(uri: "/event-names?from=2025-11-29T00:00:00Z&to=2025-12-01T00:00:00Z", method: .get) { response in
                    #expect(response.status == .ok)
                    let json = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                    let names = json?["event_names"] as? [[String: Any]]
                    #expect(names?.isEmpty == false)
                    #expect(names?.first?["first_seen"] is String)
                    let totals = names?.compactMap { $0["total_count"] as? Int } ?? []
                    #expect(totals == totals.sorted(by: >))
                }
                for (query, field) in [("from=soon", "from"), ("from=1764547200&to=1764374400", "from"), ("to=x", "to")] {
                    try await client.execute(uri: "/event-names?\(query)", method: .get) { response in
                        #expect(response.status == .badRequest, "\(query)")
                        let json = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: [String: String]]
                        #expect(json?["error"]?["field"] == field, "\(query)")
                    }
                }
            }
            await service.pool.shutdown()
        }
    }
}
