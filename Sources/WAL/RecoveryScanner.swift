/// What one segment's bytes contain: its valid batches and its bad regions. A pure function of the
/// bytes and the id from the file name; the decision what to do about bad bytes is the
/// `RecoveryPlanner`'s.
struct SegmentScan: Equatable, Sendable {
    struct Region: Equatable, Sendable {
        var range: Range<UInt64>
        /// What was wrong at `range.lowerBound`.
        var defect: FrameDefect
    }

    struct SequenceBreak: Equatable, Sendable {
        var offset: UInt64
        var expected: UInt64
        var found: UInt64
    }

    var segmentId: UInt64
    var fileSize: UInt64
    /// nil when the segment header is bad (then a region starting at 0 says why).
    var header: SegmentHeader?
    var batches: [FrameLocation] = []
    /// Bad bytes with a valid batch right after them: never a torn write. A `.decode` scan also
    /// puts here each batch whose CRC32C matches but whose payload does not decode: written whole
    /// by the writer, so never a torn write either.
    var badRegions: [Region] = []
    /// Bad bytes running to the end of the file with no valid batch after them. In the newest
    /// segment this is a torn tail; in an older one, corruption.
    var tail: Region?
    /// Valid batches whose first sequence does not continue the batch before them.
    var sequenceBreaks: [SequenceBreak] = []
    /// Zeros from right after the last valid batch (or the header) to the end of the file: space the
    /// writer zero-filled ahead (``WALConfiguration/preallocationBytes``), or a batch whose write
    /// the crash lost whole (never acknowledged). Either way nothing: trimmed, not a torn tail.
    var zeroTail: Range<UInt64>?
    /// Set when recovery only checked this sealed segment (`Recovery.checkSealed`) instead of
    /// scanning it: the sequence numbers of its records, from its header's first sequence to the next
    /// segment's. `batches` is then empty; readers verify each batch as they read it.
    var unscanned: Range<UInt64>?

    /// Where the valid data ends: after the last valid batch (or the header).
    var validEnd: UInt64 { batches.last?.end ?? UInt64(min(Int(fileSize), SegmentHeader.size)) }
    var recordCount: Int {
        if let unscanned { return unscanned.count }
        return batches.reduce(0) { $0 + Int($1.header.recordCount) }
    }
    /// The sequence number after the last valid batch.
    var nextSequence: UInt64? {
        if let unscanned { return unscanned.upperBound }
        if let last = batches.last { return last.header.firstSequence + UInt64(last.header.recordCount) }
        return header?.firstSequence
    }
    var isClean: Bool { header != nil && badRegions.isEmpty && tail == nil && sequenceBreaks.isEmpty }
    /// The file size once a zero tail is trimmed.
    var dataEnd: UInt64 { zeroTail?.lowerBound ?? fileSize }
}

/// How much of each batch a scan checks.
enum PayloadCheck: Sendable {
    /// Header, length and CRC32C (`BatchFrame.locate`). The CRC covers the header and the stored
    /// payload, so this finds every batch boundary and every torn, lost or damaged byte exactly as a
    /// decoding scan does; what it leaves out is a payload that the writer itself framed wrong.
    /// Open scans the newest segment this way (the LZ4 decode of ~64 MiB was most of start-up);
    /// readers decode every batch they return, and treat one that does not decode as corruption.
    case checksum
    /// Also decodes every payload (`wal verify`, `wal inspect`, the reader's quarantine).
    case decode
}

enum RecoveryScanner {
    /// Scans a whole segment. After a bad spot it looks for the next offset where the batch magic
    /// starts a batch that passes the checks (header, length, CRC32C): that is how a bad region with
    /// valid data after it (corruption) is told from bad bytes at the end (torn tail). With
    /// `.decode`, a batch that passes them but does not decode is a bad region of its own (its CRC
    /// says the writer wrote it whole: corruption, not a torn tail), and the scan goes on after it.
    ///
    /// Every step moves `position` forward, so the scan ends after at most `bytes.count` steps;
    /// recovery can not loop.
    static func scan(_ bytes: UnsafeRawBufferPointer, segmentId: UInt64, payloads: PayloadCheck = .decode) -> SegmentScan {
        var result = SegmentScan(segmentId: segmentId, fileSize: UInt64(bytes.count))
        var scratch: [UInt8] = []
        var badStart: Int?
        var badDefect: FrameDefect = .badMagic
        var expectedSequence: UInt64?

        switch SegmentHeader.decode(bytes, expectedSegmentId: segmentId) {
        case .success(let header):
            result.header = header
            expectedSequence = header.firstSequence
        case .failure(let defect):
            badStart = 0
            badDefect = defect
        }

        var position = min(SegmentHeader.size, bytes.count)
        while position < bytes.count {
            if badStart == nil, result.header != nil, allZero(bytes, from: position) {
                result.zeroTail = UInt64(position)..<UInt64(bytes.count)
                break
            }
            switch BatchFrame.locate(bytes, at: position, segmentId: segmentId) {
            case .success(let frame):
                if let start = badStart {
                    result.badRegions.append(.init(range: UInt64(start)..<UInt64(position), defect: badDefect))
                    badStart = nil
                    expectedSequence = nil  // the bad bytes may have held batches: no expectation across them
                }
                if payloads == .decode, let defect = BatchFrame.payloadDefect(bytes, frame: frame, scratch: &scratch) {
                    result.badRegions.append(.init(range: frame.offset..<frame.end, defect: defect))
                    expectedSequence = nil
                    position = Int(frame.end)
                    continue
                }
                if let expected = expectedSequence, expected != frame.header.firstSequence {
                    result.sequenceBreaks.append(.init(offset: frame.offset, expected: expected, found: frame.header.firstSequence))
                }
                expectedSequence = frame.header.firstSequence + UInt64(frame.header.recordCount)
                result.batches.append(frame)
                position = Int(frame.end)
            case .failure(let defect):
                if badStart == nil {
                    badStart = position
                    badDefect = defect
                }
                position = nextMagic(in: bytes, after: position) ?? bytes.count
            }
        }
        if let start = badStart {
            result.tail = .init(range: UInt64(start)..<UInt64(bytes.count), defect: badDefect)
        }
        return result
    }

    /// Whether every byte from `position` to the end is zero. Called at each batch boundary, where the
    /// next batch's magic ends it at once; only a zero-filled tail (megabytes) is read whole, a word
    /// at a time.
    static func allZero(_ bytes: UnsafeRawBufferPointer, from position: Int) -> Bool {
        var index = position
        while index + 8 <= bytes.count {
            if bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) != 0 { return false }
            index += 8
        }
        while index < bytes.count {
            if bytes[index] != 0 { return false }
            index += 1
        }
        return true
    }

    /// The next offset after `position` where the batch magic starts, if any.
    static func nextMagic(in bytes: UnsafeRawBufferPointer, after position: Int) -> Int? {
        let magic = BatchHeader.magic
        var candidate = position + 1
        while candidate + 4 <= bytes.count {
            if bytes.loadLE(at: candidate, as: UInt32.self) == magic { return candidate }
            candidate += 1
        }
        return nil
    }
}
