/// What recovery does about the bad bytes it found.
enum RecoveryAction: Equatable, Sendable {
    /// Torn tail of the newest segment: cut the file at `offset` (ftruncate + fsync).
    case truncate(path: String, offset: UInt64, defect: FrameDefect)
    /// The newest segment holds no valid header and no valid batch (a torn creation): delete it.
    case removeNewest(path: String)
    /// `.skipCorrupt`: copy these bytes to a quarantine file; readers step over them.
    case quarantine(path: String, range: Range<UInt64>, defect: FrameDefect)
    /// `.skipCorrupt`: an inconsistency that loses no bytes (a missing segment, a sequence gap).
    case warn(path: String, message: String)
    /// Zeros after the last batch (space zero-filled ahead): cut the file at `offset`. Not a defect.
    case trimZeros(path: String, offset: UInt64)
}

/// One segment as recovery leaves it.
struct RecoveredSegment: Equatable, Sendable {
    var id: UInt64
    var path: String
    /// File size once the actions have run (a torn tail or zero-filled space cut off).
    var size: UInt64
    var batches: Int
    var records: Int
    var firstSequence: UInt64
    /// Byte ranges readers step over (quarantined bytes, which stay in the file).
    var skipRanges: [Range<UInt64>]
}

struct RecoveryPlan: Equatable, Sendable {
    var actions: [RecoveryAction] = []
    var segments: [RecoveredSegment] = []
    /// The sequence number the next record gets.
    var nextSequence: UInt64 = 1
    /// The id for a new segment if none is left.
    var nextSegmentId: UInt64 = 1
}

/// Decides, from the scans of all segments (oldest first), which bad bytes are a torn tail and
/// which are corruption. Pure: no I/O, so every case is tested on bytes alone.
///
/// The rule (DESIGN.md, "The WAL", 3): only bad bytes at the very end of the newest segment, with
/// nothing valid after them, can be a write that the crash interrupted, and nothing in them was
/// acknowledged, so they are cut off. Anything else lost acknowledged data: strict mode refuses to
/// open, naming the file and offset; skip mode quarantines the bytes and goes on.
enum RecoveryPlanner {
    /// 2⁶², far beyond any real WAL (a segment of 64 MiB per id), and room for `id + 1` everywhere.
    static let maxSegmentId: UInt64 = 1 << 62

    static func plan(_ input: [(path: String, scan: SegmentScan)], mode: WALRecoveryMode) throws(WALError) -> RecoveryPlan {
        // Ids count up by one per segment from 1; one this large is a foreign or renamed file, and
        // the next segment's id would overflow. Refused in both modes: nothing can follow it.
        for (path, scan) in input where scan.segmentId > Self.maxSegmentId {
            throw WALError(
                .corruption, "segment id \(scan.segmentId) is beyond the largest a WAL writes (\(Self.maxSegmentId)); move the file out of the WAL directory",
                file: path, offset: 0, operation: "recovery")
        }
        var plan = RecoveryPlan()
        var scans = input
        if let newest = scans.last, newest.scan.header == nil, newest.scan.batches.isEmpty {
            plan.actions.append(.removeNewest(path: newest.path))
            plan.nextSegmentId = newest.scan.segmentId
            scans.removeLast()
        }

        var previous: (id: UInt64, nextSequence: UInt64, endedCleanly: Bool)?
        for (index, entry) in scans.enumerated() {
            let (path, scan) = entry
            let isNewest = index == scans.count - 1
            var skipRanges: [Range<UInt64>] = []

            func problem(_ offset: UInt64, _ message: String) throws(WALError) {
                guard mode == .skipCorrupt else {
                    throw WALError(.corruption, message, file: path, offset: offset, operation: "recovery")
                }
                plan.actions.append(.warn(path: path, message: "offset \(offset): \(message)"))
            }
            func bad(_ region: SegmentScan.Region, _ message: String) throws(WALError) {
                guard mode == .skipCorrupt else {
                    throw WALError(.corruption, "\(message): \(region.defect)", file: path, offset: region.range.lowerBound, operation: "recovery")
                }
                plan.actions.append(.quarantine(path: path, range: region.range, defect: region.defect))
                skipRanges.append(region.range)
            }

            if let previous, scan.segmentId != previous.id + 1 {
                try problem(0, "segments \(previous.id + 1) to \(scan.segmentId - 1) are missing")
            }
            let firstSequence = scan.header?.firstSequence ?? scan.batches.first?.header.firstSequence ?? previous?.nextSequence ?? 1
            if let previous, previous.endedCleanly, let header = scan.header, header.firstSequence != previous.nextSequence {
                try problem(0, "segment starts at sequence \(header.firstSequence), previous segment ends at \(previous.nextSequence)")
            }
            for region in scan.badRegions {
                try bad(region, "bad bytes followed by valid batches")
            }
            for gap in scan.sequenceBreaks {
                try problem(gap.offset, "batch has first sequence \(gap.found), expected \(gap.expected)")
            }
            var size = scan.dataEnd
            if scan.zeroTail != nil {
                plan.actions.append(.trimZeros(path: path, offset: size))
            }
            if let tail = scan.tail {
                if isNewest {
                    plan.actions.append(.truncate(path: path, offset: tail.range.lowerBound, defect: tail.defect))
                    size = tail.range.lowerBound
                } else {
                    try bad(tail, "bad bytes at the end of a segment that is not the newest")
                }
            }

            let nextSequence = scan.nextSequence ?? firstSequence
            plan.segments.append(RecoveredSegment(
                id: scan.segmentId, path: path, size: size, batches: scan.batches.count,
                records: scan.recordCount, firstSequence: firstSequence, skipRanges: skipRanges))
            previous = (scan.segmentId, nextSequence, scan.tail == nil)
        }
        if let previous {
            plan.nextSequence = previous.nextSequence
            plan.nextSegmentId = previous.id + 1
        }
        return plan
    }
}
