import WAL

/// What the replayer reports about itself: used by `/ready`, the metrics response's freshness and logs.
public struct ReplayStatus: Sendable {
    /// Whether the last attempt to reach PostgreSQL succeeded.
    public var postgresReachable = false
    /// The last committed checkpoint (the WAL position after the last applied batch).
    public var checkpoint: WALPosition?
    /// The sequence number of the next record to apply.
    public var nextSequence: UInt64 = 0
    /// WAL bytes after the checkpoint.
    public var unreplayedBytes: Int64 = 0
    /// WAL records after the checkpoint.
    public var unreplayedRecords: UInt64 = 0
    /// Age of the oldest record not yet in PostgreSQL; 0 when caught up.
    public var lagSeconds: Double = 0
    /// Rows that were new, duplicates skipped and poison records sent to `dead_letters`, since start.
    public var insertedEvents: UInt64 = 0
    public var duplicateEvents: UInt64 = 0
    public var deadLetters: UInt64 = 0
    /// Slices of batches applied by direct COPY and by the staged `INSERT … ON CONFLICT` path
    /// (a slice is a whole batch unless a poison record split it).
    public var directSlices: UInt64 = 0
    public var stagedSlices: UInt64 = 0
    /// The last error, for `/ready` and operators (never sent to ingest clients).
    public var lastError: String?
    /// Set when replay stopped on corrupt WAL bytes in strict recovery mode (`--wal-recovery strict`):
    /// ingestion goes on, replay of this WAL does not until an operator acts (restart with
    /// `--wal-recovery skip` to quarantine the bytes).
    public var walCorruption: WALCorruption?

    public init() {}
}

/// Where replay found corrupt WAL bytes: the file, the byte offset, what was wrong.
public struct WALCorruption: Sendable, Equatable {
    public var file: String
    public var offset: UInt64
    public var reason: String
}
