/// # Replay
///
/// The ``Replayer`` drains the WAL into PostgreSQL exactly once, on a thread of its own: each
/// transaction holds a run of WAL batches, their new rows in `events` (direct COPY, or the staged
/// `INSERT … ON CONFLICT` path), their rollup rows and the checkpoint after them.
///
/// May import `Events`, `Time`, `WAL`, `Store`, `Rollups`, swift-log, swift-metrics and
/// ServiceLifecycle. No HTTP; schema migrations are the executable's (``ReplayerConfiguration/prepareDatabase``).
public enum Replay {}
