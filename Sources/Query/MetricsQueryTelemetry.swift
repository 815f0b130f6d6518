import APISupport
import Hummingbird
import Metrics

/// What the metrics route reports for the admin `/metrics` scrape:
/// `metrics_query_duration_seconds{group_by}` (a histogram of answered queries, by the grouping that
/// decides their cost) and `postgres_errors_total{component="query"}`.
struct MetricsQueryTelemetry: Sendable {
    private let durations: [String: Metrics.Timer]
    private let postgresErrors = Counter(label: "postgres_errors_total", dimensions: [("component", "query")])

    init() {
        var durations: [String: Metrics.Timer] = [:]
        for groupBy in MetricsRequest.GroupBy.allCases {
            durations[groupBy.rawValue] = Metrics.Timer(label: "metrics_query_duration_seconds", dimensions: [("group_by", groupBy.rawValue)])
        }
        self.durations = durations
    }

    /// Runs one query and records how long it took, by `group_by` (absent means `channel`, the default; an unknown
    /// value is a 400 and not timed).
    func measure(groupBy: String?, _ query: () async throws -> String) async throws -> String {
        let started = ContinuousClock.now
        do {
            let body = try await query()
            durations[groupBy ?? MetricsRequest.GroupBy.channel.rawValue]?.recordNanoseconds(Self.nanoseconds(ContinuousClock.now - started))
            return body
        } catch let error as APIError where error.status.code >= 500 {
            // The service maps only PostgreSQL failures to 5xx (503 unavailable, 504 timeout, 500).
            postgresErrors.increment()
            throw error
        }
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }
}
