import Foundation
import Testing
@testable import WAL

/// The writer zero-fills the active segment ahead of its end (``WALConfiguration/preallocationBytes``)
/// so fdatasync overwrites blocks the file already has. The zeros must never be mistaken for data or
/// for damage: trimmed at close and at rotation, and by recovery when a crash left them.
@Suite struct PreallocationTests {
    private func fileSize(_ path: String) -> UInt64 {
        ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? NSNumber)?.uint64Value ?? 0
    }

    @Test func spaceAheadIsZeroFilledAndTrimmedAtClose() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let config = configuration(directory) { $0.preallocationBytes = 64 << 10 }
        let wal = try WriteAheadLog.open(config, logger: quietLogger)
        var end = WALPosition.start
        for index in 0..<20 {
            let result = try await wal.append(record("event \(index)"))
            end = result.position
        }
        let logicalEnd = wal.stats.newestPosition.offset
        #expect(end.offset < logicalEnd)
        // While open, the file runs 64 KiB ahead of the data, and the space is zeros.
        let onDisk = directory.read(SegmentFile.name(for: 1))
        #expect(UInt64(onDisk.count) >= logicalEnd + (32 << 10))
        #expect(onDisk[Int(logicalEnd)...].allSatisfy { $0 == 0 })
        try await wal.close()
        #expect(fileSize(directory.segmentPath(1)) == logicalEnd)
        #expect(WALInspector.verify(directory: directory.path) == .clean)
    }

    /// A crash leaves the zero-filled space in place: recovery reads exactly the records, trims the
    /// zeros, reports a clean WAL (not a torn tail), and appends continue right after the last batch.
    @Test func aCrashWithZeroFilledSpaceRecoversEveryRecord() async throws {
        let live = TemporaryDirectory()
        let crashed = TemporaryDirectory()
        defer { live.remove(); crashed.remove() }
        let config = configuration(live) { $0.preallocationBytes = 64 << 10 }
        let wal = try WriteAheadLog.open(config, logger: quietLogger)
        for index in 0..<50 { _ = try await wal.append(record("event \(index)")) }
        let logicalEnd = wal.stats.newestPosition.offset
        // What a kill -9 leaves: the file as the page cache holds it, zeros included.
        crashed.write(SegmentFile.name(for: 1), live.read(SegmentFile.name(for: 1)))
        crashed.write(WALIdentity.fileName, live.read(WALIdentity.fileName))
        try await wal.close()
        #expect(UInt64(crashed.read(SegmentFile.name(for: 1)).count) > logicalEnd)
        #expect(WALInspector.verify(directory: crashed.path) == .clean)

        try await withWAL(configuration(crashed)) { reopened in
            let records = try readAll(reopened).flatMap(\.records)
            #expect(records == (0..<50).map { record("event \($0)") })
            #expect(fileSize(crashed.segmentPath(1)) == logicalEnd)
            let next = try await reopened.append(record("after"))
            #expect(next.position.offset == logicalEnd)
            #expect(next.firstSequence == 51)
        }
    }

    /// A sealed segment keeps no zeros; the zero-filling never runs past the segment size.
    @Test func rotationTrimsTheSealedSegment() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let config = configuration(directory) { $0.preallocationBytes = 1 << 20; $0.segmentSize = 4_096 }
        try await withWAL(config) { wal in
            for index in 0..<200 { _ = try await wal.append(record("event \(index) " + String(repeating: "x", count: 40))) }
            let stats = wal.stats
            #expect(stats.segmentCount > 2)
            for id in 1..<UInt64(stats.segmentCount) {
                let bytes = directory.read(SegmentFile.name(for: id))
                #expect(bytes.count <= 4_096 + 1_024, "segment \(id) is \(bytes.count) bytes")
                let scan = bytes.withUnsafeBytes { RecoveryScanner.scan($0, segmentId: id) }
                #expect(scan.isClean && scan.zeroTail == nil, "segment \(id) keeps zeros after its last batch")
            }
            #expect(fileSize(directory.segmentPath(UInt64(stats.segmentCount))) <= 4_096)
            #expect(try readAll(wal).flatMap(\.records).count == 200)
        }
    }
}
