/// What an append learns once its records are durable.
public struct WALAppendResult: Sendable, Equatable {
    /// The start of the batch holding the records (the records of one append share one batch).
    public var position: WALPosition
    /// The sequence number of the first record; the others follow without gaps.
    public var firstSequence: UInt64
    public var count: Int
}

/// One batch as a reader returns it.
public struct WALBatch: Sendable, Equatable {
    /// Where the batch starts.
    public var position: WALPosition
    /// Where the next batch starts: the checkpoint to store once this batch is applied.
    public var next: WALPosition
    public var firstSequence: UInt64
    public var records: [[UInt8]]
}

/// A snapshot of the WAL, for `/ready`, telemetry and tests.
public struct WALStats: Sendable, Equatable {
    public var segmentCount: Int
    /// Bytes in all retained segment files.
    public var totalBytes: Int64
    /// The first batch boundary of the oldest retained segment.
    public var oldestPosition: WALPosition
    /// The end of the durable data: where the next batch will start.
    public var newestPosition: WALPosition
    /// Batches and records in the retained segments. Records come from the sequence numbers; batches
    /// are counted only in segments scanned at open (the newest) or written since: sealed segments are
    /// not scanned at open (`docs/wal-format.md`, Recovery).
    public var batchCount: Int
    public var recordCount: Int
    /// The sequence number of the last acknowledged record (nil while none ever was).
    public var lastSequence: UInt64?
    /// The sequence number the next acknowledged record will get (`lastSequence + 1`, or the
    /// first sequence of an empty WAL): with a checkpoint's next sequence, the unreplayed record count.
    public var nextSequence: UInt64
    /// The position last given to `markReplayed(upTo:)`.
    public var replayedPosition: WALPosition
    /// Bytes after `replayedPosition`: what the `maxUnreplayedBytes` cap is measured against.
    public var unreplayedBytes: Int64
    /// Bytes quarantined by this open (`.skipCorrupt`).
    public var quarantinedBytes: Int64
    public var isFailed: Bool
}
