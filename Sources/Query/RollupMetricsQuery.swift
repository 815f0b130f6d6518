import Store

/// The one statement that fetches everything a ``MetricsWindowSplit`` needs, and its rows.
///
/// One statement, so one round trip and one snapshot: rollups and raw rows are committed together by
/// the replayer, so the parts always add up to one moment's data. It is a `UNION ALL` of up to five
/// parts, told apart by the first column:
///
/// | part | rows |
/// |---|---|
/// | 0 | `rollup_status.complete` (1 or 0) in the total column |
/// | 1 | whole days from `rollup_daily`, with bitmaps |
/// | 2 | whole hours from `rollup_hourly`: for `group_by=hour` every hour (bitmaps only outside the whole days), otherwise only the hours outside them |
/// | 3 | raw events of each partial hour (per channel for `group_by=channel`): count and `array_agg(uid)` (index-only on `events_name_ts`) |
///
/// Like ``MetricsPlanner``, the text is assembled only from fixed fragments picked by the window's
/// shape, the grouping and whether a channel filter is present; every value is a `$n` parameter:
/// `$1` event name; `$2..$13` six time ranges (days, hours, two edge-hour ranges, two raw ranges);
/// `$14` the channel; `$15..$16` the raw ranges' hours. Rows come back in binary, so bitmaps arrive
/// as raw bytes and uids as `int4[]`.
///
/// Which rollup rows are read: with a channel filter, that channel's; for `group_by=channel`
/// without one, every channel's (never the all-channels row); otherwise the all-channels rows
/// (channel `''`).
struct RollupMetricsQuery {
    /// One rollup row. `users` is nil where the query left it out.
    struct RollupRow {
        var channel: String
        var bucket: Int64
        var total: Int64
        var uniques: Int64
        var users: ArraySlice<UInt8>?
    }

    /// Raw events inside one partial hour, of one channel (`group_by=channel`) or of all (channel `''`).
    struct RawGroup {
        var channel: String
        var hour: Int64
        var count: Int64
        var uids: [UInt32]
    }

    struct Rows {
        /// False while the rollups do not cover every event (`rollup_status.complete`).
        var complete = false
        var days: [RollupRow] = []
        var hours: [RollupRow] = []
        var raw: [RawGroup] = []
    }

    let request: MetricsRequest
    let split: MetricsWindowSplit

    private var channelCondition: String {
        if request.channel != nil { return "channel = $14" }
        return request.groupBy == .channel ? "channel <> ''" : "channel = ''"
    }

    /// The statement for this request's shape.
    var sql: String {
        func rollupColumns(_ bucket: String) -> String { "channel, extract(epoch FROM \(bucket))::int8, total, uniques::int8" }
        var parts = ["SELECT 0, NULL::text, NULL::int8, complete::int::int8, NULL::int8, NULL::bytea, NULL::int4[] FROM rollup_status"]
        if !split.days.isEmpty {
            parts.append("""
                SELECT 1, \(rollupColumns("day")), users, NULL FROM rollup_daily
                WHERE event_name = $1 AND day >= $2 AND day < $3 AND \(channelCondition)
                """)
        }
        let hourColumns = rollupColumns("hour")
        if request.groupBy == .hour, !split.hours.isEmpty {
            parts.append("""
                SELECT 2, \(hourColumns), CASE WHEN hour >= $2 AND hour < $3 THEN NULL ELSE users END, NULL FROM rollup_hourly
                WHERE event_name = $1 AND hour >= $4 AND hour < $5 AND \(channelCondition)
                """)
        } else {
            for index in split.edgeHours.indices {
                let (low, high) = index == 0 ? ("$6", "$7") : ("$8", "$9")
                parts.append("""
                    SELECT 2, \(hourColumns), users, NULL FROM rollup_hourly
                    WHERE event_name = $1 AND hour >= \(low) AND hour < \(high) AND \(channelCondition)
                    """)
            }
        }
        let filter = request.channel == nil ? "" : " AND channel = $14"
        // Per channel only when grouping by it: one plain aggregate is cheaper than hashing by channel.
        let (channel, grouping) = request.groupBy == .channel ? ("channel", " GROUP BY channel") : ("''", "")
        for index in split.raw.indices {
            let (low, high, hour) = index == 0 ? ("$10", "$11", "$15") : ("$12", "$13", "$16")
            parts.append("""
                SELECT 3, \(channel), \(hour), count(*), NULL, NULL, array_agg(uid) FROM events
                WHERE event_name = $1 AND ts >= \(low) AND ts < \(high)\(filter)\(grouping)
                """)
        }
        return parts.joined(separator: "\nUNION ALL\n")
    }

    var parameters: [PostgresParameter] {
        let empty: Range<Int64> = 0..<0
        func seconds(_ range: Range<Int64>) -> [PostgresParameter] {
            [.timestamptz(unixMicros: range.lowerBound * 1_000_000), .timestamptz(unixMicros: range.upperBound * 1_000_000)]
        }
        func micros(_ range: Range<Int64>) -> [PostgresParameter] {
            [.timestamptz(unixMicros: range.lowerBound), .timestamptz(unixMicros: range.upperBound)]
        }
        let edges = split.edgeHours
        var parameters: [PostgresParameter] = [.text(request.eventName)]
        parameters += seconds(split.days)
        parameters += seconds(split.hours)
        parameters += seconds(edges.first ?? empty) + seconds(edges.count > 1 ? edges[1] : empty)
        parameters += micros(split.raw.first ?? empty) + micros(split.raw.count > 1 ? split.raw[1] : empty)
        // Typed, so the statements that do not use them still prepare.
        parameters.append(.binary(Array((request.channel ?? "").utf8), oid: PostgresType.text))
        parameters += [0, 1].map { index in .int8(index < split.raw.count ? MetricsWindowSplit.hour(of: split.raw[index]) : 0) }
        return parameters
    }

    func fetch(on connection: PostgresConnection) throws -> Rows {
        // Prepared: planning this UNION costs about as much as running it on a busy day.
        let result = try connection.executePrepared(sql, parameters: parameters, resultFormat: .binary)
        var rows = Rows()
        for row in 0..<result.rowCount {
            guard let part = result.int64(row, 0) else { throw unexpected() }
            switch part {
            case 0:
                rows.complete = result.int64(row, 3) == 1
            case 1, 2:
                guard let channel = result.string(row, 1), let bucket = result.int64(row, 2), let total = result.int64(row, 3),
                      let uniques = result.int64(row, 4)
                else { throw unexpected() }
                let item = RollupRow(channel: channel, bucket: bucket, total: total, uniques: uniques, users: result.bytes(row, 5))
                if part == 1 { rows.days.append(item) } else { rows.hours.append(item) }
            case 3:
                // A range without rows still yields its (ungrouped) aggregate: count 0, no array.
                guard let channel = result.string(row, 1), let hour = result.int64(row, 2), let count = result.int64(row, 3) else { throw unexpected() }
                guard count > 0 else { continue }
                guard let array = result.bytes(row, 6), let uids = PostgresBinaryArray.decodeInt4(array) else { throw unexpected() }
                rows.raw.append(RawGroup(channel: channel, hour: hour, count: count, uids: uids))
            default:
                throw unexpected()
            }
        }
        return rows
    }

    private func unexpected() -> PostgresError {
        PostgresError(code: .queryFailed, message: "unexpected row from the rollup metrics query")
    }
}
