import Foundation
import Store
@testable import Rollups
import TestSupport

/// A raw event for tests: name, channel, uid and time in Unix microseconds.
struct RawEvent: Sendable {
    var name: String
    var channel: String
    var uid: Int32
    var micros: Int64
}

/// A migrated scratch database holding `events` with their rollups (stored as ``insertAndMerge(_:batchSize:on:)``
/// stores them), and a connection to it, for one test.
func withDatabase(
    merging events: [RawEvent] = [], batchSize: Int? = nil, _ body: @escaping @Sendable (ScratchDatabase, PostgresConnection) throws -> Void
) async throws {
    try await ScratchDatabase.with(prefix: "rollups_test", migrate: true) { database in
        try await database.withConnection { connection in
            try insertAndMerge(events, batchSize: batchSize, on: connection)
            try body(database, connection)
        }
    }
}

/// Folds `events` the way the replayer does (grouped by name, channel and hour).
func deltas(_ events: [RawEvent]) -> RollupDeltas {
    var groups: [String: (RawEvent, Int64, [UInt32])] = [:]
    for event in events {
        let hour = RollupTable.hourly.bucket(containing: event.micros / 1_000_000)
        let key = "\(event.name)\u{0}\(event.channel)\u{0}\(hour)"
        groups[key, default: (event, 0, [])].1 += 1
        groups[key]!.2.append(UInt32(bitPattern: event.uid))
    }
    var deltas = RollupDeltas()
    for (event, count, uids) in groups.values {
        deltas.add(eventName: event.name, channel: event.channel, campaign: nil, hourStart: event.micros / 1_000_000, count: count, uids: uids)
    }
    return deltas
}

/// Stores `events` as the replayer does: each batch of `batchSize` (all of them by default) in one
/// transaction that inserts the rows and merges their rollup deltas.
func insertAndMerge(_ events: [RawEvent], batchSize: Int? = nil, on connection: PostgresConnection) throws {
    let size = max(batchSize ?? events.count, 1)
    for start in stride(from: 0, to: events.count, by: size) {
        let batch = Array(events[start..<min(start + size, events.count)])
        try connection.transaction { connection in
            try insertRaw(batch, on: connection)
            try RollupWriter.merge(deltas(batch), on: connection)
        }
    }
}

/// Writers at once, one per share, each on its own connection storing its share in batches: the
/// replayers of several nodes merging into the same rollup rows.
func insertAndMergeConcurrently(_ shares: [[RawEvent]], batchSize: Int, into database: ScratchDatabase) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for share in shares {
            group.addTask {
                try await database.withConnection { connection in try insertAndMerge(share, batchSize: batchSize, on: connection) }
            }
        }
        try await group.waitForAll()
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
