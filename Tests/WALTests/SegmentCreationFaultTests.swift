import Foundation
import Testing
@testable import WAL

/// Creating the next segment can fail (out of descriptors, disk full, a failed header write or sync
/// of the new file) before any byte of the group is written. Before issue #23 each case stopped the
/// WAL until a restart. Now the writer keeps the next segment's file and the directory open ahead, so
/// a process out of descriptors still rotates; and when creation fails all the same, that group is
/// refused, the WAL stays writable, nothing more goes into the segment being sealed, and the next
/// group tries again.
@Suite struct SegmentCreationFaultTests {
    typealias Fault = FileSystemFault

    static let faults: [Fault] = [
        Fault(name: "EMFILE creating the segment", arm: { $0.failCreateWith = EMFILE }, expectedCode: .segmentUnavailable),
        Fault(name: "ENFILE creating the segment", arm: { $0.failCreateWith = ENFILE }, expectedCode: .segmentUnavailable),
        Fault(name: "ENOSPC creating the segment", arm: { $0.failCreateWith = ENOSPC }, expectedCode: .diskFull),
        Fault(name: "ENOSPC writing the new segment's header", arm: { $0.failWritesWith = ENOSPC }, expectedCode: .diskFull),
        Fault(name: "fdatasync of the new segment's header fails", arm: { $0.failDataSyncWith = EIO }, expectedCode: .segmentUnavailable),
        Fault(name: "rename into place fails", arm: { $0.failRenameWith = ENOSPC }, expectedCode: .diskFull),
        // After the rename: the `.wal` holds only its header, and the retry renames over it.
        Fault(name: "fsync of the directory fails", arm: { $0.failFsyncWith = EIO }, expectedCode: .segmentUnavailable),
    ]

    /// Incompressible, so batch sizes are known: a frame header plus the record and its length prefix.
    static func big(_ seed: Int) -> [UInt8] { (0..<100).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ seed) } }
    static let tiny: [UInt8] = [7]
    /// Room for one big batch and one tiny one: a second big batch needs a new segment, a tiny one does not.
    static let segmentSize = SegmentHeader.size + (BatchHeader.size + 104) + (BatchHeader.size + 5) + 8

    static func disarm(_ plan: inout FaultyFileSystem.Plan) {
        plan.failCreateWith = nil
        plan.failWritesWith = nil
        plan.failDataSyncWith = nil
        plan.failDirectoryOpenWith = nil
        plan.failReadWriteOpenWith = nil
        plan.failRenameWith = nil
        plan.failFsyncWith = nil
    }

    static func outOfDescriptors(_ plan: inout FaultyFileSystem.Plan) {
        plan.failCreateWith = EMFILE
        plan.failDirectoryOpenWith = EMFILE
        plan.failReadWriteOpenWith = EMFILE
    }

    static func refusal(_ wal: WriteAheadLog, _ record: [UInt8]) async -> WALError? {
        do {
            _ = try await wal.append(record)
            return nil
        } catch {
            return error as? WALError ?? WALError(.io, "unexpected \(error)")
        }
    }

    /// Opens a WAL and writes `big(0)` into segment 1 and `big(1)` into segment 2, the second rotation
    /// made while no descriptor can be opened (so it uses the file opened ahead, and opening the next
    /// one ahead fails); returns the WAL, still out of descriptors, and the second append.
    static func rotateOutOfDescriptors(
        _ directory: TemporaryDirectory, _ fileSystem: FaultyFileSystem
    ) async throws -> (WriteAheadLog, WALAppendResult) {
        let wal = try WriteAheadLog.open(configuration(directory) { $0.fileSystem = fileSystem; $0.segmentSize = segmentSize }, logger: quietLogger)
        _ = try await wal.append(big(0))
        fileSystem.arm(outOfDescriptors)
        return (wal, try await wal.append(big(1)))
    }

    /// A WAL whose next rotation has to create its file (``rotateOutOfDescriptors(_:_:)``, then
    /// descriptors again), with `fault` armed, for `body`; the directory is removed afterwards.
    static func withWALWithoutSpare(
        armed fault: Fault, _ body: (WriteAheadLog, FaultyFileSystem, TemporaryDirectory) async throws -> Void
    ) async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let fileSystem = FaultyFileSystem()
        let (wal, rotated) = try await rotateOutOfDescriptors(directory, fileSystem)
        #expect(rotated.position.segment == 2)
        fileSystem.arm(disarm)
        fileSystem.arm(fault.arm)
        try await body(wal, fileSystem, directory)
    }

    @Test func rotationNeedsNoNewDescriptor() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let fileSystem = FaultyFileSystem()
        let (wal, rotated) = try await Self.rotateOutOfDescriptors(directory, fileSystem)
        #expect(rotated.position.segment == 2)
        #expect(rotated.firstSequence == 2)
        #expect(!wal.isFailed)
        try await wal.close()
        #expect(!directory.names().contains { $0.hasSuffix(".tmp") })  // the unused spare is removed at close
    }

    @Test(arguments: faults)
    func failedCreationRefusesTheGroupAndRetries(_ fault: Fault) async throws {
        try await Self.withWALWithoutSpare(armed: fault) { wal, fileSystem, directory in
            // The batch that needs the new segment is refused, and so is every batch while creation fails,
            // even one that would still fit in the old segment: nothing more goes into it.
            let first = await Self.refusal(wal, Self.big(2))
            #expect(first?.code == fault.expectedCode)
            #expect(first?.underlying != nil)
            let second = await Self.refusal(wal, Self.tiny)
            #expect(second?.code == fault.expectedCode)
            #expect(!wal.isFailed)
            #expect(wal.stats.segmentCount == 2)
            #expect(wal.stats.lastSequence == 2)

            // Once the cause is gone the next batch creates the segment; no sequence number was lost.
            fileSystem.arm(Self.disarm)
            let retried = try await wal.append(Self.big(2))
            #expect(retried.position.segment == 3)
            #expect(retried.firstSequence == 3)
            let after = try await wal.append(Self.tiny)
            #expect(after.firstSequence == 4)
            try await wal.close()

            try await withWAL(configuration(directory) { $0.segmentSize = Self.segmentSize }) { reopened in
                let batches = try readAll(reopened)
                #expect(batches.flatMap(\.records) == [Self.big(0), Self.big(1), Self.big(2), Self.tiny])
                #expect(batches.map(\.firstSequence) == [1, 2, 3, 4])
                #expect(try await reopened.append(Self.tiny).firstSequence == 5)
            }
        }
    }

    /// Closed while creation still fails (the `.wal` may already be renamed into place, holding only
    /// its header): the reopened WAL holds exactly what was acknowledged and appends go on.
    @Test(arguments: faults)
    func closedWhileCreationFailsReopensCleanly(_ fault: Fault) async throws {
        try await Self.withWALWithoutSpare(armed: fault) { wal, _, directory in
            #expect(await Self.refusal(wal, Self.big(2))?.code == fault.expectedCode)
            try? await wal.close()  // a fault may also fail the final close; nothing is pending

            try await withWAL(configuration(directory) { $0.segmentSize = Self.segmentSize }) { reopened in
                #expect(try readAll(reopened).flatMap(\.records) == [Self.big(0), Self.big(1)])
                let next = try await reopened.append(Self.big(2))
                #expect(next.firstSequence == 3)
            }
        }
    }
}
