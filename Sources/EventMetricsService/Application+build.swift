import APISupport
import Foundation
import Hummingbird
import Ingest
import Logging
import Operations
import Prometheus
import Query
import Replay
import ServiceLifecycle
import Store
import WAL

/// Builds the whole service: WAL (recovered on open), schema, replayer, query pool and routes.
///
/// Services stop in reverse order of the list, after the HTTP server: in-flight requests finish first,
/// then the replayer commits its last transaction, then the pool closes, then the WAL closes, and the
/// admin listener (when `registry` is given and `settings.adminPort` is not 0) last, so a scrape can
/// still watch the drain.
func buildApplication(
    _ settings: ServiceSettings,
    logger: Logger,
    registry: PrometheusCollectorRegistry? = nil
) async throws -> some ApplicationProtocol {
    let wal = try WriteAheadLog.open(settings.wal, logger: logger)
    DatabaseSchema.migrateAtStart(url: settings.databaseURL, logger: logger)
    let replayer = Replayer(
        wal: wal,
        configuration: DatabaseSchema.replayerConfiguration(
            databaseURL: settings.databaseURL,
            nodeID: settings.nodeID,
            retainSegments: settings.retainSegments,
            campaignRollups: settings.campaignRollups
        ),
        logger: logger
    )
    let pool = PostgresPool(
        url: settings.databaseURL,
        size: settings.queryPoolSize,
        statementTimeoutMilliseconds: settings.statementTimeoutMilliseconds,
        acquireTimeout: .milliseconds(settings.queryQueueTimeoutMilliseconds),
        logger: logger
    )

    let router = Router(context: ServiceRequestContext.self)
    router.get("/health") { _, _ in
        Response.json(status: .ok, #"{"status":"ok"}"#)
    }
    router.get("/openapi.yaml") { _, _ in
        let spec = try OpenAPIDocument.contents()
        return Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(string: spec)))
    }
    try Dashboard.addRoute(to: router)
    let access = settings.access
    let limiter = access.makeLimiter()
    addIngestRoutes(
        to: access.group(router, scope: "ingest", keys: access.ingestKeys, limiter: limiter),
        wal: wal, configuration: settings.ingest)
    // The SDK routes check write keys themselves (Basic auth or the body), so their group has the
    // rate limit but not the bearer check.
    let sdkRoutes = access.group(router, scope: "ingest", keys: APIKeys([String]()), limiter: limiter)
    let ingestKeys = access.ingestKeys
    var writeKeys: WriteKeyCheck?
    if !ingestKeys.isEmpty {
        writeKeys = { key in ingestKeys.contains(Array(key.utf8)) }
    }
    addSDKRoutes(to: sdkRoutes, wal: wal, configuration: settings.ingest, writeKeys: writeKeys)
    addReadinessRoute(to: router, wal: wal, replayer: replayer, pool: pool)
    addMetricsRoutes(
        to: access.group(router, scope: "query", keys: access.queryKeys, limiter: limiter),
        service: MetricsService(
            pool: pool, logger: logger, freshness: { MetricsFreshness(replayLagSeconds: replayer.status().lagSeconds) },
            admission: MetricsAdmission(running: pool.size, waiting: settings.queryMaxWaiting),
            cache: BitmapCache(budget: settings.queryCacheBytes))
    )
    // Counts only, never the keys themselves.
    logger.info("access control", metadata: [
        "ingest_api_keys": "\(access.ingestKeys.count)", "query_api_keys": "\(access.queryKeys.count)",
        "rate_limit_per_second": "\(limiter == nil ? "off" : "\(access.rateLimitPerSecond ?? 0)")",
    ])

    var services: [any Service] = [WALService(wal: wal, logger: logger), PostgresPoolService(pool: pool), replayer]
    let connectionGuard = ConnectionGuard(settings: settings.connections)
    if let registry, settings.adminPort != 0 {
        let sampler = TelemetrySampler(wal: wal, replayer: replayer, connections: connectionGuard)
        let admin = buildAdminApplication(host: settings.host, port: settings.adminPort, registry: registry, sampler: sampler, logger: logger)
        services.insert(
            ListenerService(
                name: "admin", host: settings.host, port: settings.adminPort,
                portSetting: "--admin-port (env ADMIN_PORT; 0 turns the admin listener off)", listener: admin),
            at: 0)
    }
    return Application(
        router: router,
        server: .guardedHTTP1(connectionGuard),
        configuration: .init(
            address: .hostname(settings.host, port: settings.port), serverName: "event-metrics-service",
            availableConnectionsDelegate: connectionGuard.availableConnectionsDelegate),
        services: services,
        logger: logger
    )
}

/// The OpenAPI contract, shipped as a resource of this executable (`openapi.yaml` at the top of the
/// repository links to it).
enum OpenAPIDocument {
    static func contents() throws -> String {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml") else {
            throw HTTPError(.notFound, message: "openapi.yaml is not bundled with this build")
        }
        return try String(contentsOf: url, encoding: .utf8)
    }
}
