import Events
import Store
import Time

/// A batch's direct COPY (``DirectCopyInsert``), encoded before its transaction starts.
///
/// The replayer's read-ahead thread builds it while PostgreSQL applies the previous batch, so the
/// client-side work of a batch — dropping keys repeated inside it, looking up `uid`s, encoding the
/// binary COPY rows, grouping rows for the rollups — no longer sits between two statements with
/// PostgreSQL idle. Measured per 20,000-event batch, that work was ~25 ms of a ~330 ms batch
/// (`REPLAY_TRACE`-style timing, `bench replay --events 1000000`).
///
/// A user the directory does not know yet is encoded with uid 0 and noted; ``resolveUsers(on:)``
/// looks those up (creating them when new) in the batch's transaction and patches the 4 bytes of each
/// such row. Known uids are safe to use early: a uid never changes once its `users` row is committed,
/// and the directory holds only those.
struct PreparedDirectCopy {
    let nodeID: String
    let users: ReplayUserDirectory
    private var copy = CopyBinaryWriter(reservingCapacity: 8 << 20)
    private var seen = Set<IdempotencyKey>()
    /// Per row: its uid.
    private var uids: [Int32] = []
    /// Rows encoded with uid 0 because the directory did not know their user then, and where that
    /// uid's 4 bytes sit in `copy`.
    private var unresolved: [(row: Int, userID: String, uidOffset: Int)] = []
    private var groups = RowGroups()
    private var resolved = false
    /// Decoded events added, including those dropped as repeats.
    private(set) var eventCount = 0

    init(nodeID: String, users: ReplayUserDirectory) {
        self.nodeID = nodeID
        self.users = users
    }

    /// Rows to COPY (events minus keys repeated inside the batch; the first one wins, as with
    /// ON CONFLICT DO NOTHING).
    var rowCount: Int { uids.count }

    mutating func add(_ event: Event) {
        precondition(!resolved, "rows added after the users were resolved")
        eventCount += 1
        guard seen.insert(event.idempotencyKey).inserted else { return }
        let row = uids.count
        let uid = users.uid(event.userID)
        let uidOffset = copy.appendEvent(event, direct: (uid ?? 0, nodeID))!
        if uid == nil { unresolved.append((row, event.userID, uidOffset)) }
        uids.append(uid ?? 0)
        groups.add(event, row: row)
    }

    /// Gives every row encoded without a uid its uid, looking unknown users up (and inserting new ones)
    /// on `connection`. Returns what PostgreSQL resolved, for the directory to remember once the
    /// batch's savepoint is released.
    mutating func resolveUsers(on connection: PostgresConnection) throws -> [String: Int32] {
        resolved = true
        guard !unresolved.isEmpty else { return [:] }
        let fromPostgres = try users.resolve(unresolved.lazy.map(\.userID), on: connection)
        for (row, userID, uidOffset) in unresolved {
            guard let uid = users.uid(userID) ?? fromPostgres[userID] else {
                throw ReplayError(message: "user \(userID) has no uid after resolution")
            }
            uids[row] = uid
            copy.overwriteInt32(at: uidOffset, uid)
        }
        unresolved.removeAll()
        return fromPostgres
    }

    /// Sends the whole COPY stream, trailer included. Call after ``resolveUsers(on:)``. Sends the rows
    /// as they are rather than appending the trailer to them: the batch's ``ReplayRead`` still holds
    /// this value, so appending would copy megabytes of rows first.
    func send(to stream: PostgresConnection.CopyInStream) throws {
        precondition(resolved && unresolved.isEmpty, "COPY rows sent before their uids were resolved")
        try stream.send(copy.buffered)
        try stream.send(CopyBinaryWriter.trailer)
    }

    /// Rollup groups of the rows, with their uids. Call after ``resolveUsers(on:)``.
    func insertedGroups() -> [ReplayBatchWriter.InsertedGroup] {
        groups.groups.map { group in
            ReplayBatchWriter.InsertedGroup(
                eventName: group.eventName, channel: group.channel, campaign: group.campaign, hourStart: group.hourStart,
                count: Int64(group.rows.count), uids: group.rows.map { UInt32(bitPattern: uids[Int($0)]) })
        }
    }

    /// Rows by rollup group (event name, channel, campaign, hour), like the staged path's RETURNING.
    private struct RowGroups {
        struct Group {
            var eventName: String
            var channel: String
            var campaign: String?
            var hourStart: Int64
            var rows: [Int32]
        }
        private struct Key: Hashable {
            var eventName: String
            var channel: String
            var campaign: String?
            var hourStart: Int64
        }
        private var index: [Key: Int] = [:]
        private(set) var groups: [Group] = []

        mutating func add(_ event: Event, row: Int) {
            let hourStart = UTCTime.hourStart(micros: event.timestampMicros)
            let key = Key(eventName: event.eventName, channel: event.channel, campaign: event.campaignID, hourStart: hourStart)
            if let position = index[key] {
                groups[position].rows.append(Int32(row))
            } else {
                index[key] = groups.count
                groups.append(Group(eventName: key.eventName, channel: key.channel, campaign: key.campaign, hourStart: hourStart, rows: [Int32(row)]))
            }
        }
    }
}

extension CopyBinaryWriter {
    /// Appends one event as a binary COPY row. Without `direct`: the staging table's columns
    /// (`idempotency_key, event_name, channel, campaign_id, user_id, ts, tags, metadata,
    /// received_at`). With it: the `events` columns of ``DirectCopyInsert/copyStatement``, which add
    /// `uid` after `user_id` and `node_id` at the end; then returns where the uid's 4 bytes are.
    @discardableResult
    mutating func appendEvent(_ event: Event, direct: (uid: Int32, nodeID: String)?) -> Int? {
        beginRow(fieldCount: direct == nil ? 9 : 11)
        uuid(event.idempotencyKey.bytes)
        text(event.eventName)
        text(event.channel)
        if let campaign = event.campaignID { text(campaign) } else { null() }
        text(event.userID)
        var uidOffset: Int?
        if let direct {
            uidOffset = bufferedByteCount + 4  // after the field's length
            int4(direct.uid)
        }
        timestamp(unixMicros: event.timestampMicros)
        textArray(event.tags)
        if let metadata = event.metadataJSON { jsonb(metadata) } else { null() }
        timestamp(unixMicros: event.receivedAtMicros)
        if let direct { text(direct.nodeID) }
        return uidOffset
    }
}
