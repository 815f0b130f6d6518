import Foundation
import Logging
import Metrics

/// The one thread that writes the WAL.
///
/// It takes everything queued (up to the group bounds), frames it as one LZ4 batch, does one
/// write and one fdatasync, and only then resumes every waiter: many appenders share the cost of
/// one fdatasync (group commit). It is a dedicated `Thread` because fdatasync blocks for
/// milliseconds and must not stall the Swift cooperative pool or a NIO event loop.
///
/// Errors are final (the PostgreSQL "fsyncgate" lesson): after a failed write or fdatasync the
/// group's waiters fail, the WAL enters the failed state, the partial batch is truncated away
/// (best effort; recovery cuts it otherwise), and the thread exits. fdatasync is never retried,
/// because a retry that "succeeds" proves nothing about the pages the failed one dropped.
/// Failing to create the next segment is not such an error: it happens before any byte of the
/// group is written and touches no acknowledged data (a process out of descriptors, a full disk),
/// so that group is refused and the next one tries again (`refuse`, `mustRotate`).
///
/// `@unchecked Sendable`: the stored vars are touched only by the writer thread once `start()`
/// has run; shared state lives in `core`, behind its lock.
final class GroupCommitWriter: @unchecked Sendable {
    private let core: WALCore
    private var active: WALFile
    private var activeId: UInt64
    private var activeSize: UInt64
    /// Where the zero-filled space ahead of `activeSize` ends (the file's size).
    private var allocatedEnd: UInt64
    private var encoder = BatchEncoder()
    /// `.interval` policy: when the oldest unsynced write happened (nil when all is synced).
    private var unsyncedSince: UInt64?
    private var lastSync: UInt64
    /// Set when creating the next segment failed: every later group rotates first (and is refused
    /// while creation keeps failing), so nothing more is written to the segment being sealed. That
    /// keeps a half-created next segment (renamed into place, then the directory fsync failed)
    /// consistent with the log: its header's first sequence is still the next one written, and the
    /// retry renames a fresh file over it.
    private var mustRotate = false
    /// The next segment's file, opened ahead as `<id>.wal.tmp`, and the WAL directory, kept open for
    /// its fsyncs: with both, a rotation needs no new descriptor, so it still works when the process
    /// has none left (an idle-connection flood, issue #23). Best effort: without them, rotation opens
    /// what it needs and a failure refuses the group (`refuse`).
    private var spare: (id: UInt64, file: WALFile)?
    private var directoryHandle: WALFile?

    // swift-metrics only; the executable picks the backend (Prometheus) and the histogram buckets.
    private let batchesCounter = Counter(label: "wal_batches_written_total")
    private let recordsCounter = Counter(label: "wal_records_appended_total")
    private let failuresCounter = Counter(label: "wal_write_failures_total")
    /// Groups refused because the next segment could not be created (the WAL stayed writable).
    private let refusalsCounter = Counter(label: "wal_segment_creation_failures_total")
    /// Group-commit size: how many records and bytes (as stored) shared one write and one fdatasync.
    private let groupRecords = Recorder(label: "wal_group_commit_records")
    private let groupBytes = Recorder(label: "wal_group_commit_bytes")
    /// The disk's share of every acknowledgement's latency.
    private let syncTimer = Metrics.Timer(label: "wal_fdatasync_seconds")

    init(core: WALCore, active: WALFile, activeId: UInt64, activeSize: UInt64) {
        self.core = core
        self.active = active
        self.activeId = activeId
        self.activeSize = activeSize
        allocatedEnd = activeSize  // recovery trimmed any zeros after the last batch
        lastSync = MonotonicClock.now()
        // Here, not on the writer thread: what is open when `open` returns does not depend on timing.
        let configuration = core.configuration
        directoryHandle = try? WALFile(path: configuration.directory, mode: .directory, fileSystem: configuration.fileSystem)
        prepareSpare()
    }

