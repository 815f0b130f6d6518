import Ingest
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
    /// API keys, rate limit and the admin listener (off unless set; `serve` sets the admin port).
    var access = AccessSettings()
    var adminPort = 0
}
