import Store
import Time

/// Recomputes rollup rows from `events`: for data that predates the rollups, or after a repair.
///
/// Works one UTC day per transaction: lock both rollup tables against writers (`EXCLUSIVE` still lets
/// metrics read them), delete the day's rows, fold the day's events (``RawRollupSource``) and insert
/// the result. A replayer that commits events meanwhile waits for the lock and then merges its rows
/// on top of the rebuilt day, so nothing is lost or counted twice while the service keeps running.
public enum RollupRebuilder {
    public struct Progress: Sendable {
        /// The day just finished (Unix seconds of its start).
        public var day: Int64
        public var daysDone: Int
        public var daysTotal: Int
        /// Events folded so far.
        public var events: Int64
    }

    public struct Summary: Sendable {
        public var days = 0
        public var events: Int64 = 0
        public var hourlyRows = 0
        public var dailyRows = 0
        /// Whether `rollup_status.complete` was set (only by a rebuild of everything).
        public var markedComplete = false
        /// Whether `rollup_status.campaigns_complete` was set: a rebuild of everything with the campaign
        /// tables, during which no replayer committed events without them.
        public var campaignsMarkedComplete = false
    }

    /// Rebuilds the days overlapping [`fromMicros`, `toMicros`), or every day that has events or
    /// rollup rows when both are nil; the latter also records that the rollups are complete.
    /// Partial days are widened to whole days: a daily row covers its whole day. `campaigns`: the
    /// campaign tables too (`--campaign-rollups`); without, they are left as they are and stay
    /// incomplete.
    public static func rebuild(
        fromMicros: Int64? = nil, toMicros: Int64? = nil, campaigns: Bool = true, on connection: PostgresConnection,
        progress: (Progress) -> Void = { _ in }
    ) throws -> Summary {
        // Read before the first day: a replayer without campaign rollups that commits after this has
        // events the rebuilt campaign rows may lack (``RollupStatus/markCampaignsComplete(ifGapsAre:on:)``).
        let gaps = try RollupStatus.campaignGaps(on: connection)
        let day = RollupTable.daily
        let span: Range<Int64>
        if let fromMicros, let toMicros {
            span = fromMicros..<toMicros
        } else {
            let known = try RollupRange.span(on: connection)
            span = (fromMicros ?? known?.lowerBound ?? 0)..<(toMicros ?? known?.upperBound ?? 0)
        }
        var summary = Summary()
        guard !span.isEmpty else {
            if fromMicros == nil && toMicros == nil { try markComplete(&summary, campaigns: campaigns, gaps: gaps, on: connection) }
            return summary
        }
        let firstDay = day.bucket(containing: UTCTime.seconds(micros: span.lowerBound))
        let lastDay = day.bucket(containing: UTCTime.seconds(micros: span.upperBound - 1))
        let total = Int((lastDay - firstDay) / 86_400) + 1
        for (index, start) in stride(from: firstDay, through: lastDay, by: 86_400).enumerated() {
            let counts = try connection.transaction { try rebuildDay(start, campaigns: campaigns, on: $0) }
            summary.days += 1
            summary.events += counts.events
            summary.hourlyRows += counts.hourly
            summary.dailyRows += counts.daily
            progress(Progress(day: start, daysDone: index + 1, daysTotal: total, events: summary.events))
        }
        if fromMicros == nil && toMicros == nil { try markComplete(&summary, campaigns: campaigns, gaps: gaps, on: connection) }
        return summary
    }

    private static func markComplete(_ summary: inout Summary, campaigns: Bool, gaps: Int64, on connection: PostgresConnection) throws {
        // Every day was rebuilt with the blocks that hold it, bottom-up and in day order, so the last
        // day of each block left it the union of complete children.
        try RollupStatus.setLevelsComplete(true, on: connection)
        if campaigns { summary.campaignsMarkedComplete = try RollupStatus.markCampaignsComplete(ifGapsAre: gaps, on: connection) }
        try RollupStatus.setComplete(true, on: connection)
        summary.markedComplete = true
    }