    /// Opens the file of the segment after the active one (see `spare`); a failure is logged at debug
    /// and leaves the work to the rotation.
    private func prepareSpare() {
        let configuration = core.configuration
        let id = activeId + 1
        do {
            spare = (id, try SegmentFile.prepare(directory: configuration.directory, id: id, fileSystem: configuration.fileSystem))
        } catch {
            spare = nil
            core.logger.debug("could not open the next WAL segment ahead; the rotation will", metadata: ["error": "\(error)"])
        }
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "wal-writer"
        thread.start()
    }

    private enum Work {
        case group([PendingAppend], firstSequence: UInt64)
        case sync
    }

    private func run() {
        while let work = nextWork() {
            switch work {
            case .group(let appends, let firstSequence): write(appends, firstSequence: firstSequence)
            case .sync: syncActive()
            }
        }
        finish()
    }

    /// Sleeps until there is a group to write, an interval sync is due, or the WAL is closing
    /// (after the queue is drained) or failed: then nil.
    private func nextWork() -> Work? {
        let configuration = core.configuration
        return core.withState { state -> Work? in
            while true {
                if state.failure != nil { return nil }
                if let (appends, first) = state.takeGroup(maxBytes: configuration.maxGroupBytes, maxRecords: configuration.maxGroupRecords) {
                    return .group(appends, firstSequence: first)
                }
                if unsyncedSince != nil, case .interval(let interval) = configuration.fsyncPolicy {
                    let deadline = lastSync &+ MonotonicClock.nanoseconds(interval)
                    if state.closing || MonotonicClock.now() >= deadline { return .sync }
                    core.workAvailable.wait(until: deadline)
                    continue
                }
                if state.closing { return nil }
                core.workAvailable.wait()
            }
        }
    }

    private func write(_ appends: [PendingAppend], firstSequence: UInt64) {
        let configuration = core.configuration
        encoder.reset()
        for append in appends {
            for record in append.records { encoder.add(record) }
        }
        encoder.compress()
        let length = encoder.frameLength
        let recordCount = encoder.recordCount

        // The free-space floor, checked again with a fresh figure now that the size is known: a
        // refusal here writes nothing and does not fail the WAL.
        core.refreshFreeBytesIfStale()
        let free = core.withState { state -> Int64 in
            if state.freeBytes - Int64(length) < configuration.minFreeDiskBytes {
                // Only this thread takes groups, so no later group has been numbered yet: give the
                // numbers back, or the next batch would leave a sequence gap that recovery flags.
                state.nextSequence = firstSequence
            }
            return state.freeBytes
        }
        if free - Int64(length) < configuration.minFreeDiskBytes {
            let error = WALError(.diskFull, "\(free) bytes free; the floor is \(configuration.minFreeDiskBytes)")
            for append in appends { append.continuation.resume(throwing: error) }
            return
        }

        do {
            if mustRotate || (activeSize > UInt64(SegmentHeader.size) && activeSize + UInt64(length) > UInt64(configuration.segmentSize)) {
                try rotate(firstSequence: firstSequence)
            }
        } catch let failure as SegmentCreationFailure {
            refuse(appends, firstSequence: firstSequence, error: failure.error)
            return
        } catch {
            fail(appends, error: error, truncateTo: nil)
            return
        }

        let offset = activeSize
        var durable = false
        do {
            try allocate(upTo: offset + UInt64(length))
            try encoder.withFrame(segmentId: activeId, firstSequence: firstSequence) { frame in
                try active.writeAll(frame, at: offset)
            }
            activeSize = offset + UInt64(length)
            switch configuration.fsyncPolicy {
            case .always:
                try timedDataSync()
                durable = true
            case .interval(let interval):
                let now = MonotonicClock.now()
                if unsyncedSince == nil { unsyncedSince = now }
                if now &- lastSync >= MonotonicClock.nanoseconds(interval) {
                    try timedDataSync()
                    markSynced(now)
                    durable = true
                }
            }
        } catch {
            activeSize = offset
            fail(appends, error: error, truncateTo: offset)
            return
        }

        let position = WALPosition(segment: activeId, offset: offset)
        core.withState { state in
            state.batchWritten(
                offset: offset, length: length, records: recordCount,
                lastSequence: firstSequence + UInt64(recordCount) - 1, durable: durable)
        }
        if durable { core.dataDurable.broadcast() }
        batchesCounter.increment()
        recordsCounter.increment(by: Int64(recordCount))
        groupRecords.record(recordCount)
        groupBytes.record(length)

        var sequence = firstSequence
        for append in appends {
            append.continuation.resume(returning: WALAppendResult(position: position, firstSequence: sequence, count: append.records.count))
            sequence += UInt64(append.records.count)
        }
    }

