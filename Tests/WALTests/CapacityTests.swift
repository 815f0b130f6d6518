import Foundation
import Testing
@testable import WAL

/// The unreplayed-bytes cap and the free-disk floor refuse appends before anything is written.
@Suite struct CapacityTests {
    @Test func capRefusesUntilTheReplayerCatchesUp() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let body = record(String(repeating: "c", count: 100))
        try await withWAL(configuration(directory) { $0.maxUnreplayedBytes = 1_000 }) { wal in
            var accepted = 0
            var refusal: WALError?
            for _ in 0..<50 {
                do {
                    _ = try await wal.append(body)
                    accepted += 1
                } catch let error as WALError {
                    refusal = error
                    break
                }
            }
            #expect(refusal?.code == .overCapacity)
            #expect(accepted > 0)
            let before = wal.stats
            #expect(before.recordCount == accepted)
            #expect(before.unreplayedBytes <= 1_000)
            // Refused appends leave nothing behind.
            await #expect(throws: WALError.self) { try await wal.append(body) }
            #expect(wal.stats.recordCount == accepted)
            #expect(wal.stats.newestPosition == before.newestPosition)
            #expect(!wal.isFailed)

            wal.markReplayed(upTo: wal.stats.newestPosition)
            #expect(wal.stats.unreplayedBytes == 0)
            #expect(wal.unreplayedBytes(after: .start) == before.totalBytes)
            _ = try await wal.append(body)
            #expect(wal.stats.recordCount == accepted + 1)
        }
    }

    @Test func floorRefusesWhileFreeSpaceIsLow() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let fileSystem = FaultyFileSystem(.init(availableBytes: 10_000))
        let config = configuration(directory) { $0.fileSystem = fileSystem; $0.minFreeDiskBytes = 50_000 }
        try await withWAL(config) { wal in
            do {
                _ = try await wal.append(record("no room"))
                Issue.record("append accepted below the floor")
            } catch let error as WALError {
                #expect(error.code == .diskFull)
            }
            #expect(wal.stats.recordCount == 0)
            #expect(!wal.isFailed)
            // Space comes back; a later check (at most every 100 ms) sees it. Retried with a bound rather
            // than one fixed sleep, which a busy machine can lose.
            fileSystem.arm { $0.availableBytes = 1 << 30 }
            let deadline = ContinuousClock.now + .seconds(10)
            var result: WALAppendResult?
            while result == nil {
                do {
                    result = try await wal.append(record("room again"))
                } catch let error as WALError where error.code == .diskFull && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            #expect(result?.firstSequence == 1)
        }
    }

    @Test func floorWithTheRealFileSystem() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try await withWAL(configuration(directory) { $0.minFreeDiskBytes = .max }) { wal in
            await #expect(throws: WALError.self) { try await wal.append(record("x")) }
        }
    }

    @Test func appendsBeyondTheBatchLimitAreRefused() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try await withWAL(configuration(directory)) { wal in
            // 17 references to one 64 MiB array: over the 1 GiB limit with 64 MiB of memory.
            let chunk = [UInt8](repeating: 7, count: 64 << 20)
            let records = [[UInt8]](repeating: chunk, count: WriteAheadLog.maxAppendBytes / chunk.count + 1)
            do {
                _ = try await wal.append(contentsOf: records)
                Issue.record("oversized append accepted")
            } catch let error as WALError {
                #expect(error.code == .tooLarge)
            }
        }
    }

    @Test func closedWALRefusesAppends() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let wal = try WriteAheadLog.open(configuration(directory), logger: quietLogger)
        _ = try await wal.append(record("before"))
        try await wal.close()
        do {
            _ = try await wal.append(record("after"))
            Issue.record("append after close accepted")
        } catch let error as WALError {
            #expect(error.code == .closed)
        }
        try await wal.close()  // closing twice is harmless
    }
}
