import Events
import Foundation
import Store
import TestSupport
import Testing
import WAL

@testable import Replay

/// The direct-COPY path (``DirectCopyInsert``) against the staged path it shortcuts: same rows, same
/// rollups, and a stored key sends the batch through the staged path without losing its other rows.
extension ReplayerRollupTests {
    @Test func directCopyStoresWhatTheStagedPathStores() async throws {
        let directory = try TemporaryDirectory()
        let direct = try TestDatabase.create(prefix: "direct")
        let staged = try TestDatabase.create(prefix: "staged")
        defer { directory.remove(); direct.dropQuietly(); staged.dropQuietly() }
        let wal = try openWAL(directory)
        // Keys repeated inside one batch (1–3 copies in a row) are dropped before the COPY.
        for i in 0..<1_500 { _ = try await wal.append(contentsOf: Array(repeating: record(i, users: 211), count: 1 + i % 3)) }

        let viaDirect = replayer(wal, direct, batch: 400, retain: true)
        try await viaDirect.drain()
        let viaStaged = makeTestReplayer(wal, staged, logger: logger, batch: 400, retain: true, directCopy: false)
        try await viaStaged.drain()

        #expect(viaDirect.status().stagedSlices == 0)
        #expect(viaDirect.status().directSlices > 0)
        #expect(viaStaged.status().directSlices == 0)
        #expect(viaDirect.status().insertedEvents == 1_500)
        #expect(viaDirect.status().duplicateEvents == viaStaged.status().duplicateEvents)
        let fingerprint = """
            SELECT md5(string_agg(concat_ws('|', idempotency_key, event_name, channel, campaign_id, user_id, ts, tags, metadata, node_id), ',' ORDER BY idempotency_key))
            FROM events
            """
        #expect(try direct.scalar(fingerprint) == staged.scalar(fingerprint))
        // Every row's uid is its user's uid in the dictionary.
        let mismatched = "SELECT count(*) FROM events e LEFT JOIN users u ON u.uid = e.uid WHERE u.user_id IS DISTINCT FROM e.user_id"
        #expect(try direct.int(mismatched) == 0)
        #expect(try direct.int("SELECT count(*) FROM users") == 211)
        try expectRollupsMatchRaw(direct, events: 1_500)
        try await wal.close()
    }

    @Test func aStoredKeySendsTheBatchAndTheNextFewThroughTheStagedPath() async throws {
        let directory = try TemporaryDirectory()
        let database = try TestDatabase.create()
        defer { directory.remove(); database.dropQuietly() }
        let first = try openWAL(directory)
        for i in 0..<10 { _ = try await first.append(record(i)) }
        try await replayer(first, database, node: "node-a").drain()
        try await first.close()

        // Another node's WAL: 1,200 new events, and the already stored `rollup-5` at position 150.
        let second = try openWAL(directory, "wal-b")
        for i in 0..<1_200 { _ = try await second.append(i == 150 ? record(5) : record(10_000 + i)) }
        let replayer = replayer(second, database, node: "node-b", batch: 100)
        try await replayer.drain()

        let status = replayer.status()
        #expect(status.insertedEvents == 1_199)
        #expect(status.duplicateEvents == 1)
        // Batch 1 direct; batch 2 met the stored key (staged), then 8 staged batches; 11 and 12 direct.
        #expect(status.directSlices == 3)
        #expect(status.stagedSlices == 1 + UInt64(ReplayBatchWriter.stagedBatchesAfterConflict))
        #expect(try database.int("SELECT count(*) FROM events") == 1_209)
        try expectRollupsMatchRaw(database, events: 1_209)
        try await second.close()
    }

    /// Caught up, the replayer lets a batch gather (``ReplayerConfiguration/minBatchInterval``)
    /// instead of committing every few events: a trickle of 100 events over ~1 s takes a handful of
    /// transactions, not one per event. The WAL syncs on an interval: under `.always` each append
    /// waits for its fdatasync, which a machine busy with other writes stretched to 0.4–0.9 s, making
    /// the trickle 40–90 s long and the test unable to tell batching from none.
    @Test func aTrickleIsAppliedInFewTransactions() async throws {
        try await withWAL(fsync: .interval(.milliseconds(5))) { wal, database in
            let replayer = replayer(wal, database, batch: 1_000)
            let running = Task { try await replayer.run() }
            let started = ContinuousClock.now
            for i in 0..<100 {
                _ = try await wal.append(record(i))
                try await Task.sleep(for: .milliseconds(10))
            }
            let trickle = ContinuousClock.now - started
            let trickleSeconds = Double(trickle.components.seconds) + Double(trickle.components.attoseconds) / 1e18
            try await waitUntil(timeout: .seconds(20), polling: .milliseconds(50)) { replayer.status().insertedEvents >= 100 }
            running.cancel()
            _ = try? await running.value
            let status = replayer.status()
            #expect(status.insertedEvents == 100)
            // ~1.2 s of appends (longer on a busy machine) at one batch per 250 ms: about 5, plus the
            // first batch and the last; 100 if every append were its own batch.
            let allowed = UInt64(trickleSeconds / 0.25) + 3
            #expect(status.directSlices + status.stagedSlices <= allowed)
            // Only if the trickle took 25 s (a machine far busier than any CI run) could the bound reach
            // one transaction per event and stop telling batching from none.
            #expect(allowed < 100, "the trickle took \(trickleSeconds) s; too slow to tell batching from none")
            try expectRollupsMatchRaw(database, events: 100)
        }
    }

    /// The gathering pause is for a replayer that has caught up, not for one cut short by the byte
    /// limit: a backlog of large events (≈ 4 per batch here) drains without pausing between batches.
    @Test func aBacklogCutByTheByteLimitIsNotPaused() async throws {
        try await withWAL { wal, database in
            let filler = String(repeating: "x", count: 7_000)
            for i in 0..<200 {
                var event = EventFactory.event(user: "user_\(i % 50)", timestamp: now - 600, key: "large-\(i)")
                event.metadataJSON = Array(#"{"filler":"\#(filler)"}"#.utf8)
                _ = try await wal.append(EventRecordCodec.encode(event))
            }
            let replayer = makeTestReplayer(wal, database, logger: logger, batch: 1_000, maxBytes: 28 << 10)
            let started = ContinuousClock.now
            let running = Task { try await replayer.run() }
            try await waitUntil(timeout: .seconds(30)) { replayer.status().insertedEvents >= 200 }
            let elapsed = ContinuousClock.now - started
            running.cancel()
            _ = try? await running.value
            #expect(replayer.status().insertedEvents == 200)
            // ~50 batches: with a 250 ms pause after each, at least slices × 250 ms; without, about 1 s here
            // (debug build). The bound is that pause itself, not a wall time a busy machine could exceed.
            let slices = replayer.status().directSlices
            #expect(slices >= 40)
            #expect(elapsed < .milliseconds(250) * Int(slices), "took \(elapsed) for \(slices) batches")
        }
    }
}
