import Testing
@testable import WAL

/// Corruption on real files (Prometheus TestWALRepair_ReadingError, table-driven): each case damages
/// a segment written by the WAL itself, reopens, and checks what recovery did and what readers see.
@Suite struct CorruptionTests {
    static let batches: [[[UInt8]]] = [
        [record("one-a"), record("one-b")],
        [record("two")],
        [record("three-a"), record("three-b")],
    ]

    /// A WAL directory holding `batches` in segment 1; returns the segment bytes and batch offsets.
    private func pristine(_ directory: TemporaryDirectory) async throws -> (bytes: [UInt8], offsets: [Int]) {
        let offsets = try await withWAL(configuration(directory) { $0.fileSystem = noSyncFileSystem() }) { wal in
            var offsets: [Int] = []
            for batch in Self.batches { offsets.append(Int(try await wal.append(contentsOf: batch).position.offset)) }
            return offsets
        }
        return (directory.read(SegmentFile.name(for: 1)), offsets)
    }

    private enum Outcome: Equatable {
        case recovered(batches: Int, fileSize: Int)
        case corruption(offset: UInt64)
    }

    /// Writes `bytes` as segment 1, opens the WAL, and reports what happened. Recovered data must be
    /// a prefix of what was written: never changed records.
    private func reopen(_ directory: TemporaryDirectory, with bytes: [UInt8], mode: WALRecoveryMode = .strict) async throws -> Outcome {
        directory.write(SegmentFile.name(for: 1), bytes)
        let config = configuration(directory) { $0.fileSystem = noSyncFileSystem(); $0.recoveryMode = mode }
        do {
            return try await withWAL(config) { wal in
                let read = try readAll(wal).map(\.records)
                #expect(read == Array(Self.batches.prefix(read.count)))
                return .recovered(batches: read.count, fileSize: directory.read(SegmentFile.name(for: 1)).count)
            }
        } catch let error as WALError where error.code == .corruption {
            #expect(error.file == directory.segmentPath(1))
            return .corruption(offset: error.offset ?? .max)
        }
    }

