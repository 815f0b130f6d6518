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

    /// The next durable batch, or nil when the reader has caught up with the durable end.
    public func next() throws -> WALBatch? {
        while true {
            let step = core.withState { $0.readStep(at: position) }
            switch step {
            case .caughtUp:
                return nil
            case .move(let next):
                position = next
            case .read(let path, let offset, let limit):
                let batch = try read(path: path, offset: offset, limit: limit)
                position = batch.next
                return batch
            }
        }
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
