/// # WAL
///
/// The write-ahead log that makes an acknowledged event durable before PostgreSQL sees it:
/// ``WriteAheadLog`` (segments, group commit, retention), ``WALReader`` (replay), recovery at open
/// (``RecoveryScanner``, ``RecoveryPlanner``), ``WALInspector`` (the `wal` command), ``WALError``
/// (an open set of codes with file and offset), and ``ConditionLock``, the project's one condition
/// variable with a timed wait.
///
/// May import `CLZ4`, `CCRC32C`, swift-log and swift-metrics: it knows nothing of HTTP, JSON, events
/// or PostgreSQL (records are opaque bytes).
public enum WAL {}
