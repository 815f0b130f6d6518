import Events
import Rollups
import Store
import WAL

/// A WAL record after decoding: the event, or why it could not be decoded.
struct ReplayRecord {
    var sequence: UInt64
    var batchPosition: WALPosition
    var bytes: [UInt8]
    var event: Event?
    var decodeError: String?
}

/// Writes decoded events into PostgreSQL inside the caller's transaction.
///
/// Two paths, both exactly once because the unique index on `idempotency_key` decides:
/// - direct (``DirectCopyInsert``): the batch is COPYed straight into `events`; taken while recent
///   batches held only new keys, it costs what a plain COPY costs;
/// - staged: COPY (binary) into a session-private staging table, then one
///   `INSERT … SELECT … ON CONFLICT (idempotency_key) DO NOTHING` moves the new ones into `events`, so
///   a key seen before (a retried request, or a batch replayed after a crash) never counts twice.
///   Used for a slice whose direct COPY met a stored key, and for the next
///   ``stagedBatchesAfterConflict`` batches (duplicates come in runs: a replay from an old position).
///
/// Each path yields the rows it actually inserted, grouped by (event name, channel, hour) with their
/// uids, and those alone are merged into the hourly and daily rollups (``RollupWriter``) in the same
/// transaction as the rows and the checkpoint: duplicates never reach the rollups, and a crash leaves
/// rows, rollups and checkpoint all applied or none.
///
/// One writer belongs to one ``ReplaySession`` (one thread); its memory (user ids, recent conflicts)
/// dies with the session.
final class ReplayBatchWriter {
    let nodeID: String
    /// False only for benchmarks (see ``ReplayerConfiguration/maintainRollups``).
    let maintainRollups: Bool
    /// ``ReplayerConfiguration/campaignRollups``.
    let campaignRollups: Bool
    /// False only for tests and benchmarks of the staged path.
    let allowDirectCopy: Bool
    let users = ReplayUserDirectory()
    /// Batches still to send through the staged path after a direct COPY met a stored key.
    private(set) var stagedBatchesLeft = 0
    static let stagedBatchesAfterConflict = 8

    init(nodeID: String, maintainRollups: Bool = true, campaignRollups: Bool = false, allowDirectCopy: Bool = true) {
        self.nodeID = nodeID
        self.maintainRollups = maintainRollups
        self.campaignRollups = campaignRollups
        self.allowDirectCopy = allowDirectCopy
    }

    /// Created once per connection; `ON COMMIT DELETE ROWS` empties it at every commit.
    static let stagingTableDDL = """
        CREATE TEMP TABLE IF NOT EXISTS replay_staging (
            idempotency_key uuid NOT NULL,
            event_name text NOT NULL,
            channel text NOT NULL,
            campaign_id text,
            user_id text NOT NULL,
            ts timestamptz NOT NULL,
            tags text[] NOT NULL,
            metadata jsonb,
            received_at timestamptz NOT NULL
        ) ON COMMIT DELETE ROWS
        """

    /// New user ids get a dense `uid` (the bitmap rollups need small integers). `NOT EXISTS` keeps
    /// known users from burning identity values; the order keeps two nodes from deadlocking.
    static let insertUsers = """
        INSERT INTO users (user_id)
        SELECT DISTINCT s.user_id FROM replay_staging s
        WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.user_id = s.user_id)
        ORDER BY 1
        ON CONFLICT (user_id) DO NOTHING
        """

    static let insertEvents = """
        INSERT INTO events (\(EventsTable.columns))
        SELECT s.idempotency_key, s.event_name, s.channel, s.campaign_id, s.user_id, u.uid, s.ts, s.tags, s.metadata, s.received_at, $1
        FROM replay_staging s JOIN users u ON u.user_id = s.user_id
        ORDER BY s.idempotency_key
        ON CONFLICT (idempotency_key) DO NOTHING
        """

    /// ``insertEvents`` returning what it inserted, grouped for the rollups: a batch of 20,000 events
    /// comes back as a few hundred rows of (event name, channel, hour, count, uids, campaign), in binary. Hours are
    /// UTC (the connection's session time zone).
    static let insertEventsReturningGroups = """
        WITH inserted AS (
        \(insertEvents)
            RETURNING event_name, channel, campaign_id, uid, ts
        )
        SELECT event_name, channel, extract(epoch FROM date_trunc('hour', ts))::int8, count(*), array_agg(uid), campaign_id
        FROM inserted GROUP BY 1, 2, 3, 6
        """