    /// One day in the caller's transaction; returns the events folded and the rows written.
    static func rebuildDay(_ dayStart: Int64, campaigns: Bool = true, on connection: PostgresConnection) throws -> (events: Int64, hourly: Int, daily: Int) {
        // Replayers wait here (or we wait for their open transactions), so the events read below and
        // the rows deleted are the same state.
        try connection.executeScript("\(RollupTable.lockAllForRebuild); SET LOCAL work_mem = '256MB'")
        let names = try RawRollupSource.allEventNames(on: connection)
        guard !names.isEmpty else { return (0, 0, 0) }
        let from = dayStart * 1_000_000
        let to = (dayStart + 86_400) * 1_000_000
        for table in RollupTable.allCases {
            for name in campaigns ? [table.name, table.campaignName] : [table.name] {
                try connection.execute(
                    "DELETE FROM \(name) WHERE event_name = ANY($1::text[]) AND \(table.bucketColumn) >= $2 AND \(table.bucketColumn) < $3",
                    parameters: [PostgresBinaryArray.text(names), .timestamptz(unixMicros: from), .timestamptz(unixMicros: to)])
            }
        }
        var deltas = RollupDeltas()
        try RawRollupSource.fold(eventNames: names, fromMicros: from, toMicros: to, into: &deltas, on: connection)
        let hourly = deltas.rows(for: .hourly)
        let daily = deltas.rows(for: .daily)
        try RollupWriter.insert(hourly, into: .hourly, on: connection)
        try RollupWriter.insert(daily, into: .daily, on: connection)
        for table in RollupTable.allCases where campaigns {
            try RollupWriter.insert(deltas.campaignRows(for: table), into: table, campaign: true, on: connection)
        }
        // The blocks holding this day, from the rebuilt day up, in the same transaction: /metrics never
        // sees a block that disagrees with its days.
        _ = try RollupLevelRebuilder.refreshBlocks(containing: dayStart, names: names, campaigns: campaigns, on: connection)
        return (deltas.eventCount, hourly.count, daily.count)
    }
}

/// The time span that has events or rollup rows.
public enum RollupRange {
    /// The whole UTC days (Unix seconds) overlapping [`fromMicros`, `toMicros`), each bound defaulting
    /// to the span with events or rollup rows; empty when there is nothing.
    public static func days(fromMicros: Int64?, toMicros: Int64?, on connection: PostgresConnection) throws -> Range<Int64> {
        let known = (fromMicros == nil || toMicros == nil) ? try span(on: connection) : nil
        let span = (fromMicros ?? known?.lowerBound ?? 0)..<(toMicros ?? known?.upperBound ?? 0)
        guard !span.isEmpty else { return 0..<0 }
        let first = RollupTable.daily.bucket(containing: UTCTime.seconds(micros: span.lowerBound))
        let last = RollupTable.daily.bucket(containing: UTCTime.seconds(micros: span.upperBound - 1))
        return first..<(last + 86_400)
    }

    /// [earliest, latest] as microseconds, half-open (latest + 1 µs), or nil when there is nothing.
    /// Per event name, each bound is one index probe (`events_name_ts`, the rollup primary keys).
    static func span(on connection: PostgresConnection) throws -> Range<Int64>? {
        let names = try RawRollupSource.allEventNames(on: connection)
        guard !names.isEmpty else { return nil }
        let result = try connection.execute(
            """
            SELECT (extract(epoch FROM min(lo)) * 1000000)::int8, (extract(epoch FROM max(hi)) * 1000000)::int8
            FROM unnest($1::text[]) AS n(name), LATERAL (VALUES
                ((SELECT min(ts) FROM events WHERE event_name = n.name), (SELECT max(ts) FROM events WHERE event_name = n.name)),
                ((SELECT min(hour) FROM rollup_hourly WHERE event_name = n.name), (SELECT max(hour) FROM rollup_hourly WHERE event_name = n.name)),
                ((SELECT min(day) FROM rollup_daily WHERE event_name = n.name), (SELECT max(day) FROM rollup_daily WHERE event_name = n.name))
            ) AS b(lo, hi)
            """,
            parameters: [PostgresBinaryArray.text(names)], resultFormat: .binary)
        guard result.rowCount == 1, let low = result.int64(0, 0), let high = result.int64(0, 1) else { return nil }
        return low..<(high + 1)
    }
}
