/// An append waiting for its group to be written: its records, their payload size, and the
/// continuation its caller is suspended on.
struct PendingAppend: Sendable {
    var records: [[UInt8]]
    /// Payload bytes: 4-byte length prefix plus the bytes of each record.
    var rawBytes: Int
    var continuation: CheckedContinuation<WALAppendResult, any Error>

    /// The most this append can add to disk (payload stored raw plus a frame header). Used for the
    /// capacity and free-space checks before anything is written.
    var estimatedBytes: Int64 { Int64(rawBytes + BatchHeader.size) }
}

/// One retained segment as the running WAL sees it.
struct SegmentState: Equatable, Sendable {
    var id: UInt64
    var path: String
    /// Bytes written (durable under `.always`).
    var size: UInt64
    var batches: Int
    var records: Int
    var firstSequence: UInt64
    /// Bytes written to all segments before this one since open: makes "bytes after a position"
    /// a subtraction instead of a sum over segments.
    var logicalStart: Int64
    /// Quarantined bytes readers step over.
    var skipRanges: [Range<UInt64>]
}

/// Where a reader at some position goes next (see `WALState.readStep(at:)`).
enum ReadStep: Equatable {
    /// Nothing durable at or after the position.
    case caughtUp
    /// The position is not a readable batch boundary; continue from this one (always further on).
    case move(WALPosition)
    /// Read the batch at `offset` of `path`; durable bytes end at `limit`.
    case read(path: String, offset: UInt64, limit: UInt64)
}

/// Everything the appenders, the writer thread and the readers share. Lives inside `WALCore`
/// and is only touched under its lock; the methods are pure bookkeeping, no I/O, so they are
/// tested directly.
struct WALState {
    var segments: [SegmentState]
    var queue: [PendingAppend] = []
    var queuedBytes: Int64 = 0
    /// The sequence number of the next record taken into a group.
    var nextSequence: UInt64
    /// The sequence number of the last acknowledged record, if any.
    var lastSequence: UInt64?
    /// Readers see data up to here: the end of the last batch covered by an fdatasync.
    var durableEnd: WALPosition
    var replayed = WALPosition.start
    var replayedLogical: Int64 = 0
    var failure: WALError?
    var closing = false
    var writerFinished = false
    var closeError: WALError?
    var closeWaiters: [CheckedContinuation<Void, Never>] = []
    /// Free bytes on the WAL's file system, from the last statvfs minus what was written since.
    var freeBytes: Int64
    var quarantinedBytes: Int64

    init(recovered: [RecoveredSegment], nextSequence: UInt64, freeBytes: Int64, quarantinedBytes: Int64) {
        var logical: Int64 = 0
        segments = recovered.map { segment in
            defer { logical += Int64(segment.size) }
            return SegmentState(
                id: segment.id, path: segment.path, size: segment.size, batches: segment.batches,
                records: segment.records, firstSequence: segment.firstSequence, logicalStart: logical,
                skipRanges: segment.skipRanges)
        }
        self.nextSequence = nextSequence
        lastSequence = nextSequence > 1 ? nextSequence - 1 : nil
        let newest = segments.last
        durableEnd = WALPosition(segment: newest?.id ?? 0, offset: newest?.size ?? 0)
        self.freeBytes = freeBytes
        self.quarantinedBytes = quarantinedBytes
    }

    var writtenLogicalEnd: Int64 {
        guard let newest = segments.last else { return 0 }
        return newest.logicalStart + Int64(newest.size)
    }

    /// Bytes of all segments before `position` since open, clamped to what exists.
    func logical(of position: WALPosition) -> Int64 {
        for segment in segments where segment.id >= position.segment {
            if segment.id > position.segment { return segment.logicalStart }
            return segment.logicalStart + Int64(min(position.offset, segment.size))
        }
        return writtenLogicalEnd
    }

    func unreplayedBytes(after position: WALPosition) -> Int64 {
        max(0, writtenLogicalEnd - logical(of: position))
    }

    mutating func markReplayed(upTo position: WALPosition) {
        guard position > replayed else { return }
        replayed = position
        replayedLogical = max(replayedLogical, logical(of: position))
    }

    /// Queues an append, or says why not. Nothing is queued when it is refused, so a refused append
    /// leaves nothing behind, on disk or in memory.
    mutating func admit(_ append: PendingAppend, maxUnreplayedBytes: Int64, minFreeDiskBytes: Int64) -> WALError? {
        if let failure {
            return WALError(.failed, "the WAL stopped after an I/O failure; reopen it to recover", underlying: failure)
        }
        if closing { return WALError(.closed, "the WAL is closed") }
        let estimate = append.estimatedBytes
        let unreplayed = writtenLogicalEnd - replayedLogical + queuedBytes
        if unreplayed + estimate > maxUnreplayedBytes {
            return WALError(.overCapacity, "\(unreplayed) unreplayed bytes; the cap is \(maxUnreplayedBytes)")
        }
        if freeBytes - queuedBytes - estimate < minFreeDiskBytes {
            return WALError(.diskFull, "\(freeBytes) bytes free; the floor is \(minFreeDiskBytes)")
        }
        queue.append(append)
        queuedBytes += estimate
        return nil
    }

