/// # Store
///
/// The PostgreSQL layer of event-metrics-service, on libpq:
///
/// - ``PostgresConnection`` owns one `PGconn`; every call on it blocks, so it is used from a thread of
///   its own (the replayer) or from a ``PostgresPool`` worker thread, never from an event loop or the
///   Swift cooperative pool.
/// - ``PostgresPool`` is a small bounded pool for queries that heals after PostgreSQL restarts.
/// - ``CopyBinaryWriter`` builds `COPY … (FORMAT binary)` streams for fast bulk loads.
/// - ``SchemaMigrations`` applies the versioned SQL files in `Migrations/` once, under an advisory lock.
/// - ``PostgresError`` is the one error type; its message is server-side detail for logs, never for
///   HTTP clients.
///
/// The module knows nothing of HTTP, the WAL or the event model.
public enum Store {}
