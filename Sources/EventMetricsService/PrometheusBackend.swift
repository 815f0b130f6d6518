import Metrics
import Prometheus

/// The one place the process picks its metrics backend: libraries (WAL, Ingest, Query, Operations)
/// only use swift-metrics, and `serve` routes them all into one Prometheus registry that the admin
/// listener exposes.
enum PrometheusBackend {
    /// Bootstraps swift-metrics with a Prometheus factory and returns its registry. Call once, before
    /// anything creates a metric (the WAL's counters are made when it opens), or they stay no-ops.
    static func bootstrap() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(factory(registry: registry))
        return registry
    }

    /// Buckets sized for what each histogram measures; the library defaults start at 5 ms, too
    /// coarse for an fdatasync that takes a fraction of a millisecond on a good disk.
    static func factory(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["wal_fdatasync_seconds"] = [
            .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500),
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1),
        ]
        factory.durationHistogramBuckets["metrics_query_duration_seconds"] = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
        ]
        factory.valueHistogramBuckets["wal_group_commit_records"] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]
        factory.valueHistogramBuckets["wal_group_commit_bytes"] = [
            512, 1024, 4096, 16384, 65536, 262_144, 1_048_576, 4_194_304, 16_777_216,
        ]
        return factory
    }
}
