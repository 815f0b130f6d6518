import APISupport
import Foundation
import Metrics
import Synchronization

/// Admission control for metrics queries: at most `running` run at once (the query pool's
/// connections) and at most `waiting` more wait for one; any request beyond that gets 503
/// `overloaded` with `Retry-After` at once, and a waiting one gives up with the same answer after the
/// pool's acquire timeout (``MetricsService/apiError(for:)``).
///
/// This is what bounds the service's memory under load: a running query holds a few bitmaps (its
/// unions and one input, ``RollupMetricsFold``), a waiting one almost nothing, and nothing else is
/// ever queued. Exposed as `metrics_queries_in_flight` (a gauge: running and waiting) and
/// `metrics_queries_rejected_total`.
public final class MetricsAdmission: Sendable {
    public let running: Int
    public let waiting: Int
    public let retryAfterSeconds: Int
    /// Requests admitted (running or waiting).
    private let admitted = Mutex(0)
    private let inFlight = Gauge(label: "metrics_queries_in_flight")
    private let rejected = Counter(label: "metrics_queries_rejected_total")

    public init(running: Int, waiting: Int, retryAfterSeconds: Int = 1) {
        precondition(running > 0 && waiting >= 0, "admission needs a running slot and a non-negative queue")
        self.running = running
        self.waiting = waiting
        self.retryAfterSeconds = retryAfterSeconds
    }

    /// Requests admitted now (running or waiting for a connection).
    public var current: Int { admitted.withLock { $0 } }

    /// Runs `body` if there is room, else throws the 503.
    public func admit<T>(_ body: () async throws -> T) async throws -> T {
        let capacity = running + waiting
        let entered: Int? = admitted.withLock { admitted in
            guard admitted < capacity else { return nil }
            admitted += 1
            return admitted
        }
        guard let entered else {
            rejected.increment()
            throw APIError.unavailable(
                "overloaded",
                "too many metrics queries at once (\(running) running and \(waiting) waiting); retry later",
                retryAfterSeconds: retryAfterSeconds)
        }
        inFlight.record(entered)
        defer {
            let left = admitted.withLock { admitted in
                admitted -= 1
                return admitted
            }
            inFlight.record(left)
        }
        return try await body()
    }
}
