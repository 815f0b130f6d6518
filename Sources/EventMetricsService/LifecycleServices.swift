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

/// Says when a graceful shutdown begins (ServiceLifecycle logs signals at debug only). Listed after
/// the application in the top-level group, so it is the first service told to stop.
struct ShutdownNotice: Service {
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        logger.info("graceful shutdown: refusing new connections; finishing in-flight requests, the last group commit and the last replay transaction")
    }
}
