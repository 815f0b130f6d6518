import Metrics

/// A forward cursor over durable batches: the replayer's view of the WAL.
///
/// Used from one thread (the replayer's own), so it is not `Sendable`. It never returns bytes
/// that no fdatasync covers, moves across segments by itself, steps over quarantined bytes, and
/// throws `.corruption` (file and offset) when durable bytes fail their checks.
public final class WALReader {
    private let core: WALCore
    public private(set) var position: WALPosition
    private var file: WALFile?
    private var header = [UInt8](repeating: 0, count: BatchHeader.size)
    private var payload: [UInt8] = []
    private var scratch: [UInt8] = []

    init(core: WALCore, position: WALPosition) {
        self.core = core
        self.position = position
    }

    /// The sequence number the next batch must start at (after a batch read, unless bytes were
    /// stepped over since): recovery checks sealed segments without reading their batches, so this is
    /// where a sealed segment's batches are found to join up (or not) with the next segment's.
    private var expectedSequence: UInt64?

    /// The next durable batch, or nil when the reader has caught up with the durable end.
    ///
    /// Bad bytes (a failed CRC32C, a bad header, a batch that does not continue the sequence) throw
    /// `.corruption` with file and offset in `.strict` mode. In `.skipCorrupt` mode the bytes up to
    /// the next valid batch are quarantined and counted, as recovery does, and reading goes on.
    public func next() throws -> WALBatch? {
        while true {
            let step = core.withState { $0.readStep(at: position) }
            switch step {
            case .caughtUp:
                return nil
            case .move(let next):
                if next.segment == position.segment { expectedSequence = nil }  // stepped over quarantined bytes
                position = next
            case .read(let path, let offset, let limit):
                let batch: WALBatch
                do {
                    batch = try read(path: path, offset: offset, limit: limit)
                } catch let error as WALError where error.code == .corruption && core.configuration.recoveryMode == .skipCorrupt {
                    try quarantine(path: path, offset: offset, limit: limit, cause: error)
                    expectedSequence = nil
                    continue
                }
                if let expected = expectedSequence, batch.firstSequence != expected {
                    let error = WALError(
                        .corruption, "batch has first sequence \(batch.firstSequence), expected \(expected)",
                        file: path, offset: offset, operation: "read")
                    guard core.configuration.recoveryMode == .skipCorrupt else { throw error }
                    core.logger.error("WAL inconsistency accepted in skip mode", metadata: ["file": "\(path)", "detail": "\(error)"])
                }
                expectedSequence = batch.firstSequence + UInt64(batch.records.count)
                position = batch.next
                return batch
            }
        }
    }

    /// `.skipCorrupt`: copies the bad bytes from `offset` up to the next valid batch of the segment (or
    /// its durable end) to a quarantine file, has readers step over them, and counts them.
    private func quarantine(path: String, offset: UInt64, limit: UInt64, cause: WALError) throws {
        let source = try WALFile(path: path, mode: .readOnly, fileSystem: core.configuration.fileSystem)
        var bytes = [UInt8](repeating: 0, count: Int(limit))
        let got = try bytes.withUnsafeMutableBytes { try source.read(into: $0, at: 0) }
        try source.close()
        bytes.removeLast(bytes.count - got)
        let scan = bytes.withUnsafeBytes { RecoveryScanner.scan($0, segmentId: position.segment) }
        let resume = scan.batches.first(where: { $0.offset > offset })?.offset ?? limit
        let range = offset..<resume
        try Recovery.quarantine(path: path, range: range, directory: core.configuration.directory, fileSystem: core.configuration.fileSystem)
        core.withState { state in
            if let index = state.segments.firstIndex(where: { $0.path == path }) { state.segments[index].skipRanges.append(range) }
            state.quarantinedBytes += Int64(range.count)
        }
        Counter(label: "wal_quarantined_bytes_total").increment(by: Int64(range.count))
        core.logger.error("quarantined corrupt WAL bytes found while reading", metadata: [
            "file": "\(path)", "offset": "\(offset)", "bytes": "\(range.count)", "reason": "\(cause)",
        ])
    }

    /// Blocks the calling thread until durable data exists beyond `position` or `timeout` passes.
    /// Sleeps on a condition variable the writer broadcasts after each fdatasync, so it does not
    /// poll. True when there is data to read.
    public func waitForData(timeout: Duration) -> Bool {
        let deadline = MonotonicClock.now() &+ MonotonicClock.nanoseconds(timeout)
        let position = self.position
        return core.waitForDurableData(until: deadline) { $0.hasDurableData(after: position) }
    }

    private func read(path: String, offset: UInt64, limit: UInt64) throws -> WALBatch {
        let segment = position.segment
        if file?.path != path {
            try file?.close()
            file = nil
            file = try WALFile(path: path, mode: .readOnly, fileSystem: core.configuration.fileSystem)
        }
        guard let file else { throw WALError(.io, "segment not open", file: path) }
        func corrupt(_ message: String) -> WALError {
            WALError(.corruption, message, file: path, offset: offset, operation: "read")
        }

        let available = limit - offset
        guard available >= UInt64(BatchHeader.size) else {
            throw corrupt("\(available) durable bytes left, too few for a batch header")
        }
        let got = try header.withUnsafeMutableBytes { try file.read(into: $0, at: offset) }
        guard got == BatchHeader.size else { throw corrupt("file ends inside a batch header") }
        let parsed = header.withUnsafeBytes { BatchHeader.parse($0, expectedSegmentId: segment) }
        let batchHeader: BatchHeader
        switch parsed {
        case .success(let value): batchHeader = value
        case .failure(let defect): throw corrupt("bad batch header: \(defect)")
        }
        guard UInt64(batchHeader.frameLength) <= available else {
            throw corrupt("batch of \(batchHeader.frameLength) bytes runs past the durable end")
        }
        let storedLength = Int(batchHeader.storedLength)
        if payload.count < storedLength { payload = [UInt8](repeating: 0, count: storedLength) }
        let payloadGot = try payload.withUnsafeMutableBytes {
            try file.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<storedLength]), at: offset + UInt64(BatchHeader.size))
        }
        guard payloadGot == storedLength else { throw corrupt("file ends inside a batch payload") }
        let decoded = header.withUnsafeBytes { headerBytes in
            payload.withUnsafeBytes { payloadBytes -> Result<[[UInt8]], FrameDefect> in
                let stored = UnsafeRawBufferPointer(rebasing: payloadBytes[0..<storedLength])
                let computed = BatchHeader.checksum(header: headerBytes, payload: stored)
                guard computed == batchHeader.checksum else {
                    return .failure(.checksumMismatch(stored: batchHeader.checksum, computed: computed))
                }
                return BatchCodec.decode(header: batchHeader, payload: stored, scratch: &scratch, collect: true)
            }
        }
        switch decoded {
        case .success(let records):
            return WALBatch(
                position: WALPosition(segment: segment, offset: offset),
                next: WALPosition(segment: segment, offset: offset + UInt64(batchHeader.frameLength)),
                firstSequence: batchHeader.firstSequence,
                records: records)
        case .failure(let defect):
            throw corrupt("\(defect)")
        }
    }
}
