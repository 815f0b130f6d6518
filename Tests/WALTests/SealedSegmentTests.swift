import Foundation
import Synchronization
import TestSupport
import Testing
@testable import WAL

/// Open does work bounded by what a crash can have damaged (the newest segment), not by the backlog:
/// sealed segments are checked cheaply and their batches verified as readers reach them.
@Suite struct SealedSegmentTests {
    /// Counts the bytes read through it.
    final class CountingFileSystem: ForwardingFileSystem {
        let base = POSIXFileSystem()
        let bytesRead = Atomic<Int>(0)
        func pread(_ fd: CInt, into buffer: UnsafeMutableRawBufferPointer, offset: Int64) throws -> Int {
            let count = try base.pread(fd, into: buffer, offset: offset)
            bytesRead.add(count, ordering: .relaxed)
            return count
        }
        func fdatasync(_ fd: CInt) throws {}
        func fsync(_ fd: CInt) throws {}
    }

    /// Fills `count` segments of about 4 KiB with one record per batch; returns every record.
    private func fill(_ config: WALConfiguration, segments count: UInt64) async throws -> [[UInt8]] {
        try await withWAL(config) { wal in
            var records: [[UInt8]] = []
            var index = 0
            while wal.stats.segmentCount < count {
                let bytes = record("record \(index) " + String(index * 7_919, radix: 36) + String(repeating: "z", count: 300))
                _ = try await wal.append(bytes)
                records.append(bytes)
                index += 1
            }
            return records
        }
    }

    @Test func openReadsOnlyTheNewestSegmentWhole() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let config = configuration(directory) { $0.segmentSize = 4_096; $0.fileSystem = noSyncFileSystem() }
        let records = try await fill(config, segments: 40)
        let total = directory.names().filter { $0.hasSuffix(".wal") }.reduce(0) { $0 + directory.read($1).count }
        let counting = CountingFileSystem()
        try await withWAL(configuration(directory) { $0.segmentSize = 4_096; $0.fileSystem = counting }) { wal in
            // The newest segment whole, and 72 + 8 bytes of each of the 39 sealed ones (plus wal.id).
            let openRead = counting.bytesRead.load(ordering: .relaxed)
            #expect(openRead < 4_096 + 39 * 80 + 64, "open read \(openRead) of \(total) bytes")
            #expect(wal.stats.recordCount == records.count)
            let read = try readAll(wal).flatMap(\.records)
            #expect(read == records)
        }
    }

    @Test func skipModeQuarantinesCorruptionFoundWhileReading() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let config = configuration(directory) { $0.segmentSize = 4_096; $0.fileSystem = noSyncFileSystem() }
        let records = try await fill(config, segments: 3)
        var bytes = directory.read(SegmentFile.name(for: 1))
        let scanned = scan(bytes, id: 1)
        let victim = scanned.batches[2]
        bytes[Int(victim.offset) + BatchHeader.size + 1] ^= 0x10
        directory.write(SegmentFile.name(for: 1), bytes)

        try await withWAL(configuration(directory) { $0.segmentSize = 4_096; $0.recoveryMode = .skipCorrupt }) { wal in
            #expect(wal.stats.quarantinedBytes == 0)  // not read yet: open only checked segment 1
            let survivors = try readAll(wal).flatMap(\.records)
            var expected = records
            expected.remove(at: 2)
            #expect(survivors == expected)
            #expect(wal.stats.quarantinedBytes == Int64(victim.header.frameLength))
            let quarantine = directory.read("\(SegmentFile.name(for: 1)).\(victim.offset).quarantine")
            #expect(quarantine == Array(bytes[Int(victim.offset)..<Int(victim.end)]))
            // A second reader steps over the quarantined bytes without finding them again.
            let again = try readAll(wal).flatMap(\.records)
            #expect(again == expected)
        }
    }

    /// A sealed segment that ends in zeros (written before rotations synced their trim) fails the
    /// cheap check, is scanned whole and trimmed, and reads back whole.
    @Test func aSealedSegmentEndingInZerosIsScannedAndTrimmed() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let config = configuration(directory) { $0.segmentSize = 4_096; $0.fileSystem = noSyncFileSystem() }
        let records = try await fill(config, segments: 3)
        let original = directory.read(SegmentFile.name(for: 1))
        directory.write(SegmentFile.name(for: 1), original + [UInt8](repeating: 0, count: 1_000))
        let read = try await withWAL(config) { wal in try readAll(wal).flatMap(\.records) }
        #expect(read == records)
        #expect(directory.read(SegmentFile.name(for: 1)) == original)
    }
}
