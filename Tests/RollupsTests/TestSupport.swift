import Foundation
import Store
import TestSupport

/// A raw event for tests: name, channel, uid and time in Unix microseconds.
struct RawEvent: Sendable {
    var name: String
    var channel: String
    var uid: Int32
    var micros: Int64
}

/// A migrated scratch database and a connection to it, for one test.
func withDatabase(_ body: @escaping @Sendable (ScratchDatabase, PostgresConnection) throws -> Void) async throws {
    try await ScratchDatabase.with(prefix: "rollups_test", migrate: true) { database in
        try await offload {
            let connection = try PostgresConnection(url: database.url)
            defer { connection.close() }
            try body(database, connection)
        }
    }
}

/// Inserts events straight into `events` (no rollups), as data that predates them would be.
func insertRaw(_ events: [RawEvent], on connection: PostgresConnection) throws {
    guard !events.isEmpty else { return }
    try connection.execute(
        """
        INSERT INTO events (idempotency_key, event_name, channel, user_id, uid, ts, received_at, node_id)
        SELECT gen_random_uuid(), n, c, 'user_' || u, u, t, now(), 'test'
        FROM unnest($1::text[], $2::text[], $3::int4[], $4::timestamptz[]) AS e(n, c, u, t)
        """,
        parameters: [
            PostgresBinaryArray.text(events.map(\.name)), PostgresBinaryArray.text(events.map(\.channel)),
            PostgresBinaryArray.int4(events.map(\.uid)), PostgresBinaryArray.timestamptz(unixMicros: events.map(\.micros)),
        ])
}

/// Random events over `days` days from `start` (Unix seconds), a few names, channels and users.
func randomEvents(count: Int, start: Int64, days: Int, names: [String] = ["view", "cart", "buy_é"], channels: [String] = ["web", "app", "móvil"], users: Int32 = 60) -> [RawEvent] {
    var generator = SystemRandomNumberGenerator()
    return (0..<count).map { _ in
        RawEvent(
            name: names.randomElement(using: &generator)!, channel: channels.randomElement(using: &generator)!,
            uid: Int32.random(in: 1...users, using: &generator),
            micros: start * 1_000_000 + Int64.random(in: 0..<(Int64(days) * 86_400_000_000), using: &generator))
    }
}
