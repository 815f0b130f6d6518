import Foundation
import Testing
@testable import WAL

/// Fail-stop under injected I/O faults: the group's waiters fail, the WAL refuses later appends,
/// and reopening recovers exactly the acknowledged batches.
@Suite struct FaultInjectionTests {
    typealias Fault = FileSystemFault

    static let faults: [Fault] = [
        Fault(name: "short write then ENOSPC", arm: { $0.shortWriteBytes = 10; $0.failWritesWith = ENOSPC },
              expectedCode: .diskFull, expectedOperation: "pwrite"),
        Fault(name: "short write then EIO, truncation fails too",
              arm: { $0.shortWriteBytes = 25; $0.failWritesWith = EIO; $0.failTruncateWith = EIO },
              expectedCode: .io, expectedOperation: "pwrite"),
        Fault(name: "ENOSPC", arm: { $0.failWritesWith = ENOSPC }, expectedCode: .diskFull, expectedOperation: "pwrite"),
        Fault(name: "fdatasync fails", arm: { $0.failDataSyncWith = EIO }, expectedCode: .io, expectedOperation: "fdatasync"),
        Fault(name: "fdatasync fails, truncation fails too", arm: { $0.failDataSyncWith = EIO; $0.failTruncateWith = EIO },
              expectedCode: .io, expectedOperation: "fdatasync", failedGroupMaySurvive: true),
    ]

    @Test(arguments: faults)
    func faultFailsTheGroupAndStopsTheWAL(_ fault: Fault) async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let fileSystem = FaultyFileSystem()
        let wal = try WriteAheadLog.open(configuration(directory) { $0.fileSystem = fileSystem }, logger: quietLogger)
        var acknowledged: [[UInt8]] = []
        for index in 0..<3 {
            _ = try await wal.append(record("good \(index)"))
            acknowledged.append(record("good \(index)"))
        }
        let syncsBefore = fileSystem.dataSyncs
        fileSystem.arm(fault.arm)

        // Concurrent appends after the fault: every one fails, none is acknowledged.
        let outcomes = await withTaskGroup(of: Result<WALAppendResult, WALError>.self) { group in
            for index in 0..<8 {
                group.addTask {
                    do { return .success(try await wal.append(record("doomed \(index)"))) } catch let error as WALError {
                        return .failure(error)
                    } catch { return .failure(WALError(.io, "unexpected \(error)")) }
                }
            }
            var all: [Result<WALAppendResult, WALError>] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
        let errors = outcomes.compactMap { if case .failure(let error) = $0 { error } else { nil } }
        #expect(errors.count == 8)
        // The group that hit the fault gets the cause; appends queued behind it get `.failed`.
        let causes = errors.filter { $0.code != .failed }
        #expect(!causes.isEmpty)
        for cause in causes {
            #expect(cause.code == fault.expectedCode)
            #expect(cause.operation == fault.expectedOperation)
            #expect(cause.file == directory.segmentPath(1))
        }
        #expect(wal.isFailed)
        await #expect(throws: WALError.self) { try await wal.append(record("later")) }
        do { _ = try await wal.append(record("later")) } catch let error as WALError { #expect(error.code == .failed) }
        // fdatasync is never retried: at most the one failed attempt.
        #expect(fileSystem.dataSyncs - syncsBefore <= 1)
        try await wal.close()

        // Reopen with a healthy file system: exactly the acknowledged records, then appends work.
        try await withWAL(configuration(directory)) { reopened in
            let records = try readAll(reopened).flatMap(\.records)
            if fault.failedGroupMaySurvive {
                #expect(Array(records.prefix(3)) == acknowledged)
                #expect(records.dropFirst(3).allSatisfy { String(decoding: $0, as: UTF8.self).hasPrefix("doomed") })
            } else {
                #expect(records == acknowledged)
                let next = try await reopened.append(record("after"))
                #expect(next.firstSequence == 4)
            }
        }
    }
    // A failed rotation (the next segment cannot be created) is not fail-stop: SegmentCreationFaultTests.
}
