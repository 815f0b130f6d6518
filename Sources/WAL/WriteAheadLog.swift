// The WAL module: a segmented, LZ4-compressed, CRC32C-checksummed write-ahead log of opaque
// byte records, with group commit, crash recovery, a reader cursor for the replayer, and
// retention. It knows nothing of HTTP, JSON or PostgreSQL. The byte layout is in
// docs/wal-format.md; the properties it keeps are in DESIGN.md, "The WAL".
import Logging

/// A write-ahead log in one directory.
///
/// `append` returns only once an fdatasync covers the records (under the default `.always`
/// policy), so an acknowledged record survives a crash. Concurrent appends share one write and
/// one fdatasync on a dedicated writer thread (see `GroupCommitWriter`).
///
/// Call `close()` when done; dropping the last reference also stops the writer thread, without
/// waiting for it.
public final class WriteAheadLog: Sendable {
    /// The most payload one append may carry (records plus 4 bytes each).
    public static let maxAppendBytes = BatchHeader.maxRawLength

    /// Internal (not private) so the power-cut driver can queue a round of appends as one group.
    let core: WALCore

    /// This directory's random id (`wal.id`); the replayer keeps it with its checkpoint so a checkpoint
    /// is never applied to a different (wiped or replaced) WAL directory.
    public let identity: String

    private init(core: WALCore, identity: String) {
        self.core = core
        self.identity = identity
    }

    deinit {
        core.withState { $0.closing = true }
        core.workAvailable.signal()
    }

    /// Opens the WAL in `configuration.directory` (creating it if needed) after recovering it:
    /// torn tails are cut off, corruption throws `.corruption` naming file and offset (or is
    /// quarantined in `.skipCorrupt` mode). See `docs/wal-format.md`, "Recovery".
    ///
    /// Opening reads the newest segment whole and only a few bytes of each sealed one, so it takes time
    /// bounded by the segment size, not the backlog; sealed batches are verified as readers reach them.
    public static func open(_ configuration: WALConfiguration, logger: Logger) throws -> WriteAheadLog {
        guard configuration.segmentSize > SegmentHeader.size + BatchHeader.size,
              configuration.maxGroupBytes > 0, configuration.maxGroupRecords > 0
        else {
            throw WALError(.invalidConfiguration, "segmentSize, maxGroupBytes and maxGroupRecords must be positive")
        }
        let recovered = try Recovery.run(configuration, logger: logger)
        let identity = try WALIdentity.loadOrCreate(directory: configuration.directory, fileSystem: configuration.fileSystem)
        guard let newest = recovered.segments.last else {
            throw WALError(.io, "recovery left no segment", file: configuration.directory)
        }
        let free = try configuration.fileSystem.availableBytes(configuration.directory)
        let state = WALState(
            recovered: recovered.segments, nextSequence: recovered.nextSequence, freeBytes: free,
            quarantinedBytes: recovered.quarantinedBytes)
        let core = WALCore(configuration: configuration, logger: logger, state: state)
        let file = try WALFile(path: newest.path, mode: .readWrite, fileSystem: configuration.fileSystem)
        GroupCommitWriter(core: core, active: file, activeId: newest.id, activeSize: newest.size).start()
        return WriteAheadLog(core: core, identity: identity)
    }

    /// Appends one record; see `append(contentsOf:)`.
    public func append(_ record: [UInt8]) async throws -> WALAppendResult {
        try await append(contentsOf: [record])
    }

    /// Appends records all-or-nothing: they go into one batch, so either all become durable or the
    /// call throws. Returns after the fdatasync covering them (`.always`).
    ///
    /// Throws `.overCapacity` or `.diskFull` before anything is written when the cap or the floor
    /// would be crossed, `.failed` once the WAL has stopped after an I/O error, `.closed` after
    /// `close()`, `.tooLarge` beyond `maxAppendBytes`. Not cancellable once queued: the outcome is
    /// that of its group. An empty array returns at once with `count == 0`.
    public func append(contentsOf records: [[UInt8]]) async throws -> WALAppendResult {
        var rawBytes = 0
        for record in records { rawBytes += 4 + record.count }
        guard rawBytes <= Self.maxAppendBytes else {
            throw WALError(.tooLarge, "append of \(rawBytes) bytes exceeds the batch limit of \(Self.maxAppendBytes)")
        }
        if records.isEmpty {
            return core.withState { WALAppendResult(position: $0.durableEnd, firstSequence: $0.nextSequence, count: 0) }
        }
        core.refreshFreeBytesIfStale()
        let configuration = core.configuration
        return try await withCheckedThrowingContinuation { continuation in
            let pending = PendingAppend(records: records, rawBytes: rawBytes, continuation: continuation)
            let refusal = core.withState {
                $0.admit(pending, maxUnreplayedBytes: configuration.maxUnreplayedBytes, minFreeDiskBytes: configuration.minFreeDiskBytes)
            }
            if let refusal {
                continuation.resume(throwing: refusal)
            } else {
                core.workAvailable.signal()
            }
        }
    }