    /// Zero-fills the active segment ahead of `end` by up to ``WALConfiguration/preallocationBytes``
    /// (not past the segment size), so the next fdatasyncs overwrite blocks the file already has. The
    /// zeros become durable with the group's own fdatasync; a crash before that leaves zeros or a
    /// shorter file, and recovery trims zeros after the last valid batch either way.
    /// It stays above the free-space floor: the group itself was checked against the floor, the zeros
    /// ahead of it only use what is spare, so they never turn a full disk into a failed write.
    private func allocate(upTo end: UInt64) throws {
        let configuration = core.configuration
        guard end > allocatedEnd, configuration.preallocationBytes > 0 else { return }
        let spare = max(0, core.withState { $0.freeBytes } - configuration.minFreeDiskBytes)
        let step = UInt64(min(Int64(configuration.preallocationBytes), spare))
        let target = max(end, min(allocatedEnd + step, UInt64(configuration.segmentSize)))
        try active.writeZeros(from: allocatedEnd, to: target)
        allocatedEnd = target
    }

    /// Seals the active segment (synced first under `.interval`, so the durable end never skips
    /// over unsynced bytes) and continues in a new one.
    private func rotate(firstSequence: UInt64) throws {
        if unsyncedSince != nil {
            try timedDataSync()
            markSynced(MonotonicClock.now())
        }
        let configuration = core.configuration
        let id = activeId + 1
        // Trimmed and synced before the next segment exists: recovery checks sealed segments without
        // scanning them (`Recovery.checkSegments`), so a sealed segment must end at its last batch.
        trimPreallocated(sync: true)
        let file: WALFile
        do {
            let prepared = spare?.id == id ? spare?.file : nil
            spare = nil
            file = try SegmentFile.create(
                directory: configuration.directory, id: id, firstSequence: firstSequence, fileSystem: configuration.fileSystem,
                spare: prepared, directoryHandle: directoryHandle)
        } catch {
            let failure = SegmentCreationFailure(segment: id, cause: error)
            if !mustRotate {  // one line per outage, not one per refused group
                core.logger.error("could not create the next WAL segment; refusing batches until it can", metadata: [
                    "file": "\(failure.error.file ?? "-")", "operation": "\(failure.error.operation ?? "-")", "error": "\(failure.error)",
                ])
            }
            mustRotate = true
            throw failure
        }
        let recovered = mustRotate
        mustRotate = false
        do { try active.close() } catch {
            core.logger.warning("closing a sealed segment failed", metadata: ["file": "\(active.path)", "error": "\(error)"])
        }
        active = file
        activeId = id
        activeSize = UInt64(SegmentHeader.size)
        allocatedEnd = activeSize
        core.withState { $0.segmentCreated(id: id, path: file.path, firstSequence: firstSequence) }
        core.logger.info("WAL segment rotated", metadata: ["file": "\(file.path)", "segment": "\(id)"])
        prepareSpare()
        if recovered { core.logger.info("WAL segment created after earlier failures; accepting batches again", metadata: ["segment": "\(id)"]) }
    }

    /// Cuts the unused zeros off the active segment before it is sealed (`sync`: and makes the new size
    /// durable) or closed. Best effort: if the cut is lost, the segment's last bytes are zeros, and
    /// recovery scans it whole and trims them; no acknowledged byte depends on it.
    private func trimPreallocated(sync: Bool = false) {
        guard allocatedEnd > activeSize else { return }
        do {
            try active.truncate(to: activeSize)
            if sync { try active.dataSync() }
            allocatedEnd = activeSize
        } catch {
            core.logger.warning("could not trim preallocated WAL space; recovery will", metadata: [
                "file": "\(active.path)", "offset": "\(activeSize)", "error": "\(error)",
            ])
        }
    }

