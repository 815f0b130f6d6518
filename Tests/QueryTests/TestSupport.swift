import Foundation
import Logging
import Rollups
import Store
import TestSupport
import Time
@testable import Query

struct SeedEvent: Sendable {
    var name: String
    var channel: String
    var user: String
    /// Microseconds since the Unix epoch.
    var micros: Int64

    init(_ name: String, _ channel: String, _ user: String, _ time: String) {
        self.name = name
        self.channel = channel
        self.user = user
        self.micros = UTCTime.parseRFC3339(time)!
    }

    init(name: String, channel: String, user: String, micros: Int64) {
        self.name = name
        self.channel = channel
        self.user = user
        self.micros = micros
    }
}

let quietLogger = Logger(label: "query-tests", factory: { _ in SwiftLogNoOpLogHandler() })

/// Writes events straight into a migrated database: binary COPY into a staging table, then the users
/// dictionary and `events`, and their rollups (rebuilt for the days they touch), as the replayer would.
func seed(_ events: [SeedEvent], url: String) async throws {
    try await offload { try seedBlocking(events, url: url) }
}

private func seedBlocking(_ events: [SeedEvent], url: String) throws {
    let connection = try PostgresConnection(url: url)
    defer { connection.close() }
    try connection.transaction { tx in
        try tx.executeScript("CREATE TEMP TABLE seed (name text, channel text, user_id text, ts timestamptz) ON COMMIT DROP")
        var writer = CopyBinaryWriter()
        for event in events {
            writer.beginRow(fieldCount: 4)
            writer.text(event.name)
            writer.text(event.channel)
            writer.text(event.user)
            writer.timestamp(unixMicros: event.micros)
        }
        try tx.copyIn("COPY seed FROM STDIN (FORMAT binary)", writer.finish())
        try tx.executeScript("""
            INSERT INTO users (user_id) SELECT DISTINCT user_id FROM seed ON CONFLICT (user_id) DO NOTHING;
            INSERT INTO events (idempotency_key, event_name, channel, user_id, uid, ts, received_at, node_id)
            SELECT gen_random_uuid(), s.name, s.channel, s.user_id, u.uid, s.ts, now(), 'test'
            FROM seed s JOIN users u USING (user_id);
            """)
    }
    guard let first = events.map(\.micros).min(), let last = events.map(\.micros).max() else { return }
    _ = try RollupRebuilder.rebuild(fromMicros: first, toMicros: last + 1, on: connection)
}

func makeService(url: String, statementTimeoutMilliseconds: Int? = nil, nowMicros: Int64 = UTCTime.parseRFC3339("2025-12-15T12:00:00Z")!) -> MetricsService {
    let pool = PostgresPool(url: url, size: 2, statementTimeoutMilliseconds: statementTimeoutMilliseconds, connectTimeoutSeconds: 10, logger: quietLogger)
    return MetricsService(
        pool: pool, logger: quietLogger,
        freshness: { MetricsFreshness(replayLagSeconds: 1.5, asOfMicros: UTCTime.parseRFC3339("2025-12-15T11:59:58.5Z")!) },
        now: { nowMicros })
}

func params(_ pairs: [String: String]) -> [(key: String, value: String)] {
    pairs.map { (key: $0.key, value: $0.value) }
}