    static let saveCheckpoint = """
        INSERT INTO wal_checkpoints (node_id, segment, "offset", sequence, wal_id, updated_at)
        VALUES ($1, $2, $3, $4, $5, now())
        ON CONFLICT (node_id) DO UPDATE
        SET segment = EXCLUDED.segment, "offset" = EXCLUDED."offset", sequence = EXCLUDED.sequence,
            wal_id = EXCLUDED.wal_id, updated_at = now()
        """

    static let insertDeadLetter = """
        INSERT INTO dead_letters (node_id, segment, "offset", sequence, reason, payload)
        VALUES ($1, $2, $3, $4, $5, decode($6, 'hex'))
        """

    struct Outcome {
        var inserted = 0
        var duplicates = 0
        var deadLetters = 0
        /// Slices applied by direct COPY and by the staged path.
        var directSlices = 0
        var stagedSlices = 0
    }

    /// New rows of one (event name, channel, campaign, hour), as ``insertEventsReturningGroups`` returns them.
    struct InsertedGroup {
        var eventName: String
        var channel: String
        /// Nil for events without a campaign.
        var campaign: String?
        var hourStart: Int64
        var count: Int64
        var uids: [UInt32]
    }

    func prepare(_ connection: PostgresConnection) throws {
        _ = try connection.execute(Self.stagingTableDDL)
    }

    /// An empty direct COPY for the read-ahead to fill (nil when the direct path is off). Safe to call
    /// from the read-ahead thread: it reads only constants and the locked user directory.
    func makeDirectCopy() -> PreparedDirectCopy? {
        allowDirectCopy ? PreparedDirectCopy(nodeID: nodeID, users: users) : nil
    }

    /// Applies `records` (decoded or not) in the open transaction. A record that cannot be decoded,
    /// or whose row PostgreSQL rejects even alone, goes to `dead_letters` with the reason: replay never
    /// blocks on it and never drops it silently. `directCopy`, when it holds exactly the decoded
    /// records, is used for the direct COPY of the whole batch instead of encoding it again.
    func apply(_ records: [ReplayRecord], directCopy: PreparedDirectCopy? = nil, on connection: PostgresConnection) throws -> Outcome {
        var outcome = Outcome()
        // Usually every record decodes: then the batch itself is the slice (copying 20,000 records
        // into a second array measured ~5 ms per batch on the replayer's thread).
        var good = records
        if records.contains(where: { $0.event == nil }) {
            good.removeAll(keepingCapacity: true)
            for record in records {
                if record.event == nil {
                    try deadLetter(record, reason: record.decodeError ?? "undecodable record", on: connection)
                    outcome.deadLetters += 1
                } else {
                    good.append(record)
                }
            }
        }
        var deltas = RollupDeltas()
        var direct = allowDirectCopy && stagedBatchesLeft == 0
        if stagedBatchesLeft > 0 { stagedBatchesLeft -= 1 }
        let prepared = directCopy.flatMap { $0.eventCount == good.count ? $0 : nil }
        try insertIsolatingPoison(good[...], direct: &direct, prepared: prepared, on: connection, outcome: &outcome, deltas: &deltas)
        if maintainRollups {
            try RollupWriter.merge(deltas, campaigns: campaignRollups, on: connection)
            // Last in the transaction, so the status row stays locked only until the commit.
            if !campaignRollups && outcome.inserted > 0 { try RollupStatus.recordCampaignGap(on: connection) }
        } else if outcome.inserted > 0 {
            // Rows went in without rollups: /metrics must use raw SQL until `rollups rebuild`.
            try RollupStatus.setComplete(false, on: connection)
        }
        return outcome
    }

    func saveCheckpoint(_ position: WALPosition, nextSequence: UInt64, walID: String, on connection: PostgresConnection) throws {
        _ = try connection.executePrepared(
            Self.saveCheckpoint,
            parameters: [nodeID, String(position.segment), String(position.offset), String(nextSequence), walID].map(PostgresParameter.text)
        )
    }