    /// A cursor reading forward from `position` (a batch boundary, typically the replayer's
    /// checkpoint; `.start` for the oldest retained batch). It sees durable data only.
    public func reader(from position: WALPosition) -> WALReader {
        WALReader(core: core, position: position)
    }

    /// The configuration the WAL was opened with.
    public var configuration: WALConfiguration { core.configuration }

    public var stats: WALStats {
        core.withState { state in
            let oldest = state.segments.first
            return WALStats(
                segmentCount: state.segments.count,
                totalBytes: state.segments.reduce(0) { $0 + Int64($1.size) },
                oldestPosition: WALPosition(segment: oldest?.id ?? 0, offset: UInt64(SegmentHeader.size)),
                newestPosition: state.durableEnd,
                batchCount: state.segments.reduce(0) { $0 + $1.batches },
                recordCount: state.segments.reduce(0) { $0 + $1.records },
                lastSequence: state.lastSequence,
                nextSequence: state.lastSequence.map { $0 + 1 } ?? 1,
                replayedPosition: state.replayed,
                unreplayedBytes: max(0, state.writtenLogicalEnd - state.replayedLogical),
                quarantinedBytes: state.quarantinedBytes,
                isFailed: state.failure != nil)
        }
    }

    /// Bytes written after `position`.
    public func unreplayedBytes(after position: WALPosition) -> Int64 {
        core.withState { $0.unreplayedBytes(after: position) }
    }

    /// Tells the WAL what the replayer has durably applied (its checkpoint); the
    /// `maxUnreplayedBytes` cap counts the bytes after it. Moves forward only. Until it is first
    /// called after open, every retained byte counts as unreplayed.
    public func markReplayed(upTo position: WALPosition) {
        core.withState { $0.markReplayed(upTo: position) }
    }

    /// Deletes the segments wholly below `position` (never the one being written), oldest first,
    /// fsyncing the directory after each unlink. Returns how many were deleted.
    ///
    /// One fsync per unlink, not one for all: unlinks not yet covered by a directory fsync may each
    /// survive a power cut or not, so after `unlink 1, unlink 2, fsync` a cut can leave segment 1
    /// without segment 2, a gap strict recovery must refuse (found by the PowerCut suite, seeds 814,
    /// 1269, 2075). Segments are 64 MiB, so this is one fsync per 64 MiB replayed.
    public func deleteSegments(below position: WALPosition) throws -> Int {
        let removed = core.withState { $0.removeSegments(below: position) }
        guard !removed.isEmpty else { return 0 }
        let fileSystem = core.configuration.fileSystem
        for segment in removed {
            try fileSystem.unlink(segment.path)
            try fileSystem.syncDirectory(core.configuration.directory)
            core.logger.debug("deleted WAL segment", metadata: ["file": "\(segment.path)"])
        }
        return removed.count
    }

    /// Refuses new appends, lets the writer finish everything already queued (and, under
    /// `.interval`, sync it), then closes the segment. Throws if that last sync or close failed.
    public func close() async throws {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let finished = core.withState { state -> Bool in
                state.closing = true
                if state.writerFinished { return true }
                state.closeWaiters.append(continuation)
                return false
            }
            if finished { continuation.resume() } else { core.workAvailable.signal() }
        }
        if let error = core.withState({ $0.closeError }) { throw error }
    }

    /// True once a write or fdatasync failed: appends throw `.failed` until the WAL is reopened.
    public var isFailed: Bool {
        core.withState { $0.failure != nil }
    }
}