    @Test func lastBatchTruncatedAtEveryByteIsRepaired() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let (bytes, offsets) = try await pristine(directory)
        for cut in (offsets[2] + 1)..<bytes.count {
            let outcome = try await reopen(directory, with: Array(bytes[0..<cut]))
            #expect(outcome == .recovered(batches: 2, fileSize: offsets[2]), "cut at \(cut)")
        }
        // After the repair the WAL appends right after the last good batch.
        directory.write(SegmentFile.name(for: 1), Array(bytes[0..<(bytes.count - 1)]))
        try await withWAL(configuration(directory)) { wal in
            let result = try await wal.append(record("four"))
            #expect(result.position.offset == UInt64(offsets[2]))
            #expect(result.firstSequence == 4)
        }
    }

    @Test func zeroedTailIsRepaired() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let (bytes, offsets) = try await pristine(directory)
        var zeroed = bytes
        for index in offsets[2]..<bytes.count { zeroed[index] = 0 }
        #expect(try await reopen(directory, with: zeroed + [UInt8](repeating: 0, count: 8192)) == .recovered(batches: 2, fileSize: offsets[2]))
        #expect(try await reopen(directory, with: bytes + [UInt8](repeating: 0, count: 100)) == .recovered(batches: 3, fileSize: bytes.count))
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var damage: @Sendable (inout [UInt8], Int) -> Void
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "bad header (magic)") { bytes, at in bytes[at + 1] ^= 0xFF },
        Case(name: "bad header (flags)") { bytes, at in bytes[at + 5] = 0x80 },
        Case(name: "bad checksum") { bytes, at in bytes[at + BatchHeader.checksumOffset + 2] ^= 0x10 },
        Case(name: "bad length") { bytes, at in bytes[at + 8] &+= 1 },
        Case(name: "bad record count") { bytes, at in bytes[at + 32] &+= 1 },
        Case(name: "bad content") { bytes, at in bytes[at + BatchHeader.size] ^= 0x01 },
        Case(name: "zeroed header") { bytes, at in for index in at..<(at + BatchHeader.size) { bytes[index] = 0 } },
    ]

    @Test(arguments: cases)
    func damagedBatch(_ damage: Case) async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let (bytes, offsets) = try await pristine(directory)

        var last = bytes
        damage.damage(&last, offsets[2])
        #expect(try await reopen(directory, with: last) == .recovered(batches: 2, fileSize: offsets[2]))

        var middle = bytes
        damage.damage(&middle, offsets[1])
        #expect(try await reopen(directory, with: middle) == .corruption(offset: UInt64(offsets[1])))
        // Refusing to open changed nothing: the evidence is still there.
        #expect(directory.read(SegmentFile.name(for: 1)) == middle)
    }

    /// Every single-bit flip in the batches is detected on real files: either the last batch is cut
    /// off as a torn tail, or opening fails with corruption; wrong records are never returned.
    @Test func everyBitFlipInTheBatchesIsDetected() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let (bytes, offsets) = try await pristine(directory)
        for bit in (offsets[1] * 8)..<(bytes.count * 8) {
            var flipped = bytes
            flipped[bit / 8] ^= UInt8(1 << (bit % 8))
            let outcome = try await reopen(directory, with: flipped)
            if bit / 8 >= offsets[2] {
                #expect(outcome == .recovered(batches: 2, fileSize: offsets[2]), "bit \(bit)")
            } else {
                #expect(outcome == .corruption(offset: UInt64(offsets[1])), "bit \(bit)")
            }
        }
    }

    @Test func corruptionInAnOlderSegmentNamesFileAndOffset() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let config = configuration(directory) { $0.segmentSize = 200; $0.fileSystem = noSyncFileSystem() }
        let positions = try await withWAL(config) { wal in
            var positions: [WALPosition] = []
            for index in 0..<6 { positions.append(try await wal.append(record("record number \(index) " + String(repeating: "p", count: 80))).position) }
            return positions
        }
        let victim = positions[0]
        #expect(victim.segment < positions.last!.segment)
        let name = SegmentFile.name(for: victim.segment)
        var bytes = directory.read(name)
        bytes[Int(victim.offset) + BatchHeader.size + 3] ^= 0x04
        directory.write(name, bytes)
        // A sealed segment is only checked at open (header, first batch, sequences); its batches are
        // verified as they are read, so the open succeeds, appends go on, and the reader names the bytes.
        try await withWAL(config) { wal in
            _ = try await wal.append(record("after the damage"))
            do {
                _ = try readAll(wal)
                Issue.record("read a corrupt batch")
            } catch let error as WALError {
                #expect(error.code == .corruption)
                #expect(error.file == directory.segmentPath(victim.segment))
                #expect(error.offset == victim.offset)
                #expect("\(error)".contains(name))
            }
        }
        // `wal verify` reads every batch: it names the same file and offset.
        let verification = WALInspector.verify(directory: directory.path)
        #expect("\(verification)".contains(name))
    }

    /// A file whose name is the largest id would make the next segment's id overflow: refused with
    /// its path in both modes, never a trap.
    @Test(arguments: [WALRecoveryMode.strict, .skipCorrupt])
    func aSegmentIdWithNoRoomAfterItIsRefused(mode: WALRecoveryMode) async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let config = configuration(directory) { $0.fileSystem = noSyncFileSystem(); $0.recoveryMode = mode }
        try await withWAL(config) { wal in _ = try await wal.append(record("before the odd file")) }
        let name = SegmentFile.name(for: .max)
        directory.write(name, directory.read(SegmentFile.name(for: 1)))
        do {
            try await withWAL(config) { _ in }
            Issue.record("opened a WAL holding \(name)")
        } catch let error as WALError {
            #expect(error.code == .corruption)
            #expect(error.file == directory.segmentPath(.max))
        }
    }

    @Test func skipModeQuarantinesCountsAndContinues() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let (bytes, offsets) = try await pristine(directory)
        var damaged = bytes
        damaged[offsets[1] + BatchHeader.size] ^= 0x01
        directory.write(SegmentFile.name(for: 1), damaged)
        let badRange = offsets[1]..<offsets[2]

        let config = configuration(directory) { $0.recoveryMode = .skipCorrupt }
        try await withWAL(config) { wal in
            #expect(wal.stats.quarantinedBytes == Int64(badRange.count))
            let quarantined = directory.read("\(SegmentFile.name(for: 1)).\(offsets[1]).quarantine")
            #expect(quarantined == Array(damaged[badRange]))
            let survivors = try readAll(wal).map(\.records)
            #expect(survivors == [Self.batches[0], Self.batches[2]])
            let next = try await wal.append(record("four"))
            #expect(next.firstSequence == 6)
            let after = try readAll(wal).map(\.records)
            #expect(after.last == [record("four")])
        }
        // Strict mode still refuses: the bad bytes stay in the segment as evidence.
        #expect(throws: WALError.self) { try WriteAheadLog.open(configuration(directory), logger: quietLogger) }
    }
}
