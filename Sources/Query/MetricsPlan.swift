import Foundation
import Time
/// What to ask PostgreSQL for one ``MetricsRequest``: plain, parameterised SQL over `events`.
///
/// Input never becomes SQL text: the statement is assembled only from fixed fragments chosen by the
/// grouping and by whether a channel filter is present; every value travels as a `$n` parameter.
/// One statement answers both the overall figures and the groups (`GROUPING SETS ((key), ())`), so
/// they come from the same snapshot and the same scan of `events_name_ts` (index-only).
public struct MetricsQueryPlan: Sendable, Hashable {
    public var sql: String
    public var parameters: [String?]
    public var groupBy: MetricsRequest.GroupBy
    public var timeZone: TimeZone
}

public enum MetricsPlanner {
    public static func plan(_ request: MetricsRequest) -> MetricsQueryPlan {
        var filter = "event_name = $1 AND ts >= $2::timestamptz AND ts < $3::timestamptz"
        var parameters: [String?] = [
            request.eventName, UTCTime.rfc3339Micros(request.fromMicros), UTCTime.rfc3339Micros(request.toMicros),
        ]
        if let channel = request.channel {
            filter += " AND channel = $4"
            parameters.append(channel)
        }
        if let campaign = request.campaignID {
            // The empty value selects the events without a campaign (stored NULL).
            filter += " AND campaign_id IS NOT DISTINCT FROM nullif($\(parameters.count + 1), '')"
            parameters.append(campaign)
        }
        // Columns: key (NULL on the overall row), total, unique users, is_overall (1 on the overall row).
        func grouped(_ bucket: String) -> String {
            """
            SELECT extract(epoch FROM bucket)::int8 AS key, count(*) AS total, count(DISTINCT uid) AS users, GROUPING(bucket) AS overall
            FROM (SELECT \(bucket) AS bucket, uid FROM events WHERE \(filter)) e
            GROUP BY GROUPING SETS ((bucket), ())
            """
        }
        let sql: String
        switch request.groupBy {
        case .none:
            sql = "SELECT NULL::text AS key, count(*) AS total, count(DISTINCT uid) AS users, 1 AS overall FROM events WHERE \(filter)"
        case .channel:
            sql = """
                SELECT channel AS key, count(*) AS total, count(DISTINCT uid) AS users, GROUPING(channel) AS overall
                FROM events WHERE \(filter) GROUP BY GROUPING SETS ((channel), ())
                """
        case .campaign:
            sql = """
                SELECT key, count(*) AS total, count(DISTINCT uid) AS users, GROUPING(key) AS overall
                FROM (SELECT coalesce(campaign_id, '') AS key, uid FROM events WHERE \(filter)) e GROUP BY GROUPING SETS ((key), ())
                """
        case .hour where MetricsRequest.isUTC(request.timeZone), .day where MetricsRequest.isUTC(request.timeZone):
            // Buckets are UTC because every PostgresConnection sets its session TimeZone to UTC (the
            // two-argument date_trunc is a third faster than the one taking a zone). The key goes out as
            // the bucket start in Unix seconds, converted once per group, and the service formats it.
            let unit = request.groupBy == .hour ? "hour" : "day"
            sql = grouped("date_trunc('\(unit)', ts)")
        case .hour:
            // The local hour's start is the instant minus the local minutes and seconds past the hour:
            // date_trunc with a zone would put a fall-back night's first 01:xx into the second 01:00
            // (PostgreSQL reads an ambiguous local time as the later one).
            parameters.append(request.timeZone.identifier)
            let local = "(ts AT TIME ZONE $\(parameters.count)::text)"
            sql = grouped("ts - (\(local) - date_trunc('hour', \(local)))")
        case .day, .week, .month:
            // Local midnight is never ambiguous in the tz database's zones since 1970 (changes happen
            // at night, not at midnight, or skip it forward), so the zone-aware date_trunc is exact here.
            parameters.append(request.timeZone.identifier)
            sql = grouped("date_trunc('\(request.groupBy.rawValue)', ts, $\(parameters.count)::text)")
        }
        return MetricsQueryPlan(sql: sql, parameters: parameters, groupBy: request.groupBy, timeZone: request.timeZone)
    }
}

/// The answer to a ``MetricsRequest``.
public struct MetricsResult: Sendable, Hashable {
    public var totalCount: Int64
    public var uniqueUserCount: Int64
    /// Sorted by key: channels in UTF-8 byte order, time buckets in time order (local keys with
    /// different offsets need not sort as text does); groups with no events are absent.
    public var groups: [MetricsGroup]
}

public struct MetricsGroup: Sendable, Hashable {
    public var key: String
    public var totalCount: Int64
    public var uniqueUserCount: Int64
}