    private func syncActive() {
        do {
            try timedDataSync()
            markSynced(MonotonicClock.now())
        } catch {
            fail([], error: error, truncateTo: nil)
        }
    }

    private func timedDataSync() throws {
        let started = MonotonicClock.now()
        try active.dataSync()
        syncTimer.recordNanoseconds(Int64(MonotonicClock.now() &- started))
    }

    private func markSynced(_ now: UInt64) {
        lastSync = now
        unsyncedSince = nil
        core.withState { $0.synced() }
        core.dataDurable.broadcast()
    }

    /// Refuses a group that nothing was written for (the next segment could not be created): its
    /// waiters get the error, its sequence numbers are given back (only this thread takes groups, so
    /// none was handed out after them), and the WAL stays writable. Groups queued behind it are
    /// tried in turn, each first trying the rotation again.
    private func refuse(_ appends: [PendingAppend], firstSequence: UInt64, error: WALError) {
        core.withState { $0.nextSequence = firstSequence }
        refusalsCounter.increment()
        for append in appends { append.continuation.resume(throwing: error) }
    }

    /// Fail-stop: fails this group's waiters with the cause and everything queued with `.failed`.
    private func fail(_ appends: [PendingAppend], error: any Error, truncateTo offset: UInt64?) {
        let cause = error as? WALError ?? WALError(.io, "\(error)", underlying: error)
        failuresCounter.increment()
        core.logger.error("WAL write failed; refusing appends until reopened", metadata: [
            "file": "\(cause.file ?? active.path)", "operation": "\(cause.operation ?? "-")", "error": "\(cause)",
        ])
        if let offset {
            // Best effort, and deliberately not followed by an fsync: recovery cuts a torn tail anyway.
            do { try active.truncate(to: offset) } catch {
                core.logger.error("could not truncate the partial batch; recovery will", metadata: [
                    "file": "\(active.path)", "offset": "\(offset)", "error": "\(error)",
                ])
            }
        }
        let queued = core.withState { $0.fail(cause) }
        core.dataDurable.broadcast()
        for append in appends { append.continuation.resume(throwing: cause) }
        let refused = WALError(.failed, "the WAL stopped after an I/O failure; reopen it to recover", underlying: cause)
        for append in queued { append.continuation.resume(throwing: refused) }
    }

    private func finish() {
        var closeError: WALError?
        if unsyncedSince != nil && core.withState({ $0.failure == nil }) {
            do {
                try active.dataSync()
                markSynced(MonotonicClock.now())
            } catch {
                closeError = error as? WALError
            }
        }
        if core.withState({ $0.failure == nil }) { trimPreallocated() }
        do { try active.close() } catch {
            closeError = closeError ?? (error as? WALError)
        }
        if let spare {  // never used: an empty file; a leftover one would be removed at the next open
            try? spare.file.close()
            try? core.configuration.fileSystem.unlink(spare.file.path)
            self.spare = nil
        }
        try? directoryHandle?.close()
        directoryHandle = nil
        let waiters = core.withState { state -> [CheckedContinuation<Void, Never>] in
            state.writerFinished = true
            state.closeError = closeError
            let waiters = state.closeWaiters
            state.closeWaiters.removeAll()
            return waiters
        }
        core.dataDurable.broadcast()
        for waiter in waiters { waiter.resume() }
    }
}

/// Creating the next segment failed before any byte of the group was written (see `refuse`).
private struct SegmentCreationFailure: Error {
    let error: WALError

    init(segment: UInt64, cause: any Error) {
        let underlying = cause as? WALError
        // ENOSPC keeps its code, so clients are told the disk is full and to come back later.
        let code: WALError.Code = underlying?.code == .diskFull ? .diskFull : .segmentUnavailable
        error = WALError(
            code, "could not create WAL segment \(segment); the batch was refused and creation is tried again with the next one",
            file: underlying?.file, errno: underlying?.errno, operation: underlying?.operation, underlying: cause)
    }
}
