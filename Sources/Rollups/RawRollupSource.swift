import Store

/// Reads raw `events` back as ``RollupDeltas``: what the rebuild recomputes rollups from, and how
/// the seed adds the rows it COPYed.
///
/// PostgreSQL groups the rows by (event name, channel, hour) and sends each group's count and
/// `array_agg(uid)` in binary, so a day of millions of events arrives as a few hundred arrays rather
/// than millions of rows. Hours are UTC because every ``Store/PostgresConnection`` sets its session
/// time zone to UTC.
public enum RawRollupSource {
    /// Adds the events of `eventNames` with `ts` in [`fromMicros`, `toMicros`) (an index range scan of
    /// `events_name_ts` per name).
    public static func fold(
        eventNames: [String], fromMicros: Int64, toMicros: Int64,
        into deltas: inout RollupDeltas, on connection: PostgresConnection
    ) throws {
        guard !eventNames.isEmpty, fromMicros < toMicros else { return }
        let result = try connection.execute(
            """
            SELECT event_name, channel, extract(epoch FROM date_trunc('hour', ts))::int8, count(*), array_agg(uid), campaign_id
            FROM events WHERE event_name = ANY($1::text[]) AND ts >= $2 AND ts < $3
            GROUP BY 1, 2, 3, 6
            """,
            parameters: [PostgresBinaryArray.text(eventNames), .timestamptz(unixMicros: fromMicros), .timestamptz(unixMicros: toMicros)],
            resultFormat: .binary)
        try add(result, into: &deltas)
    }

    /// Adds the events whose `id` is in `ids` (a primary key range scan; the seed's rows are a
    /// contiguous id range).
    public static func fold(ids: ClosedRange<Int64>, into deltas: inout RollupDeltas, on connection: PostgresConnection) throws {
        let result = try connection.execute(
            """
            SELECT event_name, channel, extract(epoch FROM date_trunc('hour', ts))::int8, count(*), array_agg(uid), campaign_id
            FROM events WHERE id BETWEEN $1 AND $2
            GROUP BY 1, 2, 3, 6
            """,
            parameters: [.int8(ids.lowerBound), .int8(ids.upperBound)],
            resultFormat: .binary)
        try add(result, into: &deltas)
    }

    private static func add(_ result: PostgresResult, into deltas: inout RollupDeltas) throws {
        for row in 0..<result.rowCount {
            guard let name = result.string(row, 0), let channel = result.string(row, 1),
                  let hour = result.int64(row, 2), let count = result.int64(row, 3),
                  let array = result.bytes(row, 4), let uids = PostgresBinaryArray.decodeInt4(array)
            else { throw RollupError("unexpected row from the events aggregate") }
            // Column 5 is NULL for events without a campaign.
            deltas.add(eventName: name, channel: channel, campaign: result.string(row, 5), hourStart: hour, count: count, uids: uids)
        }
    }

    /// The distinct `event_name`s of `table` (`events` or a rollup table), by a loose index scan: one
    /// index probe per name instead of reading every row.
    public static func eventNames(in table: EventNameSource, on connection: PostgresConnection) throws -> [String] {
        let t = table.rawValue
        let result = try connection.execute(
            """
            WITH RECURSIVE names(name) AS (
                (SELECT event_name FROM \(t) ORDER BY event_name LIMIT 1)
                UNION ALL
                SELECT (SELECT event_name FROM \(t) WHERE event_name > n.name ORDER BY event_name LIMIT 1)
                FROM names n WHERE n.name IS NOT NULL
            )
            SELECT name FROM names WHERE name IS NOT NULL
            """,
            parameters: [], resultFormat: .binary)
        return (0..<result.rowCount).compactMap { result.string($0, 0) }
    }

    /// Tables whose event names ``eventNames(in:on:)`` lists (fixed names, never input).
    public enum EventNameSource: String, Sendable, CaseIterable {
        case events
        case rollupHourly = "rollup_hourly"
        case rollupDaily = "rollup_daily"
        case rollupBlocks = "rollup_blocks"
        case campaignHourly = "rollup_campaign_hourly"
        case campaignDaily = "rollup_campaign_daily"
        case campaignBlocks = "rollup_campaign_blocks"
    }

    /// Every event name in `events` or in either rollup table, sorted by UTF-8 bytes and without
    /// duplicates.
    public static func allEventNames(on connection: PostgresConnection) throws -> [String] {
        var seen = Set<[UInt8]>()
        var names: [String] = []
        for source in EventNameSource.allCases {
            for name in try eventNames(in: source, on: connection) where seen.insert(Array(name.utf8)).inserted {
                names.append(name)
            }
        }
        return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }
}
