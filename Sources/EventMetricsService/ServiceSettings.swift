import Ingest
import Operations
import Query
import Store
import WAL

/// Everything `buildApplication` needs; filled from flags by `serve` and directly by tests and tools.
struct ServiceSettings: Sendable {
    var host = "127.0.0.1"
    var port = 8080
    var nodeID = "node-1"
    var databaseURL = DatabaseURL.local
    var wal: WALConfiguration
    var retainSegments = false
    var ingest = IngestConfiguration()
    var queryPoolSize = 4
    var statementTimeoutMilliseconds = 10_000
    /// Metrics queries that may wait for a connection, and for how long (admission control).
    var queryMaxWaiting = MetricsService.defaultWaiting
    var queryQueueTimeoutMilliseconds = 5_000
    /// Bytes of bitmaps the metrics query cache may hold; 0 turns it off.
    var queryCacheBytes = BitmapCache.defaultBytes
    /// Whether the replayer keeps the campaign rollups (`--campaign-rollups`).
    var campaignRollups = false
    /// API keys, rate limit and the admin listener (off unless set; `serve` sets the admin port).
    var access = AccessSettings()
    var adminPort = 0
    /// Client connection limit and timeouts; `serve` derives the limit from the descriptor limit.
    var connections = ConnectionSettings()
}
