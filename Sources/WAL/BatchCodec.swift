import CLZ4

/// The batch payload: records as `u32 length | bytes`, back to back, compressed as ONE LZ4 block.
/// Compressing the whole group at once is what makes small, similar records (JSON-ish events)
/// shrink: they share field names and values that LZ4 finds across record boundaries.
enum BatchCodec {
    /// Turns a stored payload back into records. With `collect == false` it only checks that the
    /// payload decodes to exactly `recordCount` records (recovery and verify), without copying them.
    static func decode(
        header: BatchHeader, payload: UnsafeRawBufferPointer, scratch: inout [UInt8], collect: Bool
    ) -> Result<[[UInt8]], FrameDefect> {
        let rawLength = Int(header.rawLength)
        guard header.isCompressed else {
            return parseRecords(payload, count: Int(header.recordCount), collect: collect)
        }
        if scratch.count < rawLength { scratch = [UInt8](repeating: 0, count: rawLength) }
        return scratch.withUnsafeMutableBytes { out -> Result<[[UInt8]], FrameDefect> in
            let produced = LZ4Block.decompress(payload, into: UnsafeMutableRawBufferPointer(rebasing: out[0..<rawLength]))
            guard produced == rawLength else {
                return .failure(.badPayload("LZ4 block decodes to \(produced) bytes, header says \(rawLength)"))
            }
            return parseRecords(UnsafeRawBufferPointer(rebasing: out[0..<rawLength]), count: Int(header.recordCount), collect: collect)
        }
    }

    static func parseRecords(_ raw: UnsafeRawBufferPointer, count: Int, collect: Bool) -> Result<[[UInt8]], FrameDefect> {
        var records: [[UInt8]] = []
        if collect { records.reserveCapacity(count) }
        var position = 0
        for index in 0..<count {
            guard raw.count - position >= 4 else { return .failure(.badPayload("record \(index) length runs past the payload")) }
            let length = Int(raw.loadLE(at: position, as: UInt32.self))
            position += 4
            guard length <= raw.count - position else { return .failure(.badPayload("record \(index) runs past the payload")) }
            if collect { records.append(Array(UnsafeRawBufferPointer(rebasing: raw[position..<(position + length)]))) }
            position += length
        }
        guard position == raw.count else { return .failure(.badPayload("\(raw.count - position) bytes after the last record")) }
        return .success(records)
    }
}

/// Builds one frame from a group of records, reusing its buffers from group to group.
/// Owned by the writer thread.
struct BatchEncoder {
    private var raw: [UInt8] = []
    private var frame: [UInt8] = []
    private(set) var recordCount = 0
    private var storedLength = 0
    private var compressed = false

    var rawLength: Int { raw.count }
    var frameLength: Int { BatchHeader.size + storedLength }

    mutating func reset() {
        raw.removeAll(keepingCapacity: true)
        recordCount = 0
    }

    mutating func add(_ record: [UInt8]) {
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: record.count).littleEndian) { raw.append(contentsOf: $0) }
        raw.append(contentsOf: record)
        recordCount += 1
    }

    /// Compresses the payload into the frame buffer; stored raw when LZ4 does not make it smaller.
    mutating func compress() {
        let bound = max(LZ4Block.compressBound(raw.count), raw.count)
        if frame.count < BatchHeader.size + bound { frame = [UInt8](repeating: 0, count: BatchHeader.size + bound) }
        let rawCount = raw.count
        let produced = raw.withUnsafeBytes { source in
            frame.withUnsafeMutableBytes { out in
                let target = UnsafeMutableRawBufferPointer(rebasing: out[BatchHeader.size..<(BatchHeader.size + bound)])
                let produced = LZ4Block.compress(source, into: target)
                if produced > 0 && produced < rawCount { return produced }
                target.copyMemory(from: source)
                return 0
            }
        }
        compressed = produced > 0
        storedLength = compressed ? produced : rawCount
    }

    /// Fills in the header (which names the segment, so this runs after the rotation decision) and
    /// the CRC, then hands the finished frame to `body`.
    mutating func withFrame<T>(segmentId: UInt64, firstSequence: UInt64, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        let header = BatchHeader(
            flags: compressed ? BatchHeader.flagLZ4 : 0,
            storedLength: UInt32(storedLength),
            rawLength: UInt32(raw.count),
            firstSequence: firstSequence,
            segmentId: segmentId,
            recordCount: UInt32(recordCount),
            checksum: 0
        )
        let length = frameLength
        return try frame.withUnsafeMutableBytes { out in
            header.store(into: out)
            let headerBytes = UnsafeRawBufferPointer(rebasing: out[0..<BatchHeader.size])
            let payload = UnsafeRawBufferPointer(rebasing: out[BatchHeader.size..<length])
            out.storeLE(BatchHeader.checksum(header: headerBytes, payload: payload), at: BatchHeader.checksumOffset)
            return try body(UnsafeRawBufferPointer(rebasing: out[0..<length]))
        }
    }
}

/// liblz4's block API, with sizes as Int and empty buffers handled.
enum LZ4Block {
    static func compressBound(_ count: Int) -> Int {
        guard count <= Int(LZ4_MAX_INPUT_SIZE) else { return 0 }
        return Int(LZ4_compressBound(Int32(count)))
    }

    /// Bytes produced, or 0 when it does not fit `target`.
    static func compress(_ source: UnsafeRawBufferPointer, into target: UnsafeMutableRawBufferPointer) -> Int {
        guard let src = source.baseAddress, let dst = target.baseAddress, source.count <= Int(LZ4_MAX_INPUT_SIZE) else { return 0 }
        let result = LZ4_compress_default(
            src.assumingMemoryBound(to: CChar.self), dst.assumingMemoryBound(to: CChar.self),
            Int32(source.count), Int32(clamping: target.count))
        return Int(max(0, result))
    }

    /// Bytes produced, or -1 when the block is malformed or does not fit `target`.
    static func decompress(_ source: UnsafeRawBufferPointer, into target: UnsafeMutableRawBufferPointer) -> Int {
        guard let src = source.baseAddress, let dst = target.baseAddress else { return -1 }
        let result = LZ4_decompress_safe(
            src.assumingMemoryBound(to: CChar.self), dst.assumingMemoryBound(to: CChar.self),
            Int32(clamping: source.count), Int32(clamping: target.count))
        return Int(result)
    }
}
