@testable import Query
import Store
import Time

/// The expected answer of a metrics request, from `events` alone: count(*) and
/// count(DISTINCT user_id), group keys from to_char. Shares no code with the planner or the rollups.
enum MetricsOracle {
    static func answer(_ pool: PostgresPool, name: String, from: Int64, to: Int64, channel: String?, groupBy: MetricsRequest.GroupBy) async throws -> MetricsResult {
        let filter = "event_name = $1 AND ts >= $2::timestamptz AND ts < $3::timestamptz AND ($4::text IS NULL OR channel = $4)"
        let values: [String?] = [name, UTCTime.rfc3339(from), UTCTime.rfc3339(to), channel]
        let overall = try await pool.withConnection { try $0.execute("SELECT count(*), count(DISTINCT user_id) FROM events WHERE \(filter)", values) }
        let keyExpression: String? =
            switch groupBy {
            case .channel: "channel"
            case .hour: #"to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24":00:00Z"')"#
            case .day: "to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
            case .none: nil
            }
        var groups: [MetricsGroup] = []
        if let keyExpression {
            let sql = "SELECT \(keyExpression) AS k, count(*), count(DISTINCT user_id) FROM events WHERE \(filter) GROUP BY 1 ORDER BY \(keyExpression) COLLATE \"C\""
            let rows = try await pool.withConnection { try $0.execute(sql, values) }
            groups = (0..<rows.rowCount).map { MetricsGroup(key: rows.string($0, 0)!, totalCount: rows.int64($0, 1)!, uniqueUserCount: rows.int64($0, 2)!) }
        }
        return MetricsResult(totalCount: overall.int64(0, 0)!, uniqueUserCount: overall.int64(0, 1)!, groups: groups)
    }
}
