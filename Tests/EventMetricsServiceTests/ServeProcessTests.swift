import AsyncHTTPClient
import Foundation
import NIOCore
import Store
import TestSupport
import Testing

/// The real binary, end to end: API keys on both scopes, traffic while PostgreSQL is missing and
/// after it appears, the admin scrape, the dashboard, JSON logs with a line per state change, and a
/// SIGTERM that drains and exits 0.
@Suite("serve (process)")
struct ServeProcessTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test(.timeLimit(.minutes(2)))
    func trafficShowsOnTheAdminScrapeAndSIGTERMExitsZero() async throws {
        // The service starts before its database exists: "PostgreSQL lost", then "back".
        let database = ScratchDatabaseName(prefix: "serve")
        defer { database.drop() }
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("serve-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }

        let port = try ChildProcess.freePort()
        let adminPort = try ChildProcess.freePort()
        var environment = ProcessInfo.processInfo.environment
        environment["INGEST_API_KEYS"] = "ingest-secret-1,ingest-secret-2"
        environment["QUERY_API_KEYS"] = "query-secret"
        let service = try ServiceProcess(
            arguments: [
                "serve", "--port", "\(port)", "--admin-port", "\(adminPort)", "--wal-dir", work + "/wal",
                "--database-url", database.url, "--node-id", "serve-test", "--log-format", "json",
                "--wal-segment-bytes", "20000",
            ],
            environment: environment,
            logPath: work + "/service.log"
        )
        let api = "http://127.0.0.1:\(port)"
        let http = HTTPClient.shared
        do {
            try await Self.waitUntilUp(http, api + "/health", service: service)

            // Ingest: refused without a key, accepted with one (the whole sample file, plus one bad event).
            let sample = try Data(contentsOf: Self.root.appendingPathComponent("data/sample-events.ndjson"))
            #expect(try await Self.send(http, "POST", api + "/events/bulk", body: sample).status == 401)
            let bulk = try await Self.send(http, "POST", api + "/events/bulk", key: "ingest-secret-2", body: sample, contentType: "application/x-ndjson")
            #expect(bulk.status == 202)
            #expect(bulk.body.contains(#""accepted":300"#))
            #expect(try await Self.send(http, "POST", api + "/events", key: "ingest-secret-1", body: Data(#"{"event_name":"x"}"#.utf8)).status == 400)
            // The same events again, in a second batch that does not fit the first 20 kB segment.
            #expect(try await Self.send(http, "POST", api + "/events/bulk", key: "ingest-secret-1", body: sample, contentType: "application/x-ndjson").status == 202)

            // No database yet: /ready (open) says not ready, metrics answer 503.
            #expect(try await Self.send(http, "GET", api + "/ready").status == 503)
            let unavailable = api + "/metrics?event_name=product_view&group_by=day"
            #expect(try await Self.send(http, "GET", unavailable, key: "query-secret").status == 503)

            // The database appears: the replayer applies the schema and drains the WAL.
            try database.create()
            try await Self.waitForReplay(http, api + "/ready", inserted: 300)

            // Metrics: refused without the query key, answered with it (the ingest key is not enough).
            let query = api + "/metrics?event_name=product_view&from=2025-11-24T00:00:00Z&to=2025-12-02T00:00:00Z&group_by=day"
            #expect(try await Self.send(http, "GET", query, key: "ingest-secret-1").status == 401)
            let metrics = try await Self.send(http, "GET", query, key: "query-secret")
            #expect(metrics.status == 200)
            #expect(metrics.body.contains(#""total_count":174"#))

            // The dashboard and the contract stay open.
            let page = try await Self.send(http, "GET", api + "/")
            #expect(page.status == 200)
            #expect(page.body.contains("<svg") || page.body.contains("createElementNS"))
            #expect(try await Self.send(http, "GET", api + "/openapi.yaml").status == 200)

            // The admin scrape names everything the issue asks for.
            let scrape = try await Self.send(http, "GET", "http://127.0.0.1:\(adminPort)/metrics")
            #expect(scrape.status == 200)
            for name in [
                #"ingest_requests_total{route="events_bulk",outcome="accepted"} 2"#,
                #"ingest_requests_total{route="events",outcome="rejected"} 1"#,
                #"ingest_events_total{outcome="accepted"} 600"#,
                #"ingest_events_total{outcome="rejected"} 1"#,
                #"api_requests_denied_total{scope="ingest",reason="unauthorized"} 1"#,
                #"api_requests_denied_total{scope="query",reason="unauthorized"} 1"#,
                "wal_group_commit_records_bucket", "wal_group_commit_bytes_bucket", "wal_fdatasync_seconds_bucket",
                "wal_bytes ", "wal_segments 1", "wal_unreplayed_bytes 0", "wal_writable 1",
                "replay_lag_seconds 0", "replay_events_inserted_total 300", "replay_events_duplicate_total 300",
                "replay_postgres_reachable 1", #"postgres_errors_total{component="query"} 1"#,
                #"metrics_query_duration_seconds_count{group_by="day"} 1"#,
            ] {
                #expect(scrape.body.contains(name), "admin /metrics lacks \(name)")
            }
            #expect(!scrape.body.contains(#"postgres_errors_total{component="replay"} 0"#))
            #expect(scrape.body.contains("# TYPE wal_fdatasync_seconds histogram"))

            // SIGTERM: a graceful stop, exit status 0.
            service.signal(SIGTERM)
            let status = try await service.waitForExit(timeout: .seconds(30))
            #expect(status == 0, "exit status \(String(describing: status)); log:\n\(service.log)")
        } catch {
            await service.kill()
            Issue.record("log:\n\(service.log)")
            throw error
        }

        // One JSON object per line; a line per state change; never a key, never a line per request.
        let lines = service.log.split(separator: "\n").map(String.init)
        for line in lines {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "not JSON: \(line)")
            #expect(!line.contains("secret"), "a key was logged: \(line)")
        }
        let messages = lines.compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["msg"] as? String
        }
        for expected in [
            "WAL recovered", "WAL segment rotated", "replay paused; events wait in the WAL, retrying with backoff",
            "PostgreSQL reachable; replaying from checkpoint", "replay caught up",
            "graceful shutdown: refusing new connections; finishing in-flight requests, the last group commit and the last replay transaction",
            "WAL closed", "stopped",
        ] {
            #expect(messages.contains(expected), "no \"\(expected)\" line in \(messages)")
        }
        #expect(lines.count < 40, "too many lines for a handful of requests:\n\(lines.joined(separator: "\n"))")
    }

    struct Answer {
        var status: Int
        var body: String
    }

    static func send(
        _ http: HTTPClient, _ method: String, _ url: String, key: String? = nil, body: Data? = nil,
        contentType: String = "application/json"
    ) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = .RAW(value: method)
        if let key { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await http.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        return Answer(status: Int(response.status.code), body: String(buffer: bytes))
    }

    static func waitUntilUp(_ http: HTTPClient, _ url: String, service: ServiceProcess) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let status = try await service.waitForExit(timeout: .zero) {
                throw Failure("the service exited with \(status) before answering")
            }
            if let answer = try? await send(http, "GET", url), answer.status == 200 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw Failure("the service did not answer \(url) within 30 s")
    }

    static func waitForReplay(_ http: HTTPClient, _ url: String, inserted: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let answer = try? await send(http, "GET", url), answer.status == 200, answer.body.contains(#""inserted_events":\#(inserted),"#),
               answer.body.contains(#""unreplayed_records":0"#) {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw Failure("replay did not reach \(inserted) inserted events within 30 s")
    }
}

/// A database name on the test server that exists only once ``create()`` is called, so the service
/// can be started while its PostgreSQL database is still missing.
struct ScratchDatabaseName {
    let name: String
    let adminURL = ScratchDatabase.defaultURL
    var url: String { ScratchDatabase.databaseURL(adminURL, name: name) }

    init(prefix: String) {
        name = prefix + "_" + String((0..<12).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789".randomElement()! })
    }

    func create() throws {
        let admin = try PostgresConnection(url: adminURL, applicationName: "serve-test")
        defer { admin.close() }
        _ = try admin.executeScript("CREATE DATABASE \(PostgresConnection.quoteIdentifier(name))")
    }

    func drop() {
        guard let admin = try? PostgresConnection(url: adminURL, applicationName: "serve-test") else { return }
        defer { admin.close() }
        _ = try? admin.executeScript("DROP DATABASE IF EXISTS \(PostgresConnection.quoteIdentifier(name)) WITH (FORCE)")
    }
}
