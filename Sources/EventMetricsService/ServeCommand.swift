import ArgumentParser
import Events
import Hummingbird
import Ingest
import Logging
import Operations
import Query
import Replay
import ServiceLifecycle
import Store
import WAL

/// Runs the HTTP API, the replayer and the query pool until SIGTERM or SIGINT.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the ingest and metrics API, draining the WAL into PostgreSQL in the background."
    )

    @Option(help: "Address to listen on (env HOST).")
    var host: String = Environment.string("HOST", default: "127.0.0.1")

    @Option(help: "Port to listen on (env PORT).")
    var port: Int = Environment.int("PORT", default: 8080)

    @Option(name: .customLong("node-id"), help: "This node's id; its WAL checkpoint is stored under it (env NODE_ID, default host name).")
    var nodeID: String = Environment.string("NODE_ID", default: Environment.hostName)

    @OptionGroup var limits: IngestOptions
    @OptionGroup var query: QueryOptions
    @OptionGroup var wal: WALOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var logging: LoggingOptions
    @OptionGroup var operations: OperationsOptions
    @OptionGroup var connections: ConnectionOptions
    @OptionGroup var campaignRollups: CampaignRollupsOption

    func run() async throws {
        let logger = logging.bootstrap(label: "event-metrics-service")
        // Before the WAL opens: metrics created earlier would stay no-ops.
        let registry = PrometheusBackend.bootstrap()
        var settings = ServiceSettings(
            host: host,
            port: port,
            nodeID: nodeID,
            databaseURL: database.databaseURL,
            wal: try wal.configuration(),
            retainSegments: wal.retain,
            ingest: limits.configuration(),
            queryPoolSize: query.poolSize,
            statementTimeoutMilliseconds: query.statementTimeoutMilliseconds
        )
        settings.queryMaxWaiting = query.maxWaiting
        settings.queryQueueTimeoutMilliseconds = query.queueTimeoutMilliseconds
        settings.queryCacheBytes = query.cacheBytes
        settings.campaignRollups = campaignRollups.enabled
        settings.access = operations.access()
        settings.adminPort = operations.adminPort
        let limit = DescriptorBudget.connectionLimits(
            requested: connections.maxConnections, limits: DescriptorBudget.raiseSoftLimit(),
            queryPoolSize: query.poolSize, logger: logger)
        settings.connections = connections.settings(maxConnections: limit.maxConnections, refusalReserve: limit.refusalReserve)
        let app = try await buildApplication(settings, logger: logger, registry: registry)
        let group = ServiceGroup(configuration: .init(
            services: [
                ListenerService(name: "API", host: host, port: port, portSetting: "--port (env PORT)", listener: app),
                ShutdownNotice(logger: logger),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
        try await group.run()
        logger.info("stopped")
    }
}

/// Ingest limits (see docs and openapi.yaml for what each one answers with).
struct IngestOptions: ParsableArguments {
    @Option(name: .customLong("max-body-bytes"), help: "Largest request body accepted, else 413 (env MAX_BODY_BYTES).")
    var maxBodyBytes: Int = Environment.int("MAX_BODY_BYTES", default: 16 << 20)

    @Option(name: .customLong("max-bulk-events"), help: "Most events in one bulk request, else 413 (env MAX_BULK_EVENTS).")
    var maxBulkEvents: Int = Environment.int("MAX_BULK_EVENTS", default: 10_000)

    @Option(name: .customLong("max-future-skew-seconds"), help: "How far in the future a timestamp may be (env MAX_FUTURE_SKEW_SECONDS).")
    var maxFutureSkewSeconds: Int = Environment.int("MAX_FUTURE_SKEW_SECONDS", default: 300)

    func configuration() -> IngestConfiguration {
        var limits = EventLimits.default
        limits.maxEventsPerBulk = maxBulkEvents
        limits.maxFutureSkewSeconds = Int64(maxFutureSkewSeconds)
        return IngestConfiguration(maxBodyBytes: maxBodyBytes, limits: limits)
    }
}

/// Metrics query settings.
struct QueryOptions: ParsableArguments {
    @Option(name: .customLong("query-pool-size"), help: "PostgreSQL connections for metrics queries (env QUERY_POOL_SIZE).")
    var poolSize: Int = Environment.int("QUERY_POOL_SIZE", default: 4)

    @Option(name: .customLong("statement-timeout-ms"), help: "Longest a metrics query may run before a 504 (env STATEMENT_TIMEOUT_MS).")
    var statementTimeoutMilliseconds: Int = Environment.int("STATEMENT_TIMEOUT_MS", default: 10_000)

    @Option(name: .customLong("query-max-waiting"), help: "Metrics queries that may wait for a busy pool; beyond, 503 overloaded with Retry-After (env QUERY_MAX_WAITING).")
    var maxWaiting: Int = Environment.int("QUERY_MAX_WAITING", default: MetricsService.defaultWaiting)

    @Option(name: .customLong("query-queue-timeout-ms"), help: "Longest a metrics query waits for a connection before 503 overloaded (env QUERY_QUEUE_TIMEOUT_MS).")
    var queueTimeoutMilliseconds: Int = Environment.int("QUERY_QUEUE_TIMEOUT_MS", default: 5_000)

    @Option(name: .customLong("query-cache-bytes"), help: "Memory for whole-day, block, hourly (tz) bitmaps and local-day unions kept between metrics queries (exact: checked by row version); 0 turns it off (env QUERY_CACHE_BYTES).")
    var cacheBytes: Int = Environment.int("QUERY_CACHE_BYTES", default: BitmapCache.defaultBytes)

    func validate() throws {
        guard cacheBytes >= 0 else { throw ValidationError("--query-cache-bytes must be 0 or more") }
        guard poolSize > 0 else { throw ValidationError("--query-pool-size must be at least 1") }
        guard maxWaiting >= 0 else { throw ValidationError("--query-max-waiting must be 0 or more") }
        guard queueTimeoutMilliseconds > 0 else { throw ValidationError("--query-queue-timeout-ms must be more than 0") }
    }
}

/// The admin listener, API keys and rate limit (README, "Operations").
struct OperationsOptions: ParsableArguments {
    @Option(name: .customLong("admin-port"), help: "Port of the admin listener (Prometheus GET /metrics) on --host; 0 turns it off (env ADMIN_PORT).")
    var adminPort: Int = Environment.int("ADMIN_PORT", default: 9464)

    @Option(name: .customLong("ingest-api-keys"), help: "Comma-separated keys; when set, POST /events and /events/bulk need Authorization: Bearer <key> (env INGEST_API_KEYS).")
    var ingestAPIKeys: String?

    @Option(name: .customLong("query-api-keys"), help: "Comma-separated keys; when set, GET /metrics needs Authorization: Bearer <key> (env QUERY_API_KEYS).")
    var queryAPIKeys: String?

    @Option(name: .customLong("rate-limit-per-second"), help: "Requests per second per API key (or per client address without keys) on the ingest and metrics routes, with a burst of the same size; 0 is unlimited (env RATE_LIMIT_PER_SECOND).")
    var rateLimitPerSecond: Double = Double(Environment.string("RATE_LIMIT_PER_SECOND", default: "0")) ?? 0

    func validate() throws {
        guard (0...65535).contains(adminPort) else { throw ValidationError("--admin-port must be 0...65535") }
        guard rateLimitPerSecond >= 0, rateLimitPerSecond.isFinite else { throw ValidationError("--rate-limit-per-second must be 0 or more") }
    }

    /// The key options have no default value on purpose: `--help` prints defaults, and a default read
    /// from the environment would print the keys.
    func access() -> AccessSettings {
        AccessSettings(
            ingestKeys: APIKeys(commaSeparated: ingestAPIKeys ?? Environment.string("INGEST_API_KEYS", default: "")),
            queryKeys: APIKeys(commaSeparated: queryAPIKeys ?? Environment.string("QUERY_API_KEYS", default: "")),
            rateLimitPerSecond: rateLimitPerSecond > 0 ? rateLimitPerSecond : nil
        )
    }
}
