import Store

/// The database side of `bench check`: the acknowledged keys in temporary tables, compared with
/// `events` in SQL rather than fetched row by row.
///
/// `check_acked` holds every acknowledged key for the final count; `check_pending` starts as a copy
/// and loses the keys found at each poll, so later polls only look up what is still missing. Temp
/// tables die with the connection: after PostgreSQL restarts (the crash suite stops it on purpose)
/// the session reconnects and loads the keys again.
final class CheckSession {
    struct Totals {
        /// Acknowledged keys with at least one row.
        var found: Int
        /// Acknowledged keys with more than one row (impossible under the UNIQUE constraint; checked anyway).
        var duplicated: Int
        /// Rows beyond the first, over all duplicated keys.
        var extraRows: Int
    }

    private let url: String
    private let keys: [[UInt8]]
    private var connection: PostgresConnection?

    init(url: String, keys: [[UInt8]]) {
        self.url = url
        self.keys = keys
    }

    deinit { connection?.close() }

    /// Looks up the keys still pending and returns how many remain missing.
    func missingCount() throws -> Int {
        try withConnection { connection in
            try connection.execute("DELETE FROM check_pending p USING events e WHERE e.idempotency_key = p.k")
            return try connection.execute("SELECT count(*) FROM check_pending").int(0, 0) ?? 0
        }
    }

    /// Counts per acknowledged key, with a GROUP BY so a duplicate would show however it came about.
    func totals() throws -> Totals {
        try withConnection { connection in
            let result = try connection.execute("""
                SELECT count(*), count(*) FILTER (WHERE n > 1), coalesce(sum(n - 1), 0)
                FROM (SELECT a.k, count(*) AS n FROM check_acked a JOIN events e ON e.idempotency_key = a.k GROUP BY a.k) per_key
                """)
            return Totals(found: result.int(0, 0) ?? 0, duplicated: result.int(0, 1) ?? 0, extraRows: result.int(0, 2) ?? 0)
        }
    }

    /// Up to `limit` missing keys as uuid text, for the report.
    func missingSample(limit: Int) throws -> [String] {
        try withConnection { connection in
            let result = try connection.execute("SELECT k::text FROM check_pending ORDER BY k LIMIT $1", [String(limit)])
            return (0..<result.rowCount).compactMap { result.string($0, 0) }
        }
    }

    /// Runs `body` on a live connection, (re)connecting and reloading the keys first when needed; a
    /// failure drops the connection so the next call starts afresh.
    private func withConnection<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        do {
            let connection = try self.connection ?? connect()
            self.connection = connection
            return try body(connection)
        } catch {
            connection?.close()
            connection = nil
            throw error
        }
    }

    private func connect() throws -> PostgresConnection {
        let connection = try PostgresConnection(url: url, applicationName: "bench check")
        try connection.executeScript("""
            CREATE TEMP TABLE check_acked (k uuid PRIMARY KEY);
            CREATE TEMP TABLE check_pending (k uuid PRIMARY KEY)
            """)
        var writer = CopyBinaryWriter(reservingCapacity: keys.count * 22 + 32)
        for key in keys {
            writer.beginRow(fieldCount: 1)
            writer.uuid(key)
        }
        try connection.copyIn("COPY check_acked (k) FROM STDIN (FORMAT binary)", writer.finish())
        try connection.executeScript("""
            INSERT INTO check_pending SELECT k FROM check_acked;
            ANALYZE check_acked;
            ANALYZE check_pending
            """)
        return connection
    }
}
