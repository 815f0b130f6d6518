import Hummingbird
import Logging
import Metrics
import Operations
import Prometheus
import Replay
import WAL

/// The admin listener (`--admin-port`, default 9464, the port Prometheus exporters conventionally
/// use): `GET /metrics` in the Prometheus text format. A port of its own, so scrapes never queue
/// behind API traffic or share its API keys and rate limit, and so a firewall can keep it private.
func buildAdminApplication(
    host: String,
    port: Int,
    registry: PrometheusCollectorRegistry,
    sampler: TelemetrySampler,
    logger: Logger
) -> some ApplicationProtocol {
    let router = Router()
    router.get("/metrics") { _, _ -> Response in
        sampler.sample()
        return Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer()))
        )
    }
    var adminLogger = logger
    adminLogger[metadataKey: "listener"] = "admin"
    return Application(
        router: router,
        configuration: .init(address: .hostname(host, port: port), serverName: "event-metrics-service-admin"),
        logger: adminLogger
    )
}

/// Gauges for state that other parts keep (WAL size, replay lag), read when Prometheus scrapes:
/// the values are exact at scrape time and nothing polls between scrapes.
struct TelemetrySampler: Sendable {
    let wal: WriteAheadLog
    let replayer: Replayer
    let connections: ConnectionGuard

    private let walBytes = Gauge(label: "wal_bytes")
    private let walSegments = Gauge(label: "wal_segments")
    private let walUnreplayedBytes = Gauge(label: "wal_unreplayed_bytes")
    private let walWritable = Gauge(label: "wal_writable")
    private let replayLag = Gauge(label: "replay_lag_seconds")
    private let replayUnreplayedRecords = Gauge(label: "replay_unreplayed_records")
    private let postgresReachable = Gauge(label: "replay_postgres_reachable")
    private let openConnections = Gauge(label: "http_connections_open")

    init(wal: WriteAheadLog, replayer: Replayer, connections: ConnectionGuard) {
        self.wal = wal
        self.replayer = replayer
        self.connections = connections
    }

    func sample() {
        let stats = wal.stats
        let status = replayer.status()
        walBytes.record(stats.totalBytes)
        walSegments.record(stats.segmentCount)
        walUnreplayedBytes.record(status.unreplayedBytes)
        walWritable.record(stats.isFailed ? 0 : 1)
        replayLag.record(status.lagSeconds)
        replayUnreplayedRecords.record(status.unreplayedRecords)
        postgresReachable.record(status.postgresReachable ? 1 : 0)
        openConnections.record(connections.openConnections)
    }
}
