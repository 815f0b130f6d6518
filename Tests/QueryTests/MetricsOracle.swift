@testable import Query
import Store
import Time

/// The expected answer of a metrics request, from `events` alone: count(*) and
/// count(DISTINCT user_id), buckets from PostgreSQL's own time zone code (its `date_trunc` with a zone,
/// and `AT TIME ZONE` offsets), group keys from to_char. Shares no code with the planner or the rollups.
enum MetricsOracle {
    static func answer(
        _ pool: PostgresPool, name: String, from: Int64, to: Int64, channel: String?, campaign: String? = nil, groupBy: MetricsRequest.GroupBy,
        zone: String = "UTC"
    ) async throws -> MetricsResult {
        // A campaign of "" is the events without one (campaign_id NULL).
        let filter = """
            event_name = $1 AND ts >= $2::timestamptz AND ts < $3::timestamptz AND ($4::text IS NULL OR channel = $4)
            AND ($5::text IS NULL OR coalesce(campaign_id, '') = $5)
            """
        let values: [String?] = [name, UTCTime.rfc3339(from), UTCTime.rfc3339(to), channel, campaign]
        let overall = try await pool.withConnection { try $0.execute("SELECT count(*), count(DISTINCT user_id) FROM events WHERE \(filter)", values) }
        // The offset (seconds) of zone $6 at an instant.
        func offset(_ instant: String) -> String { "extract(epoch FROM (\(instant) AT TIME ZONE $6::text) - (\(instant) AT TIME ZONE 'UTC'))::int8" }
        let bucket: String? =
            switch groupBy {
            case .channel, .campaign, .none: nil
            // The local hour by arithmetic on the local epoch: right on a fall-back night's two 01:00s.
            case .hour: "to_timestamp(floor((extract(epoch FROM ts) + \(offset("ts"))) / 3600) * 3600 - \(offset("ts")))"
            case .day, .week, .month: "date_trunc('\(groupBy.rawValue)', ts, $6::text)"
            }
        var groups: [MetricsGroup] = []
        if groupBy == .channel || groupBy == .campaign {
            let column = groupBy == .channel ? "channel" : "CASE WHEN campaign_id IS NULL THEN '' ELSE campaign_id END"
            let sql = "SELECT k, n, u FROM (SELECT \(column) AS k, count(*) AS n, count(DISTINCT user_id) AS u FROM events WHERE \(filter) GROUP BY 1) g ORDER BY k COLLATE \"C\""
            let rows = try await pool.withConnection { try $0.execute(sql, values) }
            groups = (0..<rows.rowCount).map { MetricsGroup(key: rows.string($0, 0)!, totalCount: rows.int64($0, 1)!, uniqueUserCount: rows.int64($0, 2)!) }
        } else if let bucket {
            let local = #"to_char(b AT TIME ZONE $6::text, 'YYYY-MM-DD"T"HH24:MI:SS')"#
            let off = offset("b")
            let suffix = "CASE WHEN \(off) < 0 THEN '-' ELSE '+' END || lpad((abs(\(off)) / 3600)::text, 2, '0') || ':' || lpad((abs(\(off)) / 60 % 60)::text, 2, '0')"
            let key: String =
                switch (zone, groupBy) {
                case ("UTC", .hour): #"to_char(b AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24":00:00Z"')"#
                case ("UTC", .day): "to_char(b AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
                case ("UTC", _): "\(local) || 'Z'"
                default: "\(local) || \(suffix)"
                }
            let sql = """
                SELECT \(key), n, u FROM (SELECT \(bucket) AS b, count(*) AS n, count(DISTINCT user_id) AS u FROM events WHERE \(filter) GROUP BY 1) g
                ORDER BY b
                """
            let rows = try await pool.withConnection { try $0.execute(sql, values + [zone]) }
            groups = (0..<rows.rowCount).map { MetricsGroup(key: rows.string($0, 0)!, totalCount: rows.int64($0, 1)!, uniqueUserCount: rows.int64($0, 2)!) }
        }
        return MetricsResult(totalCount: overall.int64(0, 0)!, uniqueUserCount: overall.int64(0, 1)!, groups: groups)
    }
}
