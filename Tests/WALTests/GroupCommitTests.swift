import Testing
@testable import WAL

/// Group commit: appends return only after the fdatasync that covers them, concurrent appends
/// share fdatasyncs, and groups stay within their bounds.
@Suite struct GroupCommitTests {
    @Test func appendReturnsOnlyAfterItsFdatasync() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let fileSystem = FaultyFileSystem(.init(dataSyncDelay: .milliseconds(30)))
        try await withWAL(configuration(directory) { $0.fileSystem = fileSystem }) { wal in
            for index in 0..<3 {
                let started = MonotonicClock.now()
                _ = try await wal.append(record("r\(index)"))
                let returned = MonotonicClock.now()
                let synced = fileSystem.plan.withLock { $0.lastDataSyncFinished }
                #expect(synced > started && synced <= returned)
            }
        }
    }

    @Test func concurrentAppendsShareFdatasyncsWithinBounds() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let fileSystem = FaultyFileSystem(.init(dataSyncDelay: .milliseconds(20)))
        let config = configuration(directory) { $0.fileSystem = fileSystem; $0.maxGroupRecords = 50 }
        try await withWAL(config) { wal in
            let syncsBefore = fileSystem.dataSyncs
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<200 { group.addTask { _ = try await wal.append(record("c\(index)")) } }
                try await group.waitForAll()
            }
            let batches = try readAll(wal)
            #expect(batches.flatMap(\.records).count == 200)
            #expect(batches.allSatisfy { $0.records.count <= 50 })
            #expect(batches.count < 40, "200 appends took \(batches.count) groups")
            #expect(fileSystem.dataSyncs - syncsBefore == batches.count)
            #expect(wal.stats.batchCount == batches.count)
        }
    }

    @Test func readersSeeOnlySyncedData() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let config = configuration(directory) { $0.fsyncPolicy = .interval(.seconds(60)) }
        let wal = try WriteAheadLog.open(config, logger: quietLogger)
        _ = try await wal.append(record("a"))
        _ = try await wal.append(record("b"))  // both acknowledged, neither synced yet
        let reader = wal.reader(from: .start)
        #expect(try reader.next() == nil)
        #expect(!reader.waitForData(timeout: .milliseconds(30)))
        try await wal.close()  // close syncs
        #expect(try reader.next()?.records == [record("a")])
        #expect(try reader.next()?.records == [record("b")])
    }
}
