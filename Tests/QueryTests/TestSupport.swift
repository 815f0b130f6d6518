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
    /// The event's `campaign_id` (nil: none).
    var campaign: String?

    init(_ name: String, _ channel: String, _ user: String, _ time: String, campaign: String? = nil) {
        self.name = name
        self.channel = channel
        self.user = user
        self.micros = UTCTime.parseRFC3339(time)!
        self.campaign = campaign
    }

    init(name: String, channel: String, user: String, micros: Int64, campaign: String? = nil) {
        self.name = name
        self.channel = channel
        self.user = user
        self.micros = micros
        self.campaign = campaign
    }
}

let quietLogger = Logger(label: "query-tests", factory: { _ in SwiftLogNoOpLogHandler() })

/// Writes events straight into a migrated database, and their rollups (rebuilt for the days they
/// touch), as the replayer would.
func seed(_ events: [SeedEvent], url: String) async throws {
    try await offload {
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        try connection.transaction { tx in _ = try insertEvents(events, nodeID: "test", on: tx) }
        guard let first = events.map(\.micros).min(), let last = events.map(\.micros).max() else { return }
        _ = try RollupRebuilder.rebuild(fromMicros: first, toMicros: last + 1, on: connection)
    }
}

/// Inserts events and merges their rollups in one transaction, as the replayer does (not the
/// rebuild that ``seed(_:url:)`` uses): the path late events take.
func seedMerging(_ events: [SeedEvent], url: String) async throws {
    try await offload {
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        try connection.transaction { tx in
            let ids = try insertEvents(events, nodeID: "late", on: tx)
            var deltas = RollupDeltas()
            try RawRollupSource.fold(ids: ids, into: &deltas, on: tx)
            try RollupWriter.merge(deltas, on: tx)
        }
    }
}

/// Binary COPY into a staging table, then the users dictionary and `events`; returns the ids of the
/// new rows.
private func insertEvents(_ events: [SeedEvent], nodeID: String, on tx: PostgresConnection) throws -> ClosedRange<Int64> {
    let before = try tx.execute("SELECT coalesce(max(id), 0) FROM events").int64(0, 0)!
    try tx.executeScript("CREATE TEMP TABLE seed (name text, channel text, user_id text, ts timestamptz, campaign text) ON COMMIT DROP")
    var writer = CopyBinaryWriter()
    for event in events {
        writer.beginRow(fieldCount: 5)
        writer.text(event.name)
        writer.text(event.channel)
        writer.text(event.user)
        writer.timestamp(unixMicros: event.micros)
        writer.text(event.campaign)
    }
    try tx.copyIn("COPY seed FROM STDIN (FORMAT binary)", writer.finish())
    try tx.execute("""
        INSERT INTO users (user_id) SELECT DISTINCT user_id FROM seed ON CONFLICT (user_id) DO NOTHING
        """)
    try tx.execute("""
        INSERT INTO events (idempotency_key, event_name, channel, campaign_id, user_id, uid, ts, received_at, node_id)
        SELECT gen_random_uuid(), s.name, s.channel, s.campaign, s.user_id, u.uid, s.ts, now(), $1
        FROM seed s JOIN users u USING (user_id)
        """, [nodeID])
    let after = try tx.execute("SELECT coalesce(max(id), 0) FROM events").int64(0, 0)!
    return (before + 1)...max(before + 1, after)
}

/// A migrated scratch database seeded with `events` (then changed by `prepare`, when given), a metrics
/// service over it, and a pool of its own for ``MetricsOracle`` (its threads may block); both pools
/// are shut down afterwards, also when `body` throws.
func withSeededService(
    _ events: [SeedEvent], prepare: (@Sendable (PostgresConnection) throws -> Void)? = nil,
    _ body: (MetricsService, PostgresPool, ScratchDatabase) async throws -> Void
) async throws {
    try await ScratchDatabase.with(prefix: "query_test", migrate: true) { database in
        try await seed(events, url: database.url)
        if let prepare { try await database.withConnection(prepare) }
        let service = makeService(url: database.url)
        let check = PostgresPool(url: database.url, size: 1, logger: quietLogger)
        do {
            try await body(service, check, database)
        } catch {
            await check.shutdown()
            await service.pool.shutdown()
            throw error
        }
        await check.shutdown()
        await service.pool.shutdown()
    }
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