    /// Takes the next group off the queue: appends in arrival order while the group stays within
    /// the bounds (an oversized single append forms a group alone), and numbers its records.
    mutating func takeGroup(maxBytes: Int, maxRecords: Int) -> (appends: [PendingAppend], firstSequence: UInt64)? {
        guard !queue.isEmpty else { return nil }
        var count = 0
        var bytes = 0
        var records = 0
        var estimate: Int64 = 0
        for append in queue {
            if count > 0 && (bytes + append.rawBytes > maxBytes || records + append.records.count > maxRecords) { break }
            count += 1
            bytes += append.rawBytes
            records += append.records.count
            estimate += append.estimatedBytes
        }
        let group: [PendingAppend]
        if count == queue.count {
            group = queue  // the usual case: hand over the whole buffer, no element copies
            queue = []
        } else {
            group = Array(queue.prefix(count))
            queue.removeFirst(count)
        }
        queuedBytes -= estimate
        let first = nextSequence
        nextSequence += UInt64(records)
        return (group, first)
    }

    /// A batch was written at `offset` of the active segment; `durable` when an fdatasync covers it.
    mutating func batchWritten(offset: UInt64, length: Int, records: Int, lastSequence: UInt64, durable: Bool) {
        guard var active = segments.popLast() else { return }
        active.size = offset + UInt64(length)
        active.batches += 1
        active.records += records
        segments.append(active)
        self.lastSequence = lastSequence
        freeBytes -= Int64(length)
        if durable { durableEnd = WALPosition(segment: active.id, offset: active.size) }
    }

    /// An fdatasync covered everything written so far.
    mutating func synced() {
        guard let active = segments.last else { return }
        durableEnd = WALPosition(segment: active.id, offset: active.size)
    }

    mutating func segmentCreated(id: UInt64, path: String, firstSequence: UInt64) {
        segments.append(SegmentState(
            id: id, path: path, size: UInt64(SegmentHeader.size), batches: 0, records: 0,
            firstSequence: firstSequence, logicalStart: writtenLogicalEnd, skipRanges: []))
    }

    /// Enters the failed state and hands back every queued append, to be failed by the caller.
    mutating func fail(_ error: WALError) -> [PendingAppend] {
        if failure == nil { failure = error }
        let queued = queue
        queue.removeAll()
        queuedBytes = 0
        return queued
    }

    /// Removes the segments wholly below `position` (never the active one) and returns them.
    mutating func removeSegments(below position: WALPosition) -> [SegmentState] {
        var removed: [SegmentState] = []
        while segments.count > 1, let oldest = segments.first,
              oldest.id < position.segment || (oldest.id == position.segment && position.offset >= oldest.size) {
            removed.append(segments.removeFirst())
        }
        return removed
    }

    func readStep(at position: WALPosition) -> ReadStep {
        guard let oldest = segments.first else { return .caughtUp }
        let header = UInt64(SegmentHeader.size)
        if position.segment < oldest.id { return .move(WALPosition(segment: oldest.id, offset: header)) }
        if position >= durableEnd { return .caughtUp }
        guard let index = segments.firstIndex(where: { $0.id >= position.segment }) else { return .caughtUp }
        let segment = segments[index]
        if segment.id != position.segment || position.offset < header {
            return .move(WALPosition(segment: segment.id, offset: header))
        }
        if let skip = segment.skipRanges.first(where: { $0.contains(position.offset) }) {
            return .move(WALPosition(segment: segment.id, offset: skip.upperBound))
        }
        let limit = segment.id == durableEnd.segment ? durableEnd.offset : segment.size
        if position.offset >= limit {
            guard segment.id < durableEnd.segment, index + 1 < segments.count else { return .caughtUp }
            return .move(WALPosition(segment: segments[index + 1].id, offset: header))
        }
        return .read(path: segment.path, offset: position.offset, limit: limit)
    }

    /// Whether a reader at `position` has a durable batch to read. Each step moves forward, and
    /// there are finitely many segments and skip ranges, so this ends.
    func hasDurableData(after position: WALPosition) -> Bool {
        var current = position
        while true {
            switch readStep(at: current) {
            case .caughtUp: return false
            case .read: return true
            case .move(let next): current = next
            }
        }
    }
}
