import Testing
@testable import WAL

/// A batch whose CRC32C matches but whose payload does not decode. The CRC covers the header and the
/// stored (compressed) bytes, so such a batch was written whole by the writer (a torn or lost write
/// changes the stored bytes and fails the CRC): it may have been acknowledged, so it is never cut off
/// as a torn tail. Open finds batch boundaries by header and CRC only, without decoding (start-up time,
/// `docs/wal-format.md`, Recovery); the reader decodes every batch and stops there (strict) or
/// quarantines it (skip), and `wal verify`, which decodes everything, reports it as corruption.
@Suite struct UndecodableBatchTests {
    static let batches: [[[UInt8]]] = [
        [record("one-a"), record("one-b")],
        [record("two-a"), record("two-b")],
        [record("three-a"), record("three-b")],
    ]

    /// Segment 1 with `batches`, the first record length in batch `index`'s payload (stored
    /// uncompressed: records this small do not shrink) running past the payload, and its CRC32C
    /// recomputed (`repairingChecksums`). Header, lengths and sequence numbers stay right.
    private func segment(undecodable index: Int) -> (bytes: [UInt8], offsets: [Int]) {
        var (bytes, offsets) = segmentBytes(batches: Self.batches)
        let at = offsets[index]
        precondition(bytes[at + 5] & BatchHeader.flagLZ4 == 0, "the test batches are stored uncompressed")
        bytes.withUnsafeMutableBytes { $0.storeLE(UInt32(1_000), at: at + BatchHeader.size) }
        return (bytes.withUnsafeBytes { repairingChecksums($0) }, offsets)
    }

    @Test func theChecksumScanListsItAsABatchTheDecodingScanAsABadRegion() {
        let (bytes, offsets) = segment(undecodable: 2)
        let quick = bytes.withUnsafeBytes { RecoveryScanner.scan($0, segmentId: 1, payloads: .checksum) }
        #expect(quick.isClean)
        #expect(quick.batches.map(\.offset) == offsets.map(UInt64.init))
        #expect(quick.nextSequence == 7)

        let full = scan(bytes)
        #expect(full.batches.map(\.offset) == offsets.prefix(2).map(UInt64.init))
        #expect(full.tail == nil, "a batch with a matching CRC32C is never a torn tail")
        #expect(full.badRegions.map(\.range) == [UInt64(offsets[2])..<UInt64(bytes.count)])
        #expect(full.nextSequence == 5)
    }

    @Test(arguments: [0, 2])
    func strictOpenKeepsItAndTheReaderStopsThereNamingFileAndOffset(index: Int) async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let (bytes, offsets) = segment(undecodable: index)
        directory.write(SegmentFile.name(for: 1), bytes)
        try await withWAL(configuration(directory) { $0.fileSystem = noSyncFileSystem() }) { wal in
            #expect(directory.read(SegmentFile.name(for: 1)) == bytes, "nothing cut off")
            #expect(wal.stats.nextSequence == 7)
            let reader = wal.reader(from: .start)
            for batch in Self.batches.prefix(index) { #expect(try reader.next()?.records == batch) }
            do {
                let batch = try reader.next()
                Issue.record("read \(String(describing: batch)) instead of a corruption error")
            } catch let error as WALError {
                #expect(error.code == .corruption)
                #expect(error.file == directory.segmentPath(1))
                #expect(error.offset == UInt64(offsets[index]))
            }
        }
        #expect(WALInspector.verify(directory: directory.path).exitCode == 1)
        guard case .corruption(let file, let offset, _) = WALInspector.verify(directory: directory.path) else {
            Issue.record("wal verify did not report corruption")
            return
        }
        #expect(file == directory.segmentPath(1))
        #expect(offset == UInt64(offsets[index]))
    }

    @Test func skipModeQuarantinesItWhenReadingAndGoesOn() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let (bytes, offsets) = segment(undecodable: 1)
        directory.write(SegmentFile.name(for: 1), bytes)
        let config = configuration(directory) { $0.fileSystem = noSyncFileSystem(); $0.recoveryMode = .skipCorrupt }
        try await withWAL(config) { wal in
            #expect(try readAll(wal).map(\.records) == [Self.batches[0], Self.batches[2]])
            #expect(wal.stats.quarantinedBytes == Int64(offsets[2] - offsets[1]))
            let appended = try await wal.append(record("four"))
            #expect(appended.firstSequence == 7)
        }
    }
}
