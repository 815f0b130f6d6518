import Events
import Foundation
import Logging
import Store
import Synchronization
import TestSupport
import Testing
import WAL

@testable import Replay

/// The replayer against a real PostgreSQL and real WAL files: exactly once, whatever fails when.
@Suite("Replayer")
struct ReplayerTests: ReplayTestSuite {
    let logger = Logger(label: "replayer-test")

    func replayer(
        _ wal: WriteAheadLog, _ database: TestDatabase, node: String = "node-a", retain: Bool = false, batch: Int = 500,
        fault: (@Sendable (ReplayFaultPoint, PostgresConnection) throws -> Void)? = nil
    ) -> Replayer {
        makeTestReplayer(wal, database, logger: logger, node: node, batch: batch, retain: retain, fault: fault)
    }

    @Test func duplicatesInTheWALBecomeOneRow() async throws {
        try await withWAL { wal, database in
            var appended = 0
            for i in 0..<300 {
                let record = EventFactory.record(user: "user_\(i % 97)", name: i % 2 == 0 ? "product_view" : "purchase", key: "key-\(i)")
                let copies = 1 + i % 5
                _ = try await wal.append(contentsOf: Array(repeating: record, count: copies))
                appended += copies
            }
            let replayer = replayer(wal, database)
            try await replayer.drain()

            #expect(try database.int("SELECT count(*) FROM events") == 300)
            #expect(try database.int("SELECT count(DISTINCT idempotency_key) FROM events") == 300)
            #expect(try database.int("SELECT count(*) FROM users") == 97)
            let status = replayer.status()
            #expect(status.insertedEvents == 300)
            #expect(status.duplicateEvents == UInt64(appended - 300))
            #expect(status.unreplayedRecords == 0)
        }
    }

    @Test(arguments: [ReplayFaultPoint.beforeCommit, .afterCommit])
    func failureAroundCommitNeitherLosesNorDuplicates(point: ReplayFaultPoint) async throws {
        try await withWAL { wal, database in
            for i in 0..<1_000 {
                _ = try await wal.append(EventFactory.record(user: "user_\(i)", key: "k\(i)"))
            }
            let fault = ReplayFault()
            let replayer = replayer(wal, database, batch: 300, fault: fault.failFirst(3, at: point))
            try await replayer.drain()
            #expect(fault.count > 3)
            #expect(try database.int("SELECT count(*) FROM events") == 1_000)
            #expect(try database.int("SELECT count(DISTINCT idempotency_key) FROM events") == 1_000)
            #expect(try database.int(#"SELECT sequence FROM wal_checkpoints WHERE node_id = 'node-a'"#) == Int(wal.stats.nextSequence))
        }
    }

    @Test func connectionKilledBetweenCopyAndCommit() async throws {
        try await withWAL { wal, database in
            for i in 0..<500 {
                _ = try await wal.append(EventFactory.record(user: "user_\(i)"))
            }
            let fault = ReplayFault()
            let replayer = replayer(wal, database, batch: 200, fault: fault.killConnectionBeforeCommit(2, adminURL: database.url))
            try await replayer.drain()
            #expect(fault.count == 2)
            #expect(try database.int("SELECT count(*) FROM events") == 500)
        }
    }

