@testable import WAL

// Shared by the WAL fuzz target (scripts/fuzz compiles this file with fuzz/WALFuzz.swift) and the
// suite that replays its inputs (FuzzRegressionTests), so both see the same repaired bytes.

/// A copy of `bytes` with the segment header's CRC and the CRC of every frame whose header parses
/// (for any segment id) recomputed.
func repairingChecksums(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
    var copy = Array(bytes)
    copy.withUnsafeMutableBytes { out in
        if out.count >= SegmentHeader.size, UnsafeRawBufferPointer(out).loadLE(at: 0, as: UInt32.self) == SegmentHeader.magic {
            out.storeLE(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: out[0..<28])), at: 28)
        }
        var position = SegmentHeader.size
        while position + BatchHeader.size <= out.count {
            let view = UnsafeRawBufferPointer(rebasing: out[position...])
            let id = view.count >= BatchHeader.size ? view.loadLE(at: 24, as: UInt64.self) : 0
            // Frames claiming over 64 KiB raw keep their bad CRC: decode would allocate that much
            // up front (up to 1 GiB), which makes the fuzzer crawl; see fuzzFrame.
            guard case .success(let header) = BatchHeader.parse(view, expectedSegmentId: id), header.frameLength <= view.count,
                  header.rawLength <= 1 << 16 else {
                position += 1
                continue
            }
            let headerBytes = UnsafeRawBufferPointer(rebasing: view[0..<BatchHeader.size])
            let payload = UnsafeRawBufferPointer(rebasing: view[BatchHeader.size..<header.frameLength])
            out.storeLE(BatchHeader.checksum(header: headerBytes, payload: payload), at: position + BatchHeader.checksumOffset)
            position += header.frameLength
        }
    }
    return copy
}
