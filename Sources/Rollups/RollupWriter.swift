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
/// Then the same for every coarser level of `rollup_blocks` (``RollupLevel``), level 1 first: a late
/// event updates every block that contains its day in the same transaction as its hour and day. Then
/// the campaign tables (`rollup_campaign_hourly`, `_daily`, `_blocks`) in the same order.
///
/// Every writer (each node's replayer, the seed) takes rows in the same order, hourly table first,
/// then daily, then the levels upwards, then the campaign tables in that order, each in ``RollupKey`` order, so two transactions never wait
/// for each other in a cycle; a row locked in step 2 cannot change before step 3. Each write gives
/// the row a new `version` from the `rollup_versions` sequence (what the query cache checks). Since the caller commits the rows, the raw events and its checkpoint together, a
/// crash never leaves events counted twice or not at all.
///
/// The merge statements are prepared once per connection: planning the `unnest` statements cost
/// several milliseconds per replay batch, a few per cent of the replayer's rate.
public enum RollupWriter {
    /// Keys per statement: big enough that a replay batch (a few dozen keys) is one chunk, small
    /// enough to bound the statement size when the seed merges thousands of rows.
    public static let chunkSize = 500

    /// Adds `deltas` to the rollup tables. Call inside a transaction. `campaigns`: the campaign
    /// tables too (the replayer's `--campaign-rollups`; without them the caller records the gap,
    /// ``RollupStatus/recordCampaignGap(on:)``).
    public static func merge(_ deltas: RollupDeltas, campaigns: Bool = true, on connection: PostgresConnection) throws {
        try merge(deltas, hourly: true, campaigns: campaigns, on: connection)
    }

    /// ``merge(_:on:)``, optionally without the hourly rows: for `bench metrics-scale`, which builds
    /// months of daily rows and blocks through this same code but keeps hourly rows (and raw events)
    /// only for the days its hour-grouped windows read. The service always writes every table.
    public static func merge(_ deltas: RollupDeltas, hourly: Bool, campaigns: Bool = true, on connection: PostgresConnection) throws {
        guard !deltas.isEmpty else { return }
        for campaign in campaigns ? [false, true] : [false] {
            for table in RollupTable.allCases where hourly || table != .hourly {
                let rows = campaign ? deltas.campaignRows(for: table) : deltas.rows(for: table)
                try merge(rows.map { Stored($0, level: 0) }, into: Target(table, campaign: campaign), on: connection)
            }
            // Every level in the same three statements (the level travels per row), in (level, key) order.
            let blocks = RollupLevel.all.flatMap { level in
                (campaign ? deltas.campaignRows(for: level) : deltas.rows(for: level)).map { Stored($0, level: level.level) }
            }
            try merge(blocks, into: .allLevels(campaign: campaign), on: connection)
        }
    }

    private static func merge(_ rows: [Stored], into target: Target, on connection: PostgresConnection) throws {
        var start = 0
        while start < rows.count {
            let end = min(start + chunkSize, rows.count)
            try merge(rows[start..<end], into: target, on: connection)
            start = end
        }
    }

    /// Inserts rows that do not exist yet (the rebuild deletes a range first). Call inside a
    /// transaction.
    /// `campaign`: into the table's campaign twin (`rollup_campaign_…`).
    public static func insert(_ rows: [RollupRow], into table: RollupTable, campaign: Bool = false, on connection: PostgresConnection) throws {
        try insert(rows, into: Target(table, campaign: campaign), on: connection)
    }

    /// Inserts blocks of `level` that do not exist yet. Call inside a transaction.
    public static func insert(_ rows: [RollupRow], into level: RollupLevel, campaign: Bool = false, on connection: PostgresConnection) throws {
        try insert(rows, into: Target(level, campaign: campaign), on: connection)
    }

    private static func insert(_ rows: [RollupRow], into table: Target, on connection: PostgresConnection) throws {
        var start = 0
        while start < rows.count {
            let end = min(start + chunkSize, rows.count)
            let chunk = rows[start..<end].map { Stored($0, level: table.level ?? 0) }
            try connection.execute(
                "INSERT INTO \(table.name) (\(table.insertColumns)) \(unnestRows(table))",
                parameters: rowParameters(chunk, table))
            start = end
        }
    }

