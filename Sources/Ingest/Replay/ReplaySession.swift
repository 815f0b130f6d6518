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
    private(set) var checkpoint: WALPosition
    private(set) var nextSequence: UInt64

    struct Step {
        var records = 0
        var outcome = ReplayBatchWriter.Outcome()
    }

    init(wal: WriteAheadLog, configuration: ReplayerConfiguration, logger: Logger) throws {
        connection = try PostgresConnection(url: configuration.databaseURL, applicationName: "event-metrics-service replayer")
        writer = ReplayBatchWriter(nodeID: configuration.nodeID)
        faultInjection = configuration.faultInjection
        try writer.prepare(connection)
        let stored = try Self.loadCheckpoint(nodeID: configuration.nodeID, on: connection)
        let newest = wal.stats.newestPosition
        if let stored, stored.position > newest {
            // The checkpoint points past everything this WAL holds: the WAL directory was replaced.
            // Replay is idempotent, so starting from the oldest data is safe; skipping it would not be.
            logger.warning(
                "checkpoint is beyond the WAL's end; replaying this WAL from its start",
                metadata: ["checkpoint": "\(stored.position)", "wal_end": "\(newest)"]
            )
            checkpoint = wal.stats.oldestPosition
            nextSequence = 0
        } else {
            checkpoint = stored?.position ?? wal.stats.oldestPosition
            nextSequence = stored?.sequence ?? 0
        }
        reader = wal.reader(from: checkpoint)
    }

    deinit { connection.close() }

    /// Reads up to one replay batch from the WAL and applies it with its checkpoint in one transaction.
    /// Returns nil when there was nothing to read.
    /// `willApply` gets the receive time of the oldest record read, before the transaction starts, so the
    /// lag shown while a transaction is slow or failing is that record's age.
    func step(maxEvents: Int, maxBytes: Int, willApply: (Int64) -> Void) throws -> Step? {
        var records: [ReplayRecord] = []
        var bytes = 0
        var end = checkpoint
        var endSequence = nextSequence
        while records.count < maxEvents, bytes < maxBytes, let batch = try reader.next() {
            for (i, raw) in batch.records.enumerated() {
                var record = ReplayRecord(sequence: batch.firstSequence + UInt64(i), batchPosition: batch.position, bytes: raw)
                do {
                    record.event = try EventRecordCodec.decode(raw)
                } catch {
                    record.decodeError = "cannot decode WAL record: \(error)"
                }
                bytes += raw.count
                records.append(record)
            }
            end = batch.next
            endSequence = batch.firstSequence + UInt64(batch.records.count)
        }
        guard !records.isEmpty || end != checkpoint else { return nil }

        var step = Step(records: records.count)
        if let oldest = records.lazy.compactMap({ $0.event?.receivedAtMicros }).first { willApply(oldest) }
        step.outcome = try connection.transaction { connection in
            let outcome = try writer.apply(records, on: connection)
            try writer.saveCheckpoint(end, nextSequence: endSequence, on: connection)
            try faultInjection?(.beforeCommit, connection)
            return outcome
        }
        try faultInjection?(.afterCommit, connection)
        checkpoint = end
        nextSequence = endSequence
        return step
    }

    private static func loadCheckpoint(
        nodeID: String,
        on connection: PostgresConnection
    ) throws -> (position: WALPosition, sequence: UInt64)? {
        let result = try connection.execute(
            #"SELECT segment, "offset", sequence FROM wal_checkpoints WHERE node_id = $1"#,
            [nodeID]
        )
        guard result.rows.count == 1,
            let segment = result.rows[0][0].flatMap(UInt64.init),
            let offset = result.rows[0][1].flatMap(UInt64.init),
            let sequence = result.rows[0][2].flatMap(UInt64.init)
        else { return nil }
        return (WALPosition(segment: segment, offset: offset), sequence)
    }
}
