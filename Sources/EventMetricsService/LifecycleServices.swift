import Logging
import ServiceLifecycle
import Store
import WAL

/// Keeps the WAL open while the service runs and closes it last, after the HTTP server and the
/// replayer have stopped, so the final group commit completes before exit.
struct WALService: Service {
    let wal: WriteAheadLog
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        try await wal.close()
        logger.info("WAL closed")
    }
}

/// Closes the metrics query pool at shutdown.
struct PostgresPoolService: Service {
    let pool: PostgresPool

    func run() async throws {
        try? await gracefulShutdown()
        await pool.shutdown()
    }
}