    // MARK: - Statements

    /// A table the merge writes: `rollup_hourly`, `rollup_daily`, one level of `rollup_blocks` (a
    /// fixed literal in the statement: the rebuild's inserts), or every level at once, the level
    /// travelling per row as one more array parameter (the merge: three statements for all eight
    /// levels instead of three per level, which matters per replay batch). A campaign table has the
    /// campaign after the bucket, travelling as the last array parameter.
    private struct Target {
        var name: String
        var bucketColumn: String
        var level: Int?
        var perRowLevel = false
        var campaign = false

        init(_ table: RollupTable, campaign: Bool = false) {
            (name, bucketColumn, level, self.campaign) = (campaign ? table.campaignName : table.name, table.bucketColumn, nil, campaign)
        }

        init(_ level: RollupLevel, campaign: Bool = false) {
            (name, bucketColumn, self.level, self.campaign) = (RollupLevel.tableName(campaign: campaign), "start", level.level, campaign)
        }

        private init(allLevels campaign: Bool) {
            (name, bucketColumn, level, perRowLevel, self.campaign) = (RollupLevel.tableName(campaign: campaign), "start", nil, true, campaign)
        }

        static func allLevels(campaign: Bool) -> Target { Target(allLevels: campaign) }

        var isBlocks: Bool { level != nil || perRowLevel }

        var insertColumns: String {
            "event_name, \(isBlocks ? "level, " : "")\(bucketColumn), \(campaign ? "campaign, " : "")channel, total, uniques, users"
        }

        /// How alias `alias`'s rows match `r.level` (a literal, the per-row level, or nothing) and
        /// `r.campaign`.
        func extraCondition(_ alias: String) -> String {
            var condition = level.map { " AND r.level = \($0)" } ?? (perRowLevel ? " AND r.level = \(alias).l" : "")
            if campaign { condition += " AND r.campaign = \(alias).g" }
            return condition
        }

        /// The per-row level's and campaign's array parameters after `count` others, as `, $n::int8[]`.
        func extraArrays(after count: Int) -> String {
            var arrays = perRowLevel ? ", $\(count + 1)::int8[]" : ""
            if campaign { arrays += ", $\(count + (perRowLevel ? 2 : 1))::text[]" }
            return arrays
        }

        var extraAliases: String { (perRowLevel ? ", l" : "") + (campaign ? ", g" : "") }
    }

    /// The six row parameters as a row source, in their order (with the level after the name and the
    /// campaign after the bucket).
    private static func unnestRows(_ table: Target) -> String {
        let level = table.level.map { "\($0)::int2, " } ?? (table.perRowLevel ? "l::int2, " : "")
        return """
            SELECT e, \(level)b, \(table.campaign ? "g, " : "")c, t, u, bits
            FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::int8[], $5::int4[], $6::bytea[]\(table.extraArrays(after: 6)))
                WITH ORDINALITY AS d(e, b, c, t, u, bits\(table.extraAliases), ord)
            ORDER BY ord
            """
    }

    private static func insertNew(_ table: Target) -> String {
        """
        INSERT INTO \(table.name) (\(table.insertColumns))
        \(unnestRows(table))
        ON CONFLICT DO NOTHING
        RETURNING event_name, extract(epoch FROM \(table.bucketColumn))::int8, channel, \(table.isBlocks ? "level::int8" : "0::int8"), \(table.campaign ? "campaign" : "''")
        """
    }

    private static func lockExisting(_ table: Target) -> String {
        """
        SELECT k.ord, r.total, r.users
        FROM unnest($1::text[], $2::timestamptz[], $3::text[]\(table.extraArrays(after: 3))) WITH ORDINALITY AS k(e, b, c\(table.extraAliases), ord)
        JOIN \(table.name) r ON r.event_name = k.e\(table.extraCondition("k")) AND r.\(table.bucketColumn) = k.b AND r.channel = k.c
        ORDER BY k.ord
        FOR UPDATE OF r
        """
    }