    @Test func replayingAgainFromAnOlderCheckpointChangesNothing() async throws {
        try await withWAL { wal, database in
            for i in 0..<400 {
                _ = try await wal.append(EventFactory.record(user: "user_\(i % 50)", key: "again-\(i)"))
            }
            try await replayer(wal, database, retain: true).drain()
            let before = try database.int("SELECT count(*) FROM events")
            // As if a commit's acknowledgement was lost: the checkpoint goes back and everything replays.
            _ = try database.scalar(#"UPDATE wal_checkpoints SET segment = 0, "offset" = 0, sequence = 0"#)
            let second = replayer(wal, database, retain: true)
            try await second.drain()
            #expect(before == 400)
            #expect(try database.int("SELECT count(*) FROM events") == 400)
            #expect(second.status().duplicateEvents == 400)
        }
    }

    @Test func twoNodesDrainTheExactUnionIntoOneDatabase() async throws {
        try await withTwoWALs { walA, walB, database in
            // Keys 0..<600 on A, 400..<1000 on B: 200 keys arrive through both nodes.
            for i in 0..<600 { _ = try await walA.append(EventFactory.record(user: "user_\(i % 150)", key: "union-\(i)")) }
            for i in 400..<1_000 { _ = try await walB.append(EventFactory.record(user: "user_\(i % 150)", key: "union-\(i)")) }
            async let a: Void = replayer(walA, database, node: "node-a").drain()
            async let b: Void = replayer(walB, database, node: "node-b").drain()
            _ = try await (a, b)
            #expect(try database.int("SELECT count(*) FROM events") == 1_000)
            #expect(try database.int("SELECT count(*) FROM users") == 150)
            #expect(try database.int("SELECT count(*) FROM wal_checkpoints") == 2)
        }
    }

    /// Found by the crash suite: a checkpoint taken in one WAL directory pointed into the middle of a
    /// new directory used with the same node id, and the replayer skipped that directory's first segment.
    @Test func aCheckpointFromAnotherWALDirectoryNeverSkipsData() async throws {
        let first = try TemporaryDirectory()
        let second = try TemporaryDirectory()
        let database = try TestDatabase.create()
        defer { first.remove(); second.remove(); database.dropQuietly() }
        let oldWAL = try openWAL(first)
        for i in 0..<2_000 { _ = try await oldWAL.append(EventFactory.record(user: "user_\(i)", key: "old-\(i)")) }
        try await replayer(oldWAL, database).drain()
        try await oldWAL.close()

        // Same node id, new directory with small segments: the old checkpoint (segment 1, a large
        // offset) lies inside this WAL's range of positions.
        let newWAL = try openWAL(second, segmentSize: 16 << 10)
        for i in 0..<1_000 { _ = try await newWAL.append(EventFactory.record(user: "user_\(i)", key: "new-\(i)")) }
        #expect(newWAL.identity != oldWAL.identity)
        try await replayer(newWAL, database).drain()
        #expect(try database.int("SELECT count(*) FROM events WHERE node_id = 'node-a'") == 3_000)
        #expect(try database.scalar("SELECT wal_id FROM wal_checkpoints") == newWAL.identity)
        try await newWAL.close()
    }

    @Test func retentionDeletesOnlyReplayedSegments() async throws {
        try await withWAL(segmentSize: 16 << 10) { wal, database in
            for i in 0..<600 {
                _ = try await wal.append(EventFactory.record(user: "user_\(i)"))
            }
            #expect(wal.stats.segmentCount > 3)
            let replayer = replayer(wal, database)
            try await replayer.drain()
            #expect(try database.int("SELECT count(*) FROM events") == 600)
            // Only the segment holding the checkpoint may remain.
            #expect(wal.stats.segmentCount == 1)
            // New data after the deletion still replays.
            for i in 600..<700 { _ = try await wal.append(EventFactory.record(user: "user_\(i)")) }
            try await self.replayer(wal, database).drain()
            #expect(try database.int("SELECT count(*) FROM events") == 700)
        }
    }

    @Test func retainedSegmentsStay() async throws {
        try await withWAL(segmentSize: 16 << 10) { wal, database in
            for i in 0..<600 { _ = try await wal.append(EventFactory.record(user: "user_\(i)")) }
            let segments = wal.stats.segmentCount
            try await replayer(wal, database, retain: true).drain()
            #expect(wal.stats.segmentCount == segments)
        }
    }

    @Test func poisonRecordsGoToDeadLettersAndReplayGoesOn() async throws {
        try await withWAL { wal, database in
            for i in 0..<100 { _ = try await wal.append(EventFactory.record(user: "user_\(i)")) }
            _ = try await wal.append([0xFF, 0x00, 0x13, 0x37])  // not an event record
            var rejected = EventFactory.event(user: "user_x")
            rejected.userID = "nul\u{0}inside"  // PostgreSQL text cannot hold NUL: rejected even alone
            _ = try await wal.append(EventRecordCodec.encode(rejected))
            for i in 100..<200 { _ = try await wal.append(EventFactory.record(user: "user_\(i)")) }

            let replayer = replayer(wal, database)
            try await replayer.drain()
            #expect(try database.int("SELECT count(*) FROM events") == 200)
            #expect(try database.int("SELECT count(*) FROM dead_letters") == 2)
            #expect(try database.int("SELECT count(*) FROM dead_letters WHERE reason LIKE 'cannot decode%'") == 1)
            #expect(try database.int("SELECT count(*) FROM dead_letters WHERE reason LIKE 'rejected by PostgreSQL%'") == 1)
            #expect(replayer.status().deadLetters == 2)
        }
    }

    @Test func postgresStoppedAndRestartedDuringIngestion() async throws {
        let postgres = try PrivatePostgres()
        let directory = try TemporaryDirectory()
        defer { postgres.destroy(); directory.remove() }
        let database = try TestDatabase.create(prefix: "restart", serverURL: postgres.url)
        let wal = try openWAL(directory)
        let replayer = replayer(wal, database, batch: 200)
        let running = Task { try await replayer.run() }

        var appended = 0
        func ingest(_ count: Int) async throws {
            for _ in 0..<count {
                _ = try await wal.append(EventFactory.record(user: "user_\(appended % 300)", key: "restart-\(appended)"))
                appended += 1
            }
        }
        try await ingest(500)
        try postgres.stop()
        try await ingest(500)  // ingestion goes on while PostgreSQL is down
        // Wait for the replayer to notice (bounded), rather than a fixed sleep a busy machine can lose.
        try await waitUntil(timeout: .seconds(30)) { !replayer.status().postgresReachable }
        #expect(replayer.status().postgresReachable == false)
        #expect(replayer.status().unreplayedRecords > 0)
        try postgres.start()
        try await ingest(500)

        try await waitUntil(timeout: .seconds(30), polling: .milliseconds(100)) { replayer.status().unreplayedRecords == 0 }
        running.cancel()
        _ = try? await running.value
        #expect(try database.int("SELECT count(*) FROM events") == 1_500)
        #expect(try database.int("SELECT count(DISTINCT idempotency_key) FROM events") == 1_500)
        try await wal.close()
    }
}
