import APISupport
import Foundation
import Store
import Time

/// `GET /event-names`: every event name with events in `[from, to)`, its exact count, and the first
/// and last event's time, sorted by count (largest first, then name by bytes).
///
/// Answered from the all-channels rollup rows, never by scanning `events` for the window: the names
/// come from a skip scan of `rollup_daily`'s primary key (one index probe per name), and for each name
/// its whole days (`rollup_daily`), whole edge hours (`rollup_hourly`) and partial edge hours (an
/// index-only count on `events_name_ts`) add up exactly as in ``MetricsWindowSplit``. Counts add, so a
/// partial hour of half an hour or more is its hourly row's total minus a count of the rest of the
/// hour (a window ending now: the hour so far, whose rest is empty); `first_seen` and
/// `last_seen` are one probe each at either end of the name's range of `events_name_ts`. One statement,
/// so one snapshot; while `rollup_status.complete` is false it is plain SQL over `events` instead.
public enum EventNameCatalog {
    public struct Entry: Sendable, Hashable {
        public var eventName: String
        public var totalCount: Int64
        /// Microseconds since the Unix epoch.
        public var firstSeenMicros: Int64
        public var lastSeenMicros: Int64

        public init(eventName: String, totalCount: Int64, firstSeenMicros: Int64, lastSeenMicros: Int64) {
            self.eventName = eventName
            self.totalCount = totalCount
            self.firstSeenMicros = firstSeenMicros
            self.lastSeenMicros = lastSeenMicros
        }
    }

    /// Parses `from` and `to` with the window rules of ``MetricsRequest`` (30 days before now by default).
    public static func parseWindow(
        _ parameters: some Sequence<(key: String, value: String)>, nowMicros: Int64, maxWindowDays: Int = MetricsRequest.defaultMaxWindowDays
    ) throws(APIError) -> (fromMicros: Int64, toMicros: Int64) {
        // The metrics parser checks everything; a placeholder name stands in for the one it requires.
        let timeOnly = parameters.filter { $0.key == "from" || $0.key == "to" } + [(key: "event_name", value: "-")]
        let request = try MetricsRequest.parse(timeOnly, nowMicros: nowMicros, maxWindowDays: maxWindowDays)
        return (request.fromMicros, request.toMicros)
    }

    /// Blocking; call it on a pool thread.
    public static func run(fromMicros: Int64, toMicros: Int64, plainSQL: Bool = false, on connection: PostgresConnection) throws -> [Entry] {
        let window: [PostgresParameter] = [.timestamptz(unixMicros: fromMicros), .timestamptz(unixMicros: toMicros)]
        if !plainSQL {
            let split = MetricsWindowSplit(fromMicros: fromMicros, toMicros: toMicros)
            let edges = split.edgeHours
            func seconds(_ range: Range<Int64>?) -> [PostgresParameter] {
                let range = range ?? 0..<0
                return [.timestamptz(unixMicros: range.lowerBound * 1_000_000), .timestamptz(unixMicros: range.upperBound * 1_000_000)]
            }
            var parameters = window + seconds(split.days) + seconds(edges.first) + seconds(edges.count > 1 ? edges[1] : nil)
            parameters.append(PostgresBinaryArray.timestamptz(unixMicros: split.raw.map(\.lowerBound)))
            parameters.append(PostgresBinaryArray.timestamptz(unixMicros: split.raw.map(\.upperBound)))
            parameters.append(PostgresBinaryArray.timestamptz(seconds: split.raw.map { UTCTime.hourStart(micros: $0.lowerBound) }))
            var complete = false
            var entries: [Entry] = []
            try connection.executePrepared(rollupSQL, parameters: parameters, resultFormat: .binary) { row in
                if row.int64(0, 0) == 0 {
                    complete = row.int64(0, 2) == 1
                    return
                }
                entries.append(try entry(row))
            }
            if complete { return entries }
        }
        var entries: [Entry] = []
        try connection.executePrepared(plainSQLText, parameters: window, resultFormat: .binary) { row in entries.append(try entry(row)) }
        return entries
    }

    private static func entry(_ row: PostgresResult) throws -> Entry {
        guard let name = row.string(0, 1), let total = row.int64(0, 2), let first = row.int64(0, 3), let last = row.int64(0, 4) else {
            throw PostgresError(code: .queryFailed, message: "unexpected row from the event catalogue query")
        }
        return Entry(eventName: name, totalCount: total, firstSeenMicros: first, lastSeenMicros: last)
    }