    private static func update(_ table: Target) -> String {
        """
        UPDATE \(table.name) r SET total = d.t, uniques = d.u, users = d.bits, version = nextval('rollup_versions')
        FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::int8[], $5::int4[], $6::bytea[]\(table.extraArrays(after: 6)))
            AS d(e, b, c, t, u, bits\(table.extraAliases))
        WHERE r.event_name = d.e\(table.extraCondition("d")) AND r.\(table.bucketColumn) = d.b AND r.channel = d.c
        """
    }

    // MARK: - Merge

    /// A row to write; `level` is 0 outside `rollup_blocks`.
    private struct Stored {
        var key: RollupKey
        var level: Int
        var total: Int64
        var users: RoaringBitmap

        init(key: RollupKey, level: Int, total: Int64, users: RoaringBitmap) {
            (self.key, self.level, self.total, self.users) = (key, level, total, users)
        }

        init(_ row: RollupRow, level: Int) {
            self.init(key: row.key, level: level, total: row.total, users: row.users)
        }

        var levelKey: LevelKey { LevelKey(level: level, key: key) }
    }

    private struct LevelKey: Hashable {
        var level: Int
        var key: RollupKey
    }

    private static func merge(_ rows: ArraySlice<Stored>, into table: Target, on connection: PostgresConnection) throws {
        // 1. Create missing rows with the deltas as their content.
        let created = try connection.executePrepared(insertNew(table), parameters: rowParameters(Array(rows), table), resultFormat: .binary)
        var createdKeys = Set<LevelKey>()
        for row in 0..<created.rowCount {
            guard let name = created.string(row, 0), let bucket = created.int64(row, 1), let channel = created.string(row, 2),
                  let level = created.int64(row, 3), let campaign = created.string(row, 4)
            else { continue }
            createdKeys.insert(LevelKey(level: Int(level), key: RollupKey(eventName: name, bucket: bucket, campaign: campaign, channel: channel)))
        }
        let existing = rows.filter { !createdKeys.contains($0.levelKey) }
        guard !existing.isEmpty else { return }

        // 2. Lock the rows that were there, in key order, and add the new users to them.
        let locked = try connection.executePrepared(lockExisting(table), parameters: keyParameters(existing, table), resultFormat: .binary)
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
            merged.append(Stored(key: delta.key, level: delta.level, total: total + delta.total, users: users))
        }

        // 3. Write them back.
        try connection.executePrepared(update(table), parameters: rowParameters(merged, table))
    }

    // MARK: - Parameters

    private static func keyParameters(_ rows: [Stored], _ table: Target) -> [PostgresParameter] {
        [
            PostgresBinaryArray.text(rows.map(\.key.eventName)),
            PostgresBinaryArray.timestamptz(seconds: rows.map(\.key.bucket)),
            PostgresBinaryArray.text(rows.map(\.key.channel)),
        ] + extraParameters(rows, table)
    }

    /// Key, total, uniques and serialized users of each row (run-optimized first: dense user ranges
    /// become runs, which is most of a busy hour's bitmap), then the levels when they travel per row.
    private static func rowParameters(_ rows: [Stored], _ table: Target) -> [PostgresParameter] {
        Array(keyParameters(rows, table).prefix(3)) + [
            PostgresBinaryArray.int8(rows.map(\.total)),
            PostgresBinaryArray.int4(rows.map { Int32(clamping: $0.users.cardinality) }),
            PostgresBinaryArray.bytea(rows.map { row in
                row.users.runOptimize()
                return row.users.portableSerialized()
            }),
        ] + extraParameters(rows, table)
    }

    private static func extraParameters(_ rows: [Stored], _ table: Target) -> [PostgresParameter] {
        (table.perRowLevel ? [PostgresBinaryArray.int8(rows.map { Int64($0.level) })] : [])
            + (table.campaign ? [PostgresBinaryArray.text(rows.map(\.key.campaign))] : [])
    }
}

/// A rollup table holds something this code cannot use, or a statement did not do what it must.
public struct RollupError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
