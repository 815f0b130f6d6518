import Testing
@testable import WAL

@Suite struct InspectorTests {
    @Test func inspectAndVerify() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let config = configuration(directory) { $0.segmentSize = 1024; $0.fileSystem = noSyncFileSystem() }
        try await withWAL(config) { wal in
            for index in 0..<30 {
                _ = try await wal.append(contentsOf: (0..<4).map { record("{\"event_name\":\"signup\",\"user_id\":\"u\(index)-\($0)\"}") })
            }
        }
        let inspection = try WALInspector.inspect(directory: directory.path)
        #expect(inspection.records == 120)
        #expect(inspection.batches == 30)
        #expect(inspection.segments.count > 1)
        #expect(inspection.compressionRatio > 1)
        #expect(inspection.segments.first?.firstSequence == 1)
        #expect(inspection.segments.last?.lastSequence == 120)
        #expect(inspection.segments.allSatisfy { $0.problems.isEmpty })
        #expect(WALInspector.verify(directory: directory.path) == .clean)

        // A torn tail in the newest segment.
        let newest = SegmentFile.name(for: UInt64(inspection.segments.count))
        let bytes = directory.read(newest)
        directory.write(newest, Array(bytes.dropLast(5)))
        let lastBatch = try #require(inspection.segments.last?.lastPosition)
        #expect(WALInspector.verify(directory: directory.path) == .tornTail(file: directory.file(newest), offset: lastBatch.offset))
        #expect(WALInspector.verify(directory: directory.path).exitCode == 2)
        directory.write(newest, bytes)

        // Corruption in the oldest segment.
        let oldest = SegmentFile.name(for: 1)
        var damaged = directory.read(oldest)
        damaged[SegmentHeader.size + BatchHeader.size + 1] ^= 0xFF
        directory.write(oldest, damaged)
        guard case .corruption(let file, let offset, _) = WALInspector.verify(directory: directory.path) else {
            Issue.record("corruption not reported")
            return
        }
        #expect(file == directory.file(oldest))
        #expect(offset == UInt64(SegmentHeader.size))
        #expect(WALInspector.verify(directory: directory.path + "/missing").exitCode == 3)
    }
}
