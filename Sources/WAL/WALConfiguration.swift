/// When the writer calls `fdatasync`.
public enum WALFsyncPolicy: Sendable, Equatable {
    /// Every group is made durable before any of its appends returns. The default, and the only
    /// policy under which "acknowledged" means "survives a power cut".
    case always
    /// Appends return once their group is written to the page cache; the writer calls `fdatasync`
    /// at most once per interval (and on rotation and close). This accepts a window of loss: a crash
    /// can lose up to one interval of acknowledged appends, and may leave a hole that strict recovery
    /// reports as corruption. Readers still only see data after it has been synced.
    case interval(Duration)
}

/// What opening does when it finds bad bytes that are not a torn tail.
public enum WALRecoveryMode: Sendable, Equatable {
    /// Refuse to open with `WALError.Code.corruption`, naming the file and byte offset.
    case strict
    /// Copy the bad bytes to a quarantine file beside the segment
    /// (`<segment>.wal.<offset>.quarantine`), count them (`wal_quarantined_bytes_total`), and go on.
    /// The bad bytes stay in the segment; readers step over them.
    case skipCorrupt
}

/// Everything `WriteAheadLog.open` needs. Defaults follow `DESIGN.md`.
public struct WALConfiguration: Sendable {
    /// The directory holding the segment files; created when missing.
    public var directory: String
    /// A segment is rotated when the next batch would push it past this size. A single batch larger
    /// than this still goes into a segment of its own: batches never span segments.
    public var segmentSize: Int = 64 << 20
    /// Upper bounds of one group (one write and one fdatasync). A single append larger than these
    /// still forms a group of its own, because an append is all-or-nothing.
    public var maxGroupBytes: Int = 1 << 20
    public var maxGroupRecords: Int = 16_384
    /// The writer zero-fills the active segment this far ahead of its end (0: never). fdatasync after
    /// an append that grows the file must also commit the file system's journal (the new size and
    /// blocks); after an overwrite of blocks already written it flushes data only. Measured here:
    /// 262–281 µs per 2 KB write + fdatasync when appending, 167–190 µs into zero-filled space. So
    /// the journal commit happens once per this many bytes instead of once per group, as PostgreSQL
    /// does by zero-filling its WAL segments. Recovery trims zeros after the last batch.
    public var preallocationBytes: Int = 4 << 20
    public var fsyncPolicy: WALFsyncPolicy = .always
    /// Appends are refused (`.overCapacity`) when the bytes after the position given to
    /// `markReplayed(upTo:)` would exceed this.
    public var maxUnreplayedBytes: Int64 = 8 << 30
    /// Appends are refused (`.diskFull`) when free space on the WAL's file system would drop below
    /// this. Checked with statvfs at most every 100 ms.
    public var minFreeDiskBytes: Int64 = 256 << 20
    public var recoveryMode: WALRecoveryMode = .strict
    /// The I/O the WAL does goes through this, so tests can inject short writes, ENOSPC and failed
    /// fdatasync calls.
    public var fileSystem: any WALFileSystem = POSIXFileSystem()

    public init(directory: String) {
        self.directory = directory
    }
}
