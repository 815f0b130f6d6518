import Logging
import Store
import WAL

/// One connected stretch of replay: a PostgreSQL connection and a WAL reader positioned at the
/// committed checkpoint. Any error discards the whole session; the next one starts again from the
/// checkpoint stored in PostgreSQL, so nothing is skipped and a half-applied batch is never trusted.
final class ReplaySession {
    let connection: PostgresConnection
    let reader: WALReader
    let writer: ReplayBatchWriter
    let faultInjection: (@Sendable (ReplayFaultPoint, PostgresConnection) throws -> Void)?
    let walID: String
    private(set) var checkpoint: WALPosition
    private(set) var nextSequence: UInt64

    struct Step {
        var records = 0
        /// The batch stopped at the event or byte limit, so more may be waiting in the WAL.
        var full = false
        var outcome = ReplayBatchWriter.Outcome()
    }

    init(wal: WriteAheadLog, configuration: ReplayerConfiguration, logger: Logger) throws {
        connection = try PostgresConnection(url: configuration.databaseURL, applicationName: "event-metrics-service replayer")
        writer = ReplayBatchWriter(
            nodeID: configuration.nodeID, maintainRollups: configuration.maintainRollups,
            campaignRollups: configuration.campaignRollups, allowDirectCopy: configuration.allowDirectCopy)
        faultInjection = configuration.faultInjection
        walID = wal.identity
        try writer.prepare(connection)
        let stored = try Self.loadCheckpoint(nodeID: configuration.nodeID, on: connection)
        if let stored, let reason = Self.foreignCheckpointReason(stored, wal: wal) {
            // Replay is idempotent, so starting from this WAL's oldest data is safe; trusting a
            // checkpoint of another directory could skip acknowledged events.
            logger.warning(
                "stored checkpoint does not belong to this WAL; replaying this WAL from its start",
                metadata: ["reason": "\(reason)", "checkpoint": "\(stored.position)", "wal_id": "\(wal.identity)"]
            )
            checkpoint = wal.stats.oldestPosition
            nextSequence = 0
        } else {
            checkpoint = stored?.position ?? wal.stats.oldestPosition
            nextSequence = stored?.sequence ?? 0
        }
        reader = wal.reader(from: checkpoint)
    }

    deinit {
        // The read ahead uses this session's reader: let it finish before the WAL may close.
        _ = try? readAhead?.wait()
        connection.close()
    }

    /// The next batch, being read while the current one is applied.
    private var readAhead: ReplayReadAhead?

    /// Reads up to one replay batch from the WAL and applies it with its checkpoint in one transaction.
    /// Returns nil when there was nothing to read.
    /// `willApply` gets the receive time of the oldest record read, before the transaction starts, so the
    /// lag shown while a transaction is slow or failing is that record's age.
    func step(maxEvents: Int, maxBytes: Int, willApply: (Int64) -> Void) throws -> Step? {
        let readFrom = { [reader, writer] (start: WALPosition, sequence: UInt64) in
            try ReplayRead.read(
                reader, start: start, startSequence: sequence, maxEvents: maxEvents, maxBytes: maxBytes,
                directCopy: writer.makeDirectCopy())
        }
        var read = try readAhead?.wait() ?? readFrom(checkpoint, nextSequence)
        readAhead = nil
        // A read ahead ran right after the previous batch was read; what was appended since (while
        // that batch was applied, or while the replayer waited for a batch to gather) joins it here.
        try read.continueReading(reader, maxEvents: maxEvents, maxBytes: maxBytes)
        guard !read.records.isEmpty || read.end != checkpoint else { return nil }
        let (end, endSequence) = (read.end, read.endSequence)
        readAhead = ReplayReadAhead { try readFrom(end, endSequence) }

        var step = Step(records: read.records.count, full: read.records.count >= maxEvents || read.bytes >= maxBytes)
        if let oldest = read.records.lazy.compactMap({ $0.event?.receivedAtMicros }).first { willApply(oldest) }
        step.outcome = try connection.transaction { connection in
            let outcome = try writer.apply(read.records, directCopy: read.directCopy, on: connection)
            try writer.saveCheckpoint(end, nextSequence: endSequence, walID: walID, on: connection)
            try faultInjection?(.beforeCommit, connection)
            return outcome
        }
        try faultInjection?(.afterCommit, connection)
        checkpoint = end
        nextSequence = endSequence
        (consume read).releaseInBackground()
        return step
    }

    struct StoredCheckpoint {
        var position: WALPosition
        var sequence: UInt64
        var walID: String?
    }

    private static func loadCheckpoint(nodeID: String, on connection: PostgresConnection) throws -> StoredCheckpoint? {
        let result = try connection.execute(
            #"SELECT segment, "offset", sequence, wal_id FROM wal_checkpoints WHERE node_id = $1"#,
            [nodeID]
        )
        guard result.rowCount == 1,
            let segment = result.int64(0, 0).map(UInt64.init),
            let offset = result.int64(0, 1).map(UInt64.init),
            let sequence = result.int64(0, 2).map(UInt64.init)
        else { return nil }
        return StoredCheckpoint(position: WALPosition(segment: segment, offset: offset), sequence: sequence, walID: result.string(0, 3))
    }

    /// Why a stored checkpoint cannot be used with this WAL, or nil when it can.
    static func foreignCheckpointReason(_ stored: StoredCheckpoint, wal: WriteAheadLog) -> String? {
        if let walID = stored.walID, walID != wal.identity {
            return "it was taken in WAL \(walID)"
        }
        if stored.position > wal.stats.newestPosition {
            return "it is beyond this WAL's end \(wal.stats.newestPosition)"
        }
        return nil
    }
}
