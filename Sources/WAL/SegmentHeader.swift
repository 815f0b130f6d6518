/// The 32 bytes at the start of every segment file (layout in `docs/wal-format.md`).
///
/// It carries a format version so a future layout can be told apart, and the segment's id and
/// first sequence number so a segment can be checked against its file name and its predecessor.
struct SegmentHeader: Equatable, Sendable {
    static let size = 32
    /// "EMWS" (event-metrics WAL segment) read as a little-endian UInt32.
    static let magic: UInt32 = 0x5357_4D45
    static let currentVersion: UInt16 = 1

    var version: UInt16 = SegmentHeader.currentVersion
    var segmentId: UInt64
    var firstSequence: UInt64

    func encode() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Self.size)
        bytes.withUnsafeMutableBytes { out in
            out.storeLE(Self.magic, at: 0)
            out.storeLE(version, at: 4)
            out.storeLE(UInt16(Self.size), at: 6)
            out.storeLE(segmentId, at: 8)
            out.storeLE(firstSequence, at: 16)
            out.storeLE(UInt32(0), at: 24)
            out.storeLE(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: out[0..<28])), at: 28)
        }
        return bytes
    }

    /// Decodes and checks a header; the error string says what is wrong with it.
    static func decode(_ bytes: UnsafeRawBufferPointer, expectedSegmentId: UInt64) -> Result<SegmentHeader, FrameDefect> {
        guard bytes.count >= size else { return .failure(.short(need: size, have: bytes.count)) }
        guard bytes.loadLE(at: 0, as: UInt32.self) == magic else { return .failure(.badMagic) }
        let stored = bytes.loadLE(at: 28, as: UInt32.self)
        let actual = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<28]))
        guard stored == actual else { return .failure(.checksumMismatch(stored: stored, computed: actual)) }
        let version = bytes.loadLE(at: 4, as: UInt16.self)
        guard version == currentVersion else { return .failure(.badField("unsupported segment format version \(version)")) }
        guard bytes.loadLE(at: 6, as: UInt16.self) == UInt16(size), bytes.loadLE(at: 24, as: UInt32.self) == 0 else {
            return .failure(.badField("bad header size or reserved field"))
        }
        let id = bytes.loadLE(at: 8, as: UInt64.self)
        guard id == expectedSegmentId else { return .failure(.wrongSegment(expected: expectedSegmentId, found: id)) }
        return .success(SegmentHeader(version: version, segmentId: id, firstSequence: bytes.loadLE(at: 16, as: UInt64.self)))
    }
}

/// What is wrong with a segment header or a batch frame. Whether bad bytes are a torn tail or
/// corruption depends on where they are, not on which defect it is; see `RecoveryPlanner`.
enum FrameDefect: Error, Equatable, Sendable, CustomStringConvertible {
    case short(need: Int, have: Int)
    case badMagic
    case badField(String)
    case wrongSegment(expected: UInt64, found: UInt64)
    case checksumMismatch(stored: UInt32, computed: UInt32)
    case badPayload(String)

    var description: String {
        switch self {
        case .short(let need, let have): "truncated: need \(need) bytes, \(have) left in file"
        case .badMagic: "bad magic"
        case .badField(let text): text
        case .wrongSegment(let expected, let found): "segment id \(found) where \(expected) was expected"
        case .checksumMismatch(let stored, let computed):
            "CRC32C mismatch: stored \(hex(stored)), computed \(hex(computed))"
        case .badPayload(let text): "bad payload: \(text)"
        }
    }
}

private func hex(_ value: UInt32) -> String { "0x" + String(value, radix: 16) }
