import APISupport
import Foundation
import Logging
import Store
import Time

/// How fresh the counted data is: the replayer's lag, and the instant up to which accepted events are
/// in PostgreSQL (now − lag).
public struct MetricsFreshness: Sendable, Hashable {
    public var replayLagSeconds: Double
    /// Microseconds since the Unix epoch.
    public var asOfMicros: Int64

    public init(replayLagSeconds: Double, asOfMicros: Int64) {
        self.replayLagSeconds = replayLagSeconds
        self.asOfMicros = asOfMicros
    }

    /// `as_of` = now − lag.
    public init(replayLagSeconds: Double, now: Date = Date()) {
        let lag = replayLagSeconds.isFinite ? max(replayLagSeconds, 0) : 0
        self.replayLagSeconds = lag
        self.asOfMicros = Int64((now.timeIntervalSince1970 - lag) * 1_000_000)
    }
}

/// Answers ``MetricsRequest``s from PostgreSQL through a ``PostgresPool``.
public struct MetricsService: Sendable {
    public let pool: PostgresPool
    public let logger: Logger
    public let freshness: @Sendable () -> MetricsFreshness
    public let maxWindowDays: Int
    /// Microseconds since the Unix epoch; injectable for tests.
    public let now: @Sendable () -> Int64
    /// Seconds a client is told to wait (`Retry-After`) when PostgreSQL is unavailable.
    public let retryAfterSeconds: Int
    /// Bounds the queries running and waiting (503 `overloaded` beyond).
    public let admission: MetricsAdmission
    /// Whole-day and block bitmaps kept between queries (`--query-cache-bytes`).
    public let cache: BitmapCache

    public init(
        pool: PostgresPool,
        logger: Logger,
        freshness: @escaping @Sendable () -> MetricsFreshness,
        maxWindowDays: Int = MetricsRequest.defaultMaxWindowDays,
        retryAfterSeconds: Int = 5,
        admission: MetricsAdmission? = nil,
        cache: BitmapCache = BitmapCache(budget: BitmapCache.defaultBytes),
        now: @escaping @Sendable () -> Int64 = { UTCTime.nowMicros() }
    ) {
        self.admission = admission ?? MetricsAdmission(running: pool.size, waiting: Self.defaultWaiting)
        self.cache = cache
        self.pool = pool
        self.logger = logger
        self.freshness = freshness
        self.maxWindowDays = maxWindowDays
        self.retryAfterSeconds = retryAfterSeconds
        self.now = now
    }

    public func parse(_ parameters: some Sequence<(key: String, value: String)>) throws(APIError) -> MetricsRequest {
        try MetricsRequest.parse(parameters, nowMicros: now(), maxWindowDays: maxWindowDays)
    }

    /// Computes `request` (from the rollups unless told otherwise); PostgreSQL failures come out as
    /// ``APISupport/APIError``s (503, 504, 500).
    public func metrics(for request: MetricsRequest, strategy: MetricsStrategy = .rollups) async throws -> MetricsResult {
        try await admission.admit {
            do {
                return try await pool.withConnection { [cache] connection in
                    try MetricsComputation.run(request, strategy: strategy, cache: cache, on: connection)
                }
            } catch let error as PostgresError {
                throw apiError(for: error)
            }
        }
    }

    /// Queries that may wait for a connection when all are busy (`--query-max-waiting`).
    public static let defaultWaiting = 32

    /// The JSON body of a 200 answer for `parameters`.
    public func responseBody(for parameters: some Sequence<(key: String, value: String)>) async throws -> String {
        let request = try parse(parameters)
        let result = try await metrics(for: request)
        return MetricsResponse.json(request: request, result: result, freshness: freshness())
    }

