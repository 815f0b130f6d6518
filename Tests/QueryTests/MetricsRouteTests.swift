import APISupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Store
import TestSupport
import Testing
@testable import Query

@Suite struct MetricsRouteTests {
    func withApp(_ service: MetricsService, _ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let router = Router()
        addMetricsRoutes(to: router, service: service)
        let app = Application(router: router)
        do {
            try await app.test(.router, body)
        } catch {
            await service.pool.shutdown()
            throw error
        }
        await service.pool.shutdown()
    }

    @Test func answersTheContractJSON() async throws {
        try await ScratchDatabase.with(prefix: "query_test", migrate: true) { database in
            try await seed(MetricsDatabaseTests.handSet, url: database.url)
            try await withApp(makeService(url: database.url)) { client in
                try await client.execute(uri: "/metrics?event_name=add_to_cart&from=1764374400&to=2025-12-01T00:00:00Z&channel=web&group_by=day", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.contentType] == "application/json; charset=utf-8")
                    #expect(String(buffer: response.body) == """
                        {"event_name":"add_to_cart","from":"2025-11-29T00:00:00Z","to":"2025-12-01T00:00:00Z","filter":{"channel":"web","campaign_id":null},"group_by":"day","tz":"UTC",\
                        "total_count":4,"unique_user_count":2,"groups":[{"key":"2025-11-29","total_count":3,"unique_user_count":2},\
                        {"key":"2025-11-30","total_count":1,"unique_user_count":1}],"freshness":{"replay_lag_seconds":1.5,"as_of":"2025-12-15T11:59:58.5Z"}}
                        """)
                }
                // The events without a campaign (all of these): `campaign_id=` empty, and the group keyed "".
                try await client.execute(uri: "/metrics?event_name=add_to_cart&from=1764374400&to=1764547200&campaign_id=&group_by=campaign", method: .get) { response in
                    #expect(response.status == .ok)
                    let body = String(buffer: response.body)
                    #expect(body.contains(#""filter":{"channel":null,"campaign_id":""},"group_by":"campaign""#), "\(body)")
                    #expect(body.contains(#""total_count":6,"unique_user_count":3,"groups":[{"key":"","total_count":6,"unique_user_count":3}]"#), "\(body)")
                }
                // Percent-encoded unicode, no filter, defaults for the window (now = 2025-12-15T12:00:00Z).
                try await client.execute(uri: "/metrics?event_name=ajouter_au_panier_%F0%9F%9B%92", method: .get) { response in
                    #expect(response.status == .ok)
                    let json = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as! [String: Any]
                    #expect(json["event_name"] as? String == "ajouter_au_panier_🛒")
                    #expect(json["from"] as? String == "2025-11-15T12:00:00Z")
                    #expect(json["to"] as? String == "2025-12-15T12:00:00Z")
                    #expect((json["filter"] as? [String: Any])?["channel"] is NSNull)
                    #expect(json["group_by"] as? String == "channel")
                    #expect(json["total_count"] as? Int == 3)
                    #expect(json["unique_user_count"] as? Int == 2)
                    let groups = json["groups"] as? [[String: Any]]
                    #expect(groups?.map { $0["key"] as? String } == ["móvil", "网页"])
                }
            }
        }
    }

    @Test func badParametersAre400NamingTheField() async throws {
        let service = makeService(url: "postgresql://events@127.0.0.1:1/events")
        try await withApp(service) { client in
            for (query, field) in [
                ("from=1764374400", "event_name"),
                ("event_name=e&group_by=quarter", "group_by"),
                ("event_name=e&tz=Mars/Olympus", "tz"),
                ("event_name=e&from=soon", "from"),
                ("event_name=e&from=1764547200&to=1764374400", "from"),
                ("event_name=e&channel=", "channel"),
                ("event_name=e&campaign_id=\(String(repeating: "c", count: 101))", "campaign_id"),
            ] {
                try await client.execute(uri: "/metrics?\(query)", method: .get) { response in
                    #expect(response.status == .badRequest, "\(query)")
                    let json = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: [String: String]]
                    #expect(json?["error"]?["field"] == field, "\(query)")
                    #expect(json?["error"]?["message"]?.isEmpty == false)
                }
            }
            try await client.execute(uri: "/metrics?event_name=e&group_by=quarter", method: .get) { response in
                #expect(String(buffer: response.body) == #"{"error":{"code":"invalid_parameter","message":"group_by must be one of: channel, hour, day, week, month, campaign, none","field":"group_by"}}"#)
            }
        }
    }

    @Test func postgresDownIs503WithRetryAfter() async throws {
        let service = makeService(url: "postgresql://events@127.0.0.1:1/events")
        try await withApp(service) { client in
            try await client.execute(uri: "/metrics?event_name=e", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[.retryAfter] == "5")
                let body = String(buffer: response.body)
                #expect(body == #"{"error":{"code":"database_unavailable","message":"the metrics database is unavailable; retry later"}}"#)
                #expect(!body.contains("127.0.0.1"))
            }
        }
    }

    /// Rows inserted behind the rollups' back: marked incomplete, so /metrics runs the slow raw scan.
    @Test func statementTimeoutIs504() async throws {
        try await ScratchDatabase.with(prefix: "query_test", migrate: true) { database in
            try await offload {
                let setup = try PostgresConnection(url: database.url)
                defer { setup.close() }
                try setup.executeScript("""
                INSERT INTO users (user_id) SELECT 'u' || g FROM generate_series(1, 1000) g;
                INSERT INTO events (idempotency_key, event_name, channel, user_id, uid, ts, received_at, node_id)
                SELECT gen_random_uuid(), 'big', 'web', 'u' || (g % 1000 + 1), g % 1000 + 1,
                       '2025-11-29T00:00:00Z'::timestamptz + g * interval '1 second', now(), 'test'
                FROM generate_series(1, 300000) g;
                ANALYZE events;
                UPDATE rollup_status SET complete = false;
                """)
            }
            try await withApp(makeService(url: database.url, statementTimeoutMilliseconds: 1)) { client in
                try await client.execute(uri: "/metrics?event_name=big&from=2025-11-29T00:00:00Z&to=2025-12-29T00:00:00Z&group_by=hour", method: .get) { response in
                    #expect(response.status == .gatewayTimeout)
                    #expect(String(buffer: response.body).contains(#""code":"query_timeout""#))
                    #expect(String(buffer: response.body).contains("statement timeout of 1 ms"))
                }
            }
        }
    }

    @Test func errorMappingNeverLeaksServerDetail() {
        let service = makeService(url: "postgresql://events@127.0.0.1:1/events")
        let secret = "relation \"events\" does not exist"
        let failure = service.apiError(for: PostgresError(code: .queryFailed, message: secret, sqlState: "42P01", query: "SELECT …"))
        #expect(failure.status == .internalServerError)
        #expect(!failure.message.contains("events"))
        #expect(service.apiError(for: PostgresError(code: .connectionLost, message: secret)).status == .serviceUnavailable)
        #expect(service.apiError(for: PostgresError(code: .poolTimeout, message: secret)).status == .serviceUnavailable)
        #expect(service.apiError(for: PostgresError(code: .queryTimeout, message: secret, sqlState: "57014")).status == .gatewayTimeout)
    }

    @Test func lagNumbersAreValidJSON() {
        #expect(MetricsResponse.number(0) == "0")
        #expect(MetricsResponse.number(1.5) == "1.5")
        #expect(MetricsResponse.number(0.00049) == "0")
        #expect(MetricsResponse.number(12.3456) == "12.346")
        #expect(MetricsResponse.number(.nan) == "0")
    }
}
