import Store

/// What a seed run loaded, for the steps that follow the rows (index builds, and rollups once they
/// exist: they can aggregate just the rows with `id BETWEEN idRange.lowerBound AND idRange.upperBound`).
struct SeedLoadInfo: Sendable {
    var rows: Int
    var window: SeedTimeWindow
    /// The `events.id` values the load took from the identity sequence. With the indexes dropped the
    /// table is locked for the whole load, so no other writer's rows fall inside the range.
    var idRange: ClosedRange<Int64>?
    var droppedIndexes: [SeedRebuiltIndex]
}

/// A step run inside the load's transaction after the rows are in. The load commits only when every
/// step succeeded, so the data set is never half built. To fill new tables (the rollups), append a
/// step to ``SeedSteps/afterLoad(_:on:)``.
struct SeedStep {
    var title: String
    var why: String?
    var run: (PostgresConnection, SeedLoadInfo) throws -> Void
}

/// An index on `events` that the seed drops before the load and rebuilds after it: the primary key,
/// the UNIQUE key constraint and plain indexes such as `events_name_ts`.
///
/// Building an index once by sorting is far cheaper than updating it for every row, above all the
/// unique index on random uuid keys, where each row lands on a random page (measured here: COPY runs
/// ~2.3× faster without it). Rebuilding the constraint with ALTER TABLE re-checks uniqueness, so the
/// guarantee holds for the loaded rows too. Definitions are read from the catalog, so the seed rebuilds
/// whatever the migrations created rather than a copy that could drift. Indexes that a foreign key
/// depends on are left alone.
struct SeedRebuiltIndex: Sendable {
    var name: String
    /// The owning constraint (PRIMARY KEY or UNIQUE), or nil for a plain index.
    var constraint: String?
    /// `pg_get_constraintdef` for a constraint, `pg_get_indexdef` for a plain index.
    var definition: String

    static func list(_ connection: PostgresConnection) throws -> [SeedRebuiltIndex] {
        let result = try connection.execute("""
            SELECT c.relname, k.conname,
                   CASE WHEN k.oid IS NULL THEN pg_get_indexdef(x.indexrelid) ELSE pg_get_constraintdef(k.oid) END
            FROM pg_index x
            JOIN pg_class c ON c.oid = x.indexrelid
            LEFT JOIN pg_constraint k ON k.conindid = x.indexrelid AND k.conrelid = x.indrelid AND k.contype IN ('p', 'u')
            WHERE x.indrelid = 'events'::regclass
              AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = x.indexrelid)
              AND (k.oid IS NOT NULL OR NOT EXISTS (SELECT 1 FROM pg_constraint o WHERE o.conindid = x.indexrelid))
            ORDER BY k.oid IS NULL, c.relname
            """)
        return (0..<result.rowCount).compactMap { row in
            guard let name = result.string(row, 0), let definition = result.string(row, 2) else { return nil }
            return SeedRebuiltIndex(name: name, constraint: result.string(row, 1), definition: definition)
        }
    }

    func drop(_ connection: PostgresConnection) throws {
        if let constraint {
            try connection.executeScript("ALTER TABLE events DROP CONSTRAINT \(PostgresConnection.quoteIdentifier(constraint))")
        } else {
            try connection.executeScript("DROP INDEX \(PostgresConnection.quoteIdentifier(name))")
        }
    }

    func create(_ connection: PostgresConnection) throws {
        if let constraint {
            try connection.executeScript("ALTER TABLE events ADD CONSTRAINT \(PostgresConnection.quoteIdentifier(constraint)) \(definition)")
        } else {
            try connection.executeScript(definition)
        }
    }
}

enum SeedSteps {
    /// The last `events.id` handed out (0 before the first). Read from the identity sequence, because
    /// `max(id)` would scan the whole table while the primary key is dropped.
    static func lastEventID(_ connection: PostgresConnection) throws -> Int64 {
        try connection.execute("SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('events', 'id')), 0)").int64(0, 0) ?? 0
    }

    /// Ensures `user_0 … user_{count-1}` exist and returns the uid of each (index N → uid of user_N).
    ///
    /// On an empty table uid = N + 1, so the mapping is known up front; a table that already holds
    /// other users (the replayer adds them as they come) keeps its uids, and any name whose natural
    /// uid is taken gets a fresh one. The identity sequence is moved past the explicit uids, or the
    /// replayer's next new user would collide with them.
    static func ensureUsers(_ connection: PostgresConnection, count: Int) throws -> [Int32] {
        try connection.transaction { connection in
            try connection.execute("""
                INSERT INTO users (uid, user_id)
                SELECT n + 1, 'user_' || n FROM generate_series(0, $1::int - 1) n
                ON CONFLICT DO NOTHING
                """, [String(count)])
            try connection.execute("""
                SELECT setval(s.name, m.max_uid)
                FROM (SELECT pg_get_serial_sequence('users', 'uid') AS name) s, (SELECT max(uid) AS max_uid FROM users) m
                WHERE m.max_uid > coalesce(
                    (SELECT last_value FROM pg_sequences WHERE format('%I.%I', schemaname, sequencename) = s.name), 0)
                """)
            try connection.execute("""
                INSERT INTO users (user_id)
                SELECT 'user_' || n FROM generate_series(0, $1::int - 1) n
                WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.user_id = 'user_' || n)
                ORDER BY n
                ON CONFLICT (user_id) DO NOTHING
                """, [String(count)])
        }
        let result = try connection.execute("""
            SELECT substr(user_id, 6)::int, uid FROM users
            WHERE CASE WHEN user_id ~ '^user_(0|[1-9][0-9]{0,8})$' THEN substr(user_id, 6)::bigint < $1 ELSE false END
            """, [String(count)])
        var uids = [Int32](repeating: 0, count: count)
        for row in 0..<result.rowCount {
            guard let n = result.int(row, 0), let uid = result.int(row, 1) else { continue }
            uids[n] = Int32(uid)
        }
        if let missing = uids.firstIndex(of: 0) {
            throw SeedError("users: user_\(missing) has no uid after inserting it")
        }
        return uids
    }

    /// Steps inside the load's transaction, after the rows: rebuild the dropped indexes first (later
    /// steps read through them), then add the rows to the rollups.
    static func afterLoad(_ info: SeedLoadInfo, on connection: PostgresConnection) throws -> [SeedStep] {
        var steps = info.droppedIndexes.map { index in
            SeedStep(
                title: index.constraint.map { "adding constraint \($0) (\(index.definition))" } ?? "creating index \(index.name)",
                why: "one sorted build instead of an update per loaded row",
                run: { connection, _ in try index.create(connection) })
        }
        // The loaded rows go into the rollups too (SeedRollups.swift).
        if let rollups = try SeedRollups.step(on: connection) { steps.append(rollups) }
        return steps
    }

    /// After the commit. VACUUM sets the visibility map, without which the metrics queries' index-only
    /// scans would visit the heap for every row; ANALYZE gives the planner the new row counts.
    static func maintenance(skipVacuum: Bool) -> [SeedStep] {
        [
            SeedStep(
                title: skipVacuum ? "ANALYZE events, users" : "VACUUM (ANALYZE) events, ANALYZE users",
                why: skipVacuum ? "fresh statistics for the planner" : "visibility map for index-only scans, fresh statistics",
                run: { connection, _ in
                    try connection.executeScript(skipVacuum ? "ANALYZE events" : "VACUUM (ANALYZE) events")
                    try connection.executeScript("ANALYZE users")
                }),
        ]
    }
}

struct SeedError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