    /// Maps a Store error to what a client may see: never SQL or server detail.
    public func apiError(for error: PostgresError) -> APIError {
        if error.code == .queryTimeout {
            let limit = pool.statementTimeoutMilliseconds.map { " of \($0) ms" } ?? ""
            logger.warning("metrics query timed out", metadata: ["error": "\(error)"])
            return APIError(
                status: .gatewayTimeout, code: "query_timeout",
                message: "the metrics query ran longer than the statement timeout\(limit) and was cancelled; try a shorter window or retry later")
        }
        if error.code == .poolTimeout {
            logger.warning("metrics query: no connection became free in time", metadata: ["error": "\(error)"])
            return .unavailable("overloaded", "the metrics queries ahead of this one kept every connection busy; retry later", retryAfterSeconds: admission.retryAfterSeconds)
        }
        if error.isUnavailable {
            logger.warning("metrics query: PostgreSQL unavailable", metadata: ["error": "\(error)"])
            return .unavailable("database_unavailable", "the metrics database is unavailable; retry later", retryAfterSeconds: retryAfterSeconds)
        }
        logger.error("metrics query failed", metadata: ["error": "\(error)"])
        return APIError(status: .internalServerError, code: "internal_error", message: "the metrics query failed")
    }
}

/// Runs a ``MetricsQueryPlan`` on one connection (blocking; called on a pool thread).
enum MetricsExecutor {
    static func run(_ plan: MetricsQueryPlan, on connection: PostgresConnection) throws -> MetricsResult {
        let rows = try connection.execute(plan.sql, plan.parameters)
        var result = MetricsResult(totalCount: 0, uniqueUserCount: 0, groups: [])
        var buckets: [(seconds: Int64, group: MetricsGroup)] = []
        for row in 0..<rows.rowCount {
            let total = rows.int64(row, 1) ?? 0
            let users = rows.int64(row, 2) ?? 0
            if rows.int(row, 3) == 1 {
                result.totalCount = total
                result.uniqueUserCount = users
                continue
            }
            guard total > 0, let raw = rows.string(row, 0) else { continue }
            if plan.groupBy.isTime {
                let seconds = Int64(raw) ?? 0
                let key = MetricsKey.key(seconds: seconds, groupBy: plan.groupBy, zone: plan.timeZone)
                buckets.append((seconds, MetricsGroup(key: key, totalCount: total, uniqueUserCount: users)))
            } else {
                result.groups.append(MetricsGroup(key: raw, totalCount: total, uniqueUserCount: users))
            }
        }
        result.groups.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        result.groups += buckets.sorted { $0.seconds < $1.seconds }.map(\.group)
        return result
    }
}

/// The 200 body, written by hand so the field order is the contract's:
/// `{"event_name", "from", "to", "filter": {"channel", "campaign_id"}, "group_by", "tz", "total_count", "unique_user_count",
/// "groups": [{"key", "total_count", "unique_user_count"}], "freshness": {"replay_lag_seconds", "as_of"}}`.
public enum MetricsResponse {
    public static func json(request: MetricsRequest, result: MetricsResult, freshness: MetricsFreshness) -> String {
        var out = #"{"event_name":"# + JSONString.quote(request.eventName)
        out += #","from":"# + JSONString.quote(UTCTime.rfc3339(request.fromMicros))
        out += #","to":"# + JSONString.quote(UTCTime.rfc3339(request.toMicros))
        out += #","filter":{"channel":"# + (request.channel.map(JSONString.quote) ?? "null")
        out += #","campaign_id":"# + (request.campaignID.map(JSONString.quote) ?? "null") + "}"
        out += #","group_by":"# + JSONString.quote(request.groupBy.rawValue)
        out += #","tz":"# + JSONString.quote(MetricsRequest.name(of: request.timeZone))
        out += #","total_count":\#(result.totalCount),"unique_user_count":\#(result.uniqueUserCount),"groups":["#
        for (index, group) in result.groups.enumerated() {
            if index > 0 { out += "," }
            out += #"{"key":"# + JSONString.quote(group.key)
            out += #","total_count":\#(group.totalCount),"unique_user_count":\#(group.uniqueUserCount)}"#
        }
        out += #"],"freshness":{"replay_lag_seconds":"# + number(freshness.replayLagSeconds)
        out += #","as_of":"# + JSONString.quote(UTCTime.rfc3339(max(freshness.asOfMicros, 0))) + "}}"
        return out
    }

    /// Milliseconds precision; always a valid JSON number.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let rounded = (value * 1000).rounded() / 1000
        if rounded == rounded.rounded(), abs(rounded) < 1e15 { return String(Int64(rounded)) }
        return String(rounded)
    }
}
