import ArgumentParser
import Hummingbird
import Ingest
import Logging
import Query
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

    func run() async throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let logger = logging.makeLogger(label: "event-metrics-service")
        let settings = ServiceSettings(
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
        let app = try await buildApplication(settings, logger: logger)
        try await app.runService()
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
}
