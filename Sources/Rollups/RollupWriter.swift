import Bitmaps
import Store

/// Writes rollup rows inside the caller's transaction.
///
/// ``merge(_:on:)`` adds new events to whatever the tables hold. Per table, in chunks of keys in
/// ``RollupKey`` order:
/// 1. `INSERT … ON CONFLICT DO NOTHING RETURNING` the keys: a row that did not exist is created with
///    the deltas as its whole content and is done;
/// 2. `SELECT … FOR UPDATE` the other rows, in key order, and OR the new users into their bitmaps;
/// 3. one `UPDATE … FROM unnest(…)` writes back total, uniques and users.
///
/// Every writer (each node's replayer, the seed) takes rows in the same order, hourly table first,
/// so two transactions never wait for each other in a cycle; a row locked in step 2 cannot change
/// before step 3. Since the caller commits the rows, the raw events and its checkpoint together, a
/// crash never leaves events counted twice or not at all.
///
/// The merge statements are prepared once per connection: planning the `unnest` statements cost
/// several milliseconds per replay batch, a few per cent of the replayer's rate.
public enum RollupWriter {
    /// Keys per statement: big enough that a replay batch (a few dozen keys) is one chunk, small
    /// enough to bound the statement size when the seed merges thousands of rows.
    public static let chunkSize = 500

    /// Adds `deltas` to the rollup tables. Call inside a transaction.
    public static func merge(_ deltas: RollupDeltas, on connection: PostgresConnection) throws {
        guard !deltas.isEmpty else { return }
        for table in RollupTable.allCases {
            let rows = deltas.rows(for: table)
            var start = 0
            while start < rows.count {
                let end = min(start + chunkSize, rows.count)
                try merge(rows[start..<end], into: table, on: connection)
                start = end
            }
        }
    }

    /// Inserts rows that do not exist yet (the rebuild deletes a range first). Call inside a
    /// transaction.
    public static func insert(_ rows: [RollupRow], into table: RollupTable, on connection: PostgresConnection) throws {
        var start = 0
        while start < rows.count {
            let end = min(start + chunkSize, rows.count)
            let chunk = rows[start..<end].map { Stored(key: $0.key, total: $0.total, users: $0.users) }
            try connection.execute(
                "INSERT INTO \(table.name) (event_name, \(table.bucketColumn), channel, total, uniques, users) \(unnestRows)",
                parameters: rowParameters(chunk))
            start = end
        }
    }

    // MARK: - Statements

    /// The six row parameters as a row source, in their order.
    private static let unnestRows = """
        SELECT e, b, c, t, u, bits FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::int8[], $5::int4[], $6::bytea[])
            WITH ORDINALITY AS d(e, b, c, t, u, bits, ord)
        ORDER BY ord
        """

    private static func insertNew(_ table: RollupTable) -> String {
        """
        INSERT INTO \(table.name) (event_name, \(table.bucketColumn), channel, total, uniques, users)
        \(unnestRows)
        ON CONFLICT DO NOTHING
        RETURNING event_name, extract(epoch FROM \(table.bucketColumn))::int8, channel
        """
    }

    private static func lockExisting(_ table: RollupTable) -> String {
        """
        SELECT k.ord, r.total, r.users
        FROM unnest($1::text[], $2::timestamptz[], $3::text[]) WITH ORDINALITY AS k(e, b, c, ord)
        JOIN \(table.name) r ON r.event_name = k.e AND r.\(table.bucketColumn) = k.b AND r.channel = k.c
        ORDER BY k.ord
        FOR UPDATE OF r
        """
    }

    private static func update(_ table: RollupTable) -> String {
        """
        UPDATE \(table.name) r SET total = d.t, uniques = d.u, users = d.bits
        FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::int8[], $5::int4[], $6::bytea[]) AS d(e, b, c, t, u, bits)
        WHERE r.event_name = d.e AND r.\(table.bucketColumn) = d.b AND r.channel = d.c
        """
    }

    // MARK: - Merge

    private struct Stored {
        var key: RollupKey
        var total: Int64
        var users: RoaringBitmap
    }

    private static func merge(_ rows: ArraySlice<RollupRow>, into table: RollupTable, on connection: PostgresConnection) throws {
        // 1. Create missing rows with the deltas as their content.
        let fresh = rows.map { Stored(key: $0.key, total: $0.total, users: $0.users) }
        let created = try connection.executePrepared(insertNew(table), parameters: rowParameters(fresh), resultFormat: .binary)
        var createdKeys = Set<RollupKey>()
        for row in 0..<created.rowCount {
            guard let name = created.string(row, 0), let bucket = created.int64(row, 1), let channel = created.string(row, 2) else { continue }
            createdKeys.insert(RollupKey(eventName: name, bucket: bucket, channel: channel))
        }
        let existing = rows.filter { !createdKeys.contains($0.key) }
        guard !existing.isEmpty else { return }

        // 2. Lock the rows that were there, in key order, and add the new users to them.
        let locked = try connection.executePrepared(lockExisting(table), parameters: keyParameters(existing.map(\.key)), resultFormat: .binary)
        guard locked.rowCount == existing.count else {
            throw RollupError("\(table.name): expected to lock \(existing.count) rows, found \(locked.rowCount)")
        }
        var merged: [Stored] = []
        merged.reserveCapacity(existing.count)
        for row in 0..<locked.rowCount {
            guard let ordinal = locked.int64(row, 0), let total = locked.int64(row, 1), let bytes = locked.bytes(row, 2) else {
                throw RollupError("\(table.name): unexpected NULL in a locked row")
            }
            let delta = existing[Int(ordinal) - 1]
            let users: RoaringBitmap
            do {
                users = try RoaringBitmap(portable: bytes)
            } catch {
                throw RollupError("\(table.name) \(delta.key): the stored users bitmap is unreadable (\(error)); run `rollups rebuild`")
            }
            users.formUnion(delta.users)
            merged.append(Stored(key: delta.key, total: total + delta.total, users: users))
        }

        // 3. Write them back.
        try connection.executePrepared(update(table), parameters: rowParameters(merged))
    }

    // MARK: - Parameters

    private static func keyParameters(_ keys: [RollupKey]) -> [PostgresParameter] {
        [
            PostgresBinaryArray.text(keys.map(\.eventName)),
            PostgresBinaryArray.timestamptz(seconds: keys.map(\.bucket)),
            PostgresBinaryArray.text(keys.map(\.channel)),
        ]
    }

    /// Key, total, uniques and serialized users of each row (run-optimized first: dense user ranges
    /// become runs, which is most of a busy hour's bitmap).
    private static func rowParameters(_ rows: [Stored]) -> [PostgresParameter] {
        keyParameters(rows.map(\.key)) + [
            PostgresBinaryArray.int8(rows.map(\.total)),
            PostgresBinaryArray.int4(rows.map { Int32(clamping: $0.users.cardinality) }),
            PostgresBinaryArray.bytea(rows.map { row in
                row.users.runOptimize()
                return row.users.portableSerialized()
            }),
        ]
    }
}

/// A rollup table holds something this code cannot use, or a statement did not do what it must.
public struct RollupError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
