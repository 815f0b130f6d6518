/// # Ingest
///
/// The HTTP ingest routes, ``addIngestRoutes(to:wal:configuration:)``: `POST /events` and
/// `POST /events/bulk` parse with `Events`, append to the `WAL` and answer 202 only once the append is
/// durable; 4xx name the field, 503 says when to retry. ``addSDKRoutes(to:wal:configuration:writeKeys:)``
/// does the same for the wire formats of Segment's and PostHog's SDKs (answering 200 in the shape each SDK checks); every route inflates
/// `Content-Encoding: gzip` bodies within bounds (``GzipBody``).
///
/// May import `Events`, `Time`, `WAL`, `APISupport`, `CZlib`, Hummingbird, NIOCore and swift-metrics. It never
/// talks to PostgreSQL: the replayer (`Replay`) does, later.
public enum Ingest {}
