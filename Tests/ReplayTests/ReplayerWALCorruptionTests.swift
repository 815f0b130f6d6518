import Events
import Foundation
import Logging
import TestSupport
import Testing
import WAL

@testable import Replay

/// Corruption in a sealed segment is found by the replayer's reader, not at open (open only checks
/// sealed segments cheaply): strict mode stops replay there and says where; skip mode quarantines and
/// goes on. Ingestion is untouched either way.
@Suite("Replayer on a corrupt sealed segment")
struct ReplayerWALCorruptionTests {
    let logger = Logger(label: "replayer-corruption-test")

    /// 600 events in 16 KiB segments, then one payload byte of a batch in segment 2 flipped. Returns
    /// the WAL directory, the damaged segment's path and the batch's offset.
    private func damagedWAL(_ directory: TemporaryDirectory) async throws -> (wal: String, segment: String, offset: UInt64) {
        var configuration = WALConfiguration(directory: directory.appending("wal"))
        configuration.segmentSize = 16 << 10
        let wal = try WriteAheadLog.open(configuration, logger: logger)
        var victim: WALPosition?
        for i in 0..<600 {
            let result = try await wal.append(EventFactory.record(user: "user_\(i)", key: "key-\(i)"))
            if victim == nil, result.position.segment == 2, result.position.offset > 1_000 { victim = result.position }
        }
        try await wal.close()
        let position = try #require(victim)
        let segment = configuration.directory + "/" + String(repeating: "0", count: 19) + "2.wal"
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: segment)))
        bytes[Int(position.offset) + 45] ^= 0x20
        try Data(bytes).write(to: URL(fileURLWithPath: segment))
        return (configuration.directory, segment, position.offset)
    }

    @Test func strictModeStopsReplayNamingFileAndOffsetAndIngestionGoesOn() async throws {
        let directory = try TemporaryDirectory()
        let database = try TestDatabase.create()
        defer { directory.remove(); database.dropQuietly() }
        let (path, segment, offset) = try await damagedWAL(directory)
        let wal = try WriteAheadLog.open(WALConfiguration(directory: path), logger: logger)  // opens: segment 2 is sealed
        let replayer = makeTestReplayer(wal, database, logger: logger, batch: 50)
        await #expect(throws: ReplayError.self) { try await replayer.drain(timeout: .seconds(30)) }
        let stopped = try #require(replayer.status().walCorruption)
        #expect(stopped.file == segment)
        #expect(stopped.offset == offset)
        let applied = try database.int("SELECT count(*) FROM events")
        #expect(applied > 0 && applied < 600)
        _ = try await wal.append(EventFactory.record(user: "after", key: "after-damage"))  // ingestion goes on
        try await wal.close()
    }

    @Test func skipModeQuarantinesTheBatchAndReplaysTheRest() async throws {
        let directory = try TemporaryDirectory()
        let database = try TestDatabase.create()
        defer { directory.remove(); database.dropQuietly() }
        let (path, segment, offset) = try await damagedWAL(directory)
        var configuration = WALConfiguration(directory: path)
        configuration.recoveryMode = .skipCorrupt
        let wal = try WriteAheadLog.open(configuration, logger: logger)
        try await makeTestReplayer(wal, database, logger: logger, batch: 50).drain(timeout: .seconds(30))
        #expect(try database.int("SELECT count(*) FROM events") == 599)  // one event per batch here
        #expect(wal.stats.quarantinedBytes > 0)
        #expect(FileManager.default.fileExists(atPath: "\(segment).\(offset).quarantine"))
        try await wal.close()
    }
}