    /// Inserts a slice; when PostgreSQL rejects its data, splits it in halves until
    /// the rejected record stands alone, and dead-letters only that one.
    ///
    /// The rollup deltas of a slice are added only once its savepoint is released: rows of a slice
    /// that rolled back never count. `prepared` is the slice encoded ahead; halves are encoded anew.
    private func insertIsolatingPoison(
        _ records: ArraySlice<ReplayRecord>,
        direct: inout Bool,
        prepared: PreparedDirectCopy? = nil,
        on connection: PostgresConnection,
        outcome: inout Outcome,
        deltas: inout RollupDeltas
    ) throws {
        guard !records.isEmpty else { return }
        do {
            let slice = try insertSlice(records, direct: direct, prepared: prepared, on: connection)
            if direct, !slice.direct {
                // A stored key: this batch's other slices and the next few batches take the staged path.
                direct = false
                stagedBatchesLeft = Self.stagedBatchesAfterConflict
            }
            if slice.direct { outcome.directSlices += 1 } else { outcome.stagedSlices += 1 }
            users.remember(slice.resolvedUsers)
            for group in slice.groups {
                // Without the campaign tables the campaigns merge here: the deltas are then the main
                // rollups' (event name, channel, hour) groups and nothing more.
                deltas.add(
                    eventName: group.eventName, channel: group.channel, campaign: campaignRollups ? group.campaign : nil,
                    hourStart: group.hourStart, count: group.count, uids: group.uids)
            }
            outcome.inserted += slice.inserted
            outcome.duplicates += records.count - slice.inserted
        } catch let error as PostgresError where error.isDataError {
            if records.count == 1, let record = records.first {
                try deadLetter(record, reason: "rejected by PostgreSQL: \(error.message)", on: connection)
                outcome.deadLetters += 1
                return
            }
            let middle = records.startIndex + records.count / 2
            try insertIsolatingPoison(records[records.startIndex..<middle], direct: &direct, on: connection, outcome: &outcome, deltas: &deltas)
            try insertIsolatingPoison(records[middle...], direct: &direct, on: connection, outcome: &outcome, deltas: &deltas)
        }
    }

    private struct SliceResult {
        var direct: Bool
        var inserted: Int
        var groups: [InsertedGroup]
        var resolvedUsers: [String: Int32] = [:]
    }

    /// The direct COPY when allowed and no key of the slice is stored yet, else the staged path; each
    /// in a savepoint (nested transaction), so a rejected slice rolls back alone and the batch goes on.
    private func insertSlice(
        _ records: ArraySlice<ReplayRecord>, direct: Bool, prepared: PreparedDirectCopy?, on connection: PostgresConnection
    ) throws -> SliceResult {
        if direct {
            do {
                let insert = DirectCopyInsert(nodeID: nodeID)
                let result = try connection.transaction { connection in
                    if let prepared { return try insert.insert(prepared, on: connection) }
                    return try insert.insert(records, users: users, on: connection)
                }
                return SliceResult(direct: true, inserted: result.inserted, groups: result.groups, resolvedUsers: result.resolvedUsers)
            } catch let error as PostgresError where error.isUniqueViolation {
                // A key is stored already; the savepoint undid the whole slice: take the staged path.
            }
        }
        let (inserted, groups) = try connection.transaction { try insert(records, on: $0) }
        return SliceResult(direct: false, inserted: inserted, groups: groups)
    }

    /// The staged path. Returns the rows inserted and, when maintaining rollups, their groups.
    private func insert(_ records: ArraySlice<ReplayRecord>, on connection: PostgresConnection) throws -> (Int, [InsertedGroup]) {
        _ = try connection.execute("TRUNCATE replay_staging")
        var copy = CopyBinaryWriter()
        for record in records {
            guard let event = record.event else { continue }
            copy.appendEvent(event, direct: nil)
        }
        try connection.copyIn("COPY replay_staging FROM STDIN (FORMAT binary)", copy.finish())
        _ = try connection.execute(Self.insertUsers)
        guard maintainRollups else {
            return (try connection.execute(Self.insertEvents, [nodeID]).affectedRows, [])
        }
        let result = try connection.execute(Self.insertEventsReturningGroups, parameters: [.text(nodeID)], resultFormat: .binary)
        var groups: [InsertedGroup] = []
        var inserted = 0
        for row in 0..<result.rowCount {
            guard let name = result.string(row, 0), let channel = result.string(row, 1), let hour = result.int64(row, 2),
                  let count = result.int64(row, 3), let array = result.bytes(row, 4), let uids = PostgresBinaryArray.decodeInt4(array)
            else { throw ReplayError(message: "unexpected row from the replay insert") }
            groups.append(InsertedGroup(eventName: name, channel: channel, campaign: result.string(row, 5), hourStart: hour, count: count, uids: uids))
            inserted += Int(count)
        }
        return (inserted, groups)
    }

    private func deadLetter(_ record: ReplayRecord, reason: String, on connection: PostgresConnection) throws {
        _ = try connection.execute(
            Self.insertDeadLetter,
            [
                nodeID, String(record.batchPosition.segment), String(record.batchPosition.offset),
                String(record.sequence), reason, record.bytes.hexString,
            ]
        )
    }
}

extension [UInt8] {
    var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(count * 2)
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
