/// The 40-byte header in front of every batch (layout in `docs/wal-format.md`), and the checks
/// that decide whether bytes at some offset are a valid batch.
///
/// The frame is self-delimiting (its lengths give the next boundary) and self-checking (CRC32C over
/// the header and the stored payload), and it names its segment and first sequence number, so a
/// stray copy of a batch from another segment cannot pass as valid here.
struct BatchHeader: Equatable, Sendable {
    static let size = 40
    /// "EMWB" (event-metrics WAL batch) read as a little-endian UInt32.
    static let magic: UInt32 = 0x4257_4D45
    static let typeRecords: UInt8 = 1
    static let flagLZ4: UInt8 = 0x01
    /// The largest raw payload of one batch; keeps every length in a UInt32 and under LZ4's limit.
    static let maxRawLength = 1 << 30
    static let checksumOffset = 36

    var flags: UInt8
    var storedLength: UInt32
    var rawLength: UInt32
    var firstSequence: UInt64
    var segmentId: UInt64
    var recordCount: UInt32
    var checksum: UInt32

    var isCompressed: Bool { flags & Self.flagLZ4 != 0 }
    var frameLength: Int { Self.size + Int(storedLength) }

    /// Writes every field except the checksum, which covers these bytes and the payload.
    func store(into out: UnsafeMutableRawBufferPointer) {
        out.storeLE(Self.magic, at: 0)
        out.storeLE(Self.typeRecords, at: 4)
        out.storeLE(flags, at: 5)
        out.storeLE(UInt16(0), at: 6)
        out.storeLE(storedLength, at: 8)
        out.storeLE(rawLength, at: 12)
        out.storeLE(firstSequence, at: 16)
        out.storeLE(segmentId, at: 24)
        out.storeLE(recordCount, at: 32)
        out.storeLE(checksum, at: Self.checksumOffset)
    }

    /// Parses and sanity-checks the 40 header bytes. The checksum is checked separately, once the
    /// payload is at hand.
    static func parse(_ bytes: UnsafeRawBufferPointer, expectedSegmentId: UInt64) -> Result<BatchHeader, FrameDefect> {
        guard bytes.count >= size else { return .failure(.short(need: size, have: bytes.count)) }
        guard bytes.loadLE(at: 0, as: UInt32.self) == magic else { return .failure(.badMagic) }
        let type = bytes.loadLE(at: 4, as: UInt8.self)
        guard type == typeRecords else { return .failure(.badField("unknown batch type \(type)")) }
        let header = BatchHeader(
            flags: bytes.loadLE(at: 5),
            storedLength: bytes.loadLE(at: 8),
            rawLength: bytes.loadLE(at: 12),
            firstSequence: bytes.loadLE(at: 16),
            segmentId: bytes.loadLE(at: 24),
            recordCount: bytes.loadLE(at: 32),
            checksum: bytes.loadLE(at: checksumOffset)
        )
        guard header.flags & ~flagLZ4 == 0 else { return .failure(.badField("unknown flags \(header.flags)")) }
        guard bytes.loadLE(at: 6, as: UInt16.self) == 0 else { return .failure(.badField("reserved field is not zero")) }
        let raw = Int(header.rawLength)
        let stored = Int(header.storedLength)
        guard header.recordCount >= 1, raw >= 4 * Int(header.recordCount), raw <= maxRawLength else {
            return .failure(.badField("bad lengths: \(header.recordCount) records in \(raw) raw bytes"))
        }
        // Recovery and readers compute firstSequence + recordCount; a header that would overflow it
        // is bad bytes, not a trap (fuzz/regressions/wal/batch-sequence-overflow.wal).
        guard header.firstSequence <= UInt64.max - UInt64(header.recordCount) else {
            return .failure(.badField("sequence numbers overflow: \(header.recordCount) records from \(header.firstSequence)"))
        }
        if header.isCompressed {
            // An LZ4 block cannot expand more than ~255× (a match costs at least one byte per 255
            // bytes), so a larger claim is bad bytes, refused before a buffer of that size is allocated.
            guard stored >= 1, stored < raw, stored <= LZ4Block.compressBound(raw), raw <= stored * 256 + 64 else {
                return .failure(.badField("bad lengths: \(stored) compressed bytes for \(raw) raw bytes"))
            }
        } else if stored != raw {
            return .failure(.badField("bad lengths: uncompressed batch stores \(stored) of \(raw) bytes"))
        }
        guard header.segmentId == expectedSegmentId else {
            return .failure(.wrongSegment(expected: expectedSegmentId, found: header.segmentId))
        }
        return .success(header)
    }

    /// CRC32C over header bytes 0..<36 and then the stored payload.
    static func checksum(header: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer) -> UInt32 {
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: header[0..<checksumOffset]))
        return CRC32C.checksum(payload, extending: crc)
    }
}

/// A batch found valid at some offset of a segment.
struct FrameLocation: Equatable, Sendable {
    var offset: UInt64
    var header: BatchHeader
    var end: UInt64 { offset + UInt64(header.frameLength) }
}

enum BatchFrame {
    /// Checks whether a valid batch starts at `offset` of `file` (a whole segment in memory):
    /// `locate`, then the payload decodes to exactly the record count. `scratch` is reused for
    /// decompression.
    static func check(
        _ file: UnsafeRawBufferPointer, at offset: Int, segmentId: UInt64, scratch: inout [UInt8]
    ) -> Result<FrameLocation, FrameDefect> {
        locate(file, at: offset, segmentId: segmentId).flatMap { frame in
            payloadDefect(file, frame: frame, scratch: &scratch).map { .failure($0) } ?? .success(frame)
        }
    }

    /// Whether a batch frame starts at `offset`: header sanity, the payload fits in the file, and the
    /// CRC32C over the header and the stored payload matches. Enough to tell a batch the writer wrote
    /// whole from torn, lost or damaged bytes (a torn write changes the stored bytes), without the LZ4
    /// decode that costs most of a scan; open finds the batches of the newest segment this way.
    static func locate(_ file: UnsafeRawBufferPointer, at offset: Int, segmentId: UInt64) -> Result<FrameLocation, FrameDefect> {
        let available = file.count - offset
        let headerBytes = UnsafeRawBufferPointer(rebasing: file[offset..<(offset + min(available, BatchHeader.size))])
        let header: BatchHeader
        switch BatchHeader.parse(headerBytes, expectedSegmentId: segmentId) {
        case .success(let parsed): header = parsed
        case .failure(let defect): return .failure(defect)
        }
        guard header.frameLength <= available else {
            return .failure(.short(need: header.frameLength, have: available))
        }
        let payloadStart = offset + BatchHeader.size
        let payload = UnsafeRawBufferPointer(rebasing: file[payloadStart..<(payloadStart + Int(header.storedLength))])
        let computed = BatchHeader.checksum(header: headerBytes, payload: payload)
        guard computed == header.checksum else {
            return .failure(.checksumMismatch(stored: header.checksum, computed: computed))
        }
        return .success(FrameLocation(offset: UInt64(offset), header: header))
    }

    /// Why the payload of a located frame does not decode to exactly its record count, or nil.
    static func payloadDefect(_ file: UnsafeRawBufferPointer, frame: FrameLocation, scratch: inout [UInt8]) -> FrameDefect? {
        let payloadStart = Int(frame.offset) + BatchHeader.size
        let payload = UnsafeRawBufferPointer(rebasing: file[payloadStart..<Int(frame.end)])
        if case .failure(let defect) = BatchCodec.decode(header: frame.header, payload: payload, scratch: &scratch, collect: false) {
            return defect
        }
        return nil
    }
}
