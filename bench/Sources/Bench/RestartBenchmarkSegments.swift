import CCRC32C
import Foundation

/// Builds a large WAL backlog fast for `bench restart`: sealed segments are byte copies of a segment
/// the WAL library wrote, relabelled with a new segment id and sequence numbers and their CRC32Cs
/// recomputed (layout in docs/wal-format.md). That is byte for byte what the WAL writes for the same
/// records in that position, so start-up (which reads a sealed segment's first 72 and last 8 bytes)
/// and a reader (which checks every batch) see a real WAL; writing 8 GiB through `append` in a debug
/// build would take half an hour.
enum WALSegmentRelabel {
    struct Failure: Error, CustomStringConvertible { var description: String }

    static let headerSize = 32
    static let batchHeaderSize = 40

    /// Rewrites `bytes` (a whole segment ending at its last batch) as segment `id` whose first record
    /// has sequence `firstSequence`; returns the sequence after its last record.
    static func relabel(_ bytes: inout [UInt8], id: UInt64, firstSequence: UInt64) throws -> UInt64 {
        try bytes.withUnsafeMutableBytes { raw -> UInt64 in
            guard raw.count >= headerSize, raw.load(fromByteOffset: 0, as: UInt32.self).littleEndian == 0x5357_4D45 else {
                throw Failure(description: "not a WAL segment")
            }
            let oldFirst = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
            raw.storeBytes(of: id.littleEndian, toByteOffset: 8, as: UInt64.self)
            raw.storeBytes(of: firstSequence.littleEndian, toByteOffset: 16, as: UInt64.self)
            raw.storeBytes(of: ccrc32c_extend(0, raw.baseAddress, 28).littleEndian, toByteOffset: 28, as: UInt32.self)
            var offset = headerSize
            var next = firstSequence
            while offset < raw.count {
                guard offset + batchHeaderSize <= raw.count,
                      raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian == 0x4257_4D45
                else { throw Failure(description: "no batch at offset \(offset)") }
                let stored = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)))
                let batchFirst = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 16, as: UInt64.self))
                let count = UInt64(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 32, as: UInt32.self)))
                let sequence = firstSequence + (batchFirst - oldFirst)
                raw.storeBytes(of: sequence.littleEndian, toByteOffset: offset + 16, as: UInt64.self)
                raw.storeBytes(of: id.littleEndian, toByteOffset: offset + 24, as: UInt64.self)
                guard offset + batchHeaderSize + stored <= raw.count else { throw Failure(description: "batch at \(offset) runs past the end") }
                let base = raw.baseAddress! + offset
                var crc = ccrc32c_extend(0, base, 36)
                crc = ccrc32c_extend(crc, base + batchHeaderSize, stored)
                raw.storeBytes(of: crc.littleEndian, toByteOffset: offset + 36, as: UInt32.self)
                next = sequence + count
                offset += batchHeaderSize + stored
            }
            return next
        }
    }

    /// `<20-digit id>.wal`
    static func name(_ id: UInt64) -> String {
        let digits = String(id)
        return String(repeating: "0", count: 20 - digits.count) + digits + ".wal"
    }
}