    /// `$1`, `$2` the window; `$3..$4` whole days; `$5..$8` the two edge-hour ranges; `$9..$11` the
    /// partial hours (start, end, and the hour they lie in). Part 0 is `rollup_status`. `totals` is
    /// materialized: inlined, its expression was computed twice (the filter and the sort), and with it
    /// every count of raw rows.
    static let rollupSQL = """
        WITH RECURSIVE names(n) AS (
            SELECT min(event_name) FROM rollup_daily
            UNION ALL
            SELECT (SELECT min(event_name) FROM rollup_daily WHERE event_name > n) FROM names WHERE n IS NOT NULL
        ), totals AS MATERIALIZED (
            SELECT n, coalesce((SELECT sum(total) FROM rollup_daily WHERE event_name = n AND day >= $3 AND day < $4 AND channel = ''), 0)
                    + coalesce((SELECT sum(total) FROM rollup_hourly WHERE event_name = n AND channel = ''
                                AND ((hour >= $5 AND hour < $6) OR (hour >= $7 AND hour < $8))), 0)
                    + coalesce((SELECT sum(CASE WHEN r.hi - r.lo >= interval '30 minutes'
                                    THEN p.total - (SELECT count(*) FROM events WHERE event_name = n AND ts >= r.h AND ts < r.lo)
                                                 - (SELECT count(*) FROM events WHERE event_name = n AND ts >= r.hi AND ts < r.h + interval '1 hour')
                                    ELSE (SELECT count(*) FROM events WHERE event_name = n AND ts >= r.lo AND ts < r.hi) END)
                                FROM unnest($9::timestamptz[], $10::timestamptz[], $11::timestamptz[]) AS r(lo, hi, h)
                                JOIN rollup_hourly p ON p.event_name = n AND p.hour = r.h AND p.channel = ''), 0) AS total
            FROM names WHERE n IS NOT NULL
        )
        SELECT 0, NULL::text, complete::int::int8, NULL::int8, NULL::int8 FROM rollup_status
        UNION ALL
        SELECT 1, n, total::int8,
               (extract(epoch FROM (SELECT min(ts) FROM events WHERE event_name = n AND ts >= $1 AND ts < $2)) * 1000000)::int8,
               (extract(epoch FROM (SELECT max(ts) FROM events WHERE event_name = n AND ts >= $1 AND ts < $2)) * 1000000)::int8
        FROM (SELECT * FROM totals WHERE total > 0 ORDER BY total DESC, n COLLATE "C") t
        """

    /// The reference (and the answer while rollups are incomplete): one pass over the window's rows.
    static let plainSQLText = """
        SELECT 1, event_name, count(*)::int8, (extract(epoch FROM min(ts)) * 1000000)::int8, (extract(epoch FROM max(ts)) * 1000000)::int8
        FROM events WHERE ts >= $1 AND ts < $2
        GROUP BY event_name ORDER BY 3 DESC, event_name COLLATE "C"
        """

    /// `{"from", "to", "event_names": [{"event_name", "total_count", "first_seen", "last_seen"}], "freshness"}`.
    public static func json(fromMicros: Int64, toMicros: Int64, entries: [Entry], freshness: MetricsFreshness) -> String {
        var out = #"{"from":"# + JSONString.quote(UTCTime.rfc3339(fromMicros)) + #","to":"# + JSONString.quote(UTCTime.rfc3339(toMicros))
        out += #","event_names":["#
        for (index, entry) in entries.enumerated() {
            if index > 0 { out += "," }
            out += #"{"event_name":"# + JSONString.quote(entry.eventName) + #","total_count":\#(entry.totalCount)"#
            out += #","first_seen":"# + JSONString.quote(UTCTime.rfc3339(entry.firstSeenMicros))
            out += #","last_seen":"# + JSONString.quote(UTCTime.rfc3339(entry.lastSeenMicros)) + "}"
        }
        out += #"],"freshness":{"replay_lag_seconds":"# + MetricsResponse.number(freshness.replayLagSeconds)
        out += #","as_of":"# + JSONString.quote(UTCTime.rfc3339(max(freshness.asOfMicros, 0))) + "}}"
        return out
    }
}

extension MetricsService {
    /// The event catalogue of a window, under the same admission control as the metrics queries.
    public func eventNames(fromMicros: Int64, toMicros: Int64, plainSQL: Bool = false) async throws -> [EventNameCatalog.Entry] {
        try await admission.admit {
            do {
                return try await pool.withConnection { connection in
                    try EventNameCatalog.run(fromMicros: fromMicros, toMicros: toMicros, plainSQL: plainSQL, on: connection)
                }
            } catch let error as PostgresError {
                throw apiError(for: error)
            }
        }
    }

    /// The JSON body of a 200 `GET /event-names` answer.
    public func eventNamesBody(for parameters: some Sequence<(key: String, value: String)>) async throws -> String {
        let (from, to) = try EventNameCatalog.parseWindow(parameters, nowMicros: now(), maxWindowDays: maxWindowDays)
        let entries = try await eventNames(fromMicros: from, toMicros: to)
        return EventNameCatalog.json(fromMicros: from, toMicros: to, entries: entries, freshness: freshness())
    }
}
