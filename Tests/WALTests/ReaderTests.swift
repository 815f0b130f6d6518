import Foundation
import Testing
@testable import WAL

@Suite struct ReaderTests {
    /// Writes `count` batches of 3 records each into a WAL with small segments.
    private func fill(_ wal: WriteAheadLog, batches count: Int) async throws {
        for batch in 0..<count {
            _ = try await wal.append(contentsOf: (0..<3).map { record("b\(batch)-r\($0)-" + String(repeating: "z", count: batch * 7 % 90)) })
        }
    }

    /// Runs `body` with a WAL in `directory` of 40 such batches over many small segments, and the
    /// batches read back; closes the WAL afterwards.
    private func withFortyBatches(in directory: TemporaryDirectory, _ body: (WriteAheadLog, [WALBatch]) async throws -> Void) async throws {
        try await withWAL(configuration(directory) { $0.segmentSize = 512; $0.fileSystem = noSyncFileSystem() }) { wal in
            try await fill(wal, batches: 40)
            try await body(wal, try readAll(wal))
        }
    }

    @Test func readerResumesAtEveryBatchPosition() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try await withFortyBatches(in: directory) { wal, all async throws in
            #expect(all.count == 40)
            #expect(Set(all.map(\.position.segment)).count > 3)
            for (index, batch) in all.enumerated() {
                #expect(try readAll(wal, from: batch.position) == Array(all[index...]))
                // The `next` of a batch is the checkpoint: resuming there yields the rest.
                #expect(try readAll(wal, from: batch.next) == Array(all[(index + 1)...]))
            }
            #expect(try readAll(wal, from: wal.stats.newestPosition).isEmpty)
        }
    }

    @Test func appendContentsOfIsOneBatchAndSequencesFollow() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try await withWAL(configuration(directory)) { wal in
            let first = try await wal.append(contentsOf: [record("a"), record(""), record("c")])
            let second = try await wal.append(record("d"))
            #expect(first.firstSequence == 1 && first.count == 3)
            #expect(second.firstSequence == 4)
            let batches = try readAll(wal)
            #expect(batches.count == 2)
            #expect(batches[0].records == [record("a"), record(""), record("c")])
            #expect(batches[0].position == first.position)
            #expect(batches[1].position == second.position)
            #expect(batches[0].next == second.position)
            let empty = try await wal.append(contentsOf: [])
            #expect(empty.count == 0)
            #expect(wal.stats.recordCount == 4)
        }
    }

    @Test func appendLargerThanASegmentGetsASegmentOfItsOwn() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try await withWAL(configuration(directory) { $0.segmentSize = 1024 }) { wal in
            _ = try await wal.append(record("small"))
            // Random bytes do not compress, so this frame is larger than the segment size.
            var generator = SystemRandomNumberGenerator()
            let big = (0..<5000).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let result = try await wal.append(big)
            _ = try await wal.append(record("after"))
            let batches = try readAll(wal)
            #expect(batches.map(\.records) == [[record("small")], [big], [record("after")]])
            #expect(result.position.segment == 2)
            #expect(batches[2].position.segment == 3)
        }
    }

    @Test func deleteSegmentsKeepsEverythingAtAndAbovePosition() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try await withFortyBatches(in: directory) { wal, all async throws in
            let segmentsBefore = wal.stats.segmentCount
            let cut = all[25]
            let deleted = try wal.deleteSegments(below: cut.position)
            #expect(deleted == Int(cut.position.segment - all[0].position.segment))
            #expect(wal.stats.segmentCount == segmentsBefore - deleted)
            #expect(try readAll(wal, from: cut.position) == Array(all[25...]))
            // A reader from the start begins at the oldest retained batch, which is at or below the cut.
            let remaining = try readAll(wal)
            #expect(remaining.first?.position.segment == cut.position.segment)
            #expect(Array(remaining.suffix(15)) == Array(all[25...]))
            let files = directory.names().filter { $0.hasSuffix(".wal") }
            #expect(files.count == wal.stats.segmentCount)
            // Never the active segment, even far past the end.
            _ = try wal.deleteSegments(below: WALPosition(segment: .max, offset: 0))
            #expect(wal.stats.segmentCount == 1)
            _ = try await wal.append(record("still writable"))
        }
        // The directory reopens cleanly after deletion.
        try await withWAL(configuration(directory)) { wal in
            let batches = try readAll(wal)
            #expect(batches.last?.records == [record("still writable")])
        }
    }

    @Test func waitForDataWakesOnAppend() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try await withWAL(configuration(directory)) { wal in
            let reader = wal.reader(from: .start)
            let timedOut = await onThread { [reader = UncheckedBox(reader)] in reader.value.waitForData(timeout: .milliseconds(50)) }
            #expect(timedOut == false)

            let started = ContinuousClock.now
            async let woke = onThread { [reader = UncheckedBox(reader)] in reader.value.waitForData(timeout: .seconds(20)) }
            try await Task.sleep(for: .milliseconds(100))
            _ = try await wal.append(record("wake up"))
            #expect(await woke)
            #expect(ContinuousClock.now - started < .seconds(10))
            #expect(try reader.next()?.records == [record("wake up")])
            #expect(try reader.next() == nil)
        }
    }

    @Test func intervalPolicyAcknowledgesAndSyncsOnClose() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let config = configuration(directory) { $0.fsyncPolicy = .interval(.milliseconds(20)) }
        try await withWAL(config) { wal in
            for index in 0..<50 { _ = try await wal.append(record("i\(index)")) }
            let reader = wal.reader(from: .start)
            // Durable within about one interval.
            let ready = await onThread { [reader = UncheckedBox(reader)] in reader.value.waitForData(timeout: .seconds(5)) }
            #expect(ready)
        }
        try await withWAL(config) { wal in
            let records = try readAll(wal).flatMap(\.records)
            #expect(records.count == 50)
        }
    }
}

/// Hands a non-Sendable reader to one other thread at a time, as the replayer does.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
