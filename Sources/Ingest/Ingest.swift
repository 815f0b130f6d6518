/// # Ingest
///
/// The HTTP ingest routes, ``addIngestRoutes(to:wal:configuration:)``: `POST /events` and
/// `POST /events/bulk` parse with `Events`, append to the `WAL` and answer 202 only once the append is
/// durable; 4xx name the field, 503 says when to retry.
///
/// May import `Events`, `Time`, `WAL`, `APISupport`, Hummingbird, NIOCore and swift-metrics. It never
/// talks to PostgreSQL: the replayer (`Replay`) does, later.
public enum Ingest {}
