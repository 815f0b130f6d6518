import Store

/// The (at most three) statements that fetch what a ``MetricsWindowSplit`` needs, and their rows.
///
/// Like ``MetricsPlanner``, statements are assembled only from fixed fragments picked by the grouping
/// and by whether a channel filter is present; every value is a `$n` parameter (times in binary).
/// Rows come back in binary format, so bitmaps arrive as raw bytes and uids as `int4[]`.
///
/// Which rollup rows are read:
/// - a channel filter: that channel's rows;
/// - `group_by=channel` without a filter: every channel's rows (never the all-channels row);
/// - otherwise: the all-channels rows (channel `''`).
struct RollupMetricsQuery {
    /// One rollup row. `users` is nil where the query left it out (an hour inside the whole days of a
    /// `group_by=hour` query needs only its counts).
    struct RollupRow {
        var channel: String
        var bucket: Int64
        var total: Int64
        var uniques: Int64
        var users: ArraySlice<UInt8>?
    }

    /// Raw events of one (channel, hour) inside the partial hours.
    struct RawGroup {
        var channel: String
        var hour: Int64
        var count: Int64
        var uids: [UInt32]
    }

    let request: MetricsRequest
    let split: MetricsWindowSplit

    private var channelCondition: String {
        if request.channel != nil { return "channel = $6" }
        return request.groupBy == .channel ? "channel <> ''" : "channel = ''"
    }

    private func parameters(_ a: Range<Int64>, _ b: Range<Int64>, scale: Int64) -> [PostgresParameter] {
        var parameters: [PostgresParameter] = [
            .text(request.eventName),
            .timestamptz(unixMicros: a.lowerBound * scale), .timestamptz(unixMicros: a.upperBound * scale),
            .timestamptz(unixMicros: b.lowerBound * scale), .timestamptz(unixMicros: b.upperBound * scale),
        ]
        if let channel = request.channel { parameters.append(.text(channel)) }
        return parameters
    }

    /// Whole days, with their bitmaps. Every grouping needs them for the overall unique count.
    func daily(on connection: PostgresConnection) throws -> [RollupRow] {
        guard !split.days.isEmpty else { return [] }
        // $4/$5 repeat the range so the parameter list has one shape for every statement.
        let sql = """
            SELECT channel, extract(epoch FROM day)::int8, total, uniques, users FROM rollup_daily
            WHERE event_name = $1 AND day >= $2 AND day < $3 AND day >= $4 AND day < $5 AND \(channelCondition)
            """
        return try rollupRows(connection.execute(sql, parameters: parameters(split.days, split.days, scale: 1_000_000), resultFormat: .binary))
    }

    /// Whole hours: for `group_by=hour` every hour (bitmaps only outside the whole days), otherwise
    /// only the hours outside the whole days.
    func hourly(on connection: PostgresConnection) throws -> [RollupRow] {
        guard !split.hours.isEmpty else { return [] }
        let columns = "channel, extract(epoch FROM hour)::int8, total, uniques"
        let sql: String
        let ranges: (Range<Int64>, Range<Int64>)
        if request.groupBy == .hour {
            sql = """
                SELECT \(columns), CASE WHEN hour >= $4 AND hour < $5 THEN NULL ELSE users END FROM rollup_hourly
                WHERE event_name = $1 AND hour >= $2 AND hour < $3 AND \(channelCondition)
                """
            ranges = (split.hours, split.days)
        } else {
            let edges = split.edgeHours
            guard let first = edges.first else { return [] }
            let second = edges.count > 1 ? edges[1] : first.upperBound..<first.upperBound
            sql = """
                SELECT \(columns), users FROM rollup_hourly WHERE event_name = $1 AND hour >= $2 AND hour < $3 AND \(channelCondition)
                UNION ALL
                SELECT \(columns), users FROM rollup_hourly WHERE event_name = $1 AND hour >= $4 AND hour < $5 AND \(channelCondition)
                """
            ranges = (first, second)
        }
        return try rollupRows(connection.execute(sql, parameters: parameters(ranges.0, ranges.1, scale: 1_000_000), resultFormat: .binary))
    }

    /// The partial hours, grouped by (channel, hour), from `events_name_ts` (index-only).
    func raw(on connection: PostgresConnection) throws -> [RawGroup] {
        guard let first = split.raw.first else { return [] }
        let second = split.raw.count > 1 ? split.raw[1] : first.upperBound..<first.upperBound
        let filter = request.channel == nil ? "" : " AND channel = $6"
        let select = "SELECT channel, extract(epoch FROM date_trunc('hour', ts))::int8, count(*), array_agg(uid) FROM events"
        let sql = """
            \(select) WHERE event_name = $1 AND ts >= $2 AND ts < $3\(filter) GROUP BY 1, 2
            UNION ALL
            \(select) WHERE event_name = $1 AND ts >= $4 AND ts < $5\(filter) GROUP BY 1, 2
            """
        let result = try connection.execute(sql, parameters: parameters(first, second, scale: 1), resultFormat: .binary)
        return try (0..<result.rowCount).map { row in
            guard let channel = result.string(row, 0), let hour = result.int64(row, 1), let count = result.int64(row, 2),
                  let array = result.bytes(row, 3), let uids = PostgresBinaryArray.decodeInt4(array)
            else { throw PostgresError(code: .queryFailed, message: "unexpected row from the raw edge query") }
            return RawGroup(channel: channel, hour: hour, count: count, uids: uids)
        }
    }

    private func rollupRows(_ result: PostgresResult) throws -> [RollupRow] {
        try (0..<result.rowCount).map { row in
            guard let channel = result.string(row, 0), let bucket = result.int64(row, 1), let total = result.int64(row, 2),
                  let uniques = result.int64(row, 3)
            else { throw PostgresError(code: .queryFailed, message: "unexpected row from a rollup table") }
            return RollupRow(channel: channel, bucket: bucket, total: total, uniques: uniques, users: result.bytes(row, 4))
        }
    }
}
