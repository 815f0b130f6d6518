import Foundation
import Store

/// The replayer's fast path: COPY a batch straight into `events`, skipping the staging table.
///
/// The staged path (COPY into a temp table, then `INSERT … SELECT … JOIN users … ON CONFLICT DO
/// NOTHING RETURNING`) measured at about half the rate of a plain COPY into the same table: the
/// second pass over the rows, the join with `users`, the sort and the speculative insertion all cost.
/// This path makes the common case — every key new — cost what a plain COPY costs:
/// - keys repeated inside the batch are dropped here (the first one wins, as with ON CONFLICT);
/// - `uid`s come from a per-session dictionary (``ReplayUserDirectory``), so the rows carry them;
/// - the rows are COPYed into `events`, in WAL order, inside a savepoint. WAL order is roughly time
///   order, which keeps inserts into `events_name_ts` near its right edge; sorting by key (the staged
///   path's lock order) measured ~8 % slower. Two nodes COPYing the same new key at the same moment
///   can deadlock; PostgreSQL then aborts one transaction and that replayer retries from its
///   checkpoint, so it costs a retry, never a row.
///
/// The unique index on `idempotency_key` stays the judge: if any key is already stored (a client retry
/// that reached another batch, a batch replayed after a lost checkpoint), the COPY fails with
/// `unique_violation`, the savepoint rolls it back whole, and the caller runs the staged path, which
/// skips exactly the stored keys. Every row of a successful COPY is new, so its rollup groups are
/// computed here, from the rows themselves.
struct DirectCopyInsert {
    let nodeID: String

    static let copyStatement = """
        COPY events (idempotency_key, event_name, channel, campaign_id, user_id, uid, ts, tags, metadata, received_at, node_id) \
        FROM STDIN (FORMAT binary)
        """

    /// What a successful direct COPY did.
    struct Result {
        var inserted: Int
        var groups: [ReplayBatchWriter.InsertedGroup]
        /// User ids resolved from PostgreSQL for this slice; remembered once the slice's savepoint is
        /// released.
        var resolvedUsers: [String: Int32]
    }

    /// Inserts `records` (all decoded) and returns what went in. Run it in a savepoint: a key already
    /// stored fails the COPY with `unique_violation` (``PostgresError/isUniqueViolation``), and rolling
    /// back the savepoint undoes the whole slice.
    func insert(_ records: ArraySlice<ReplayRecord>, users: ReplayUserDirectory, on connection: PostgresConnection) throws -> Result {
        var prepared = PreparedDirectCopy(nodeID: nodeID, users: users)
        for record in records { if let event = record.event { prepared.add(event) } }
        return try insert(prepared, on: connection)
    }

    /// Inserts a batch encoded ahead (see ``PreparedDirectCopy``); same contract as above.
    func insert(_ prepared: PreparedDirectCopy, on connection: PostgresConnection) throws -> Result {
        var prepared = prepared
        let resolved = try prepared.resolveUsers(on: connection)
        try connection.copyIn(Self.copyStatement) { try prepared.send(to: $0) }
        return Result(inserted: prepared.rowCount, groups: prepared.insertedGroups(), resolvedUsers: resolved)
    }
}

/// user_id → uid for one replay session, so the direct COPY can carry `uid` without a join.
///
/// A uid never changes once its `users` row is committed, and a session's memory dies with the
/// session (any error discards it, and with it every transaction it had open), so only uids read or
/// inserted by slices whose savepoint was released are remembered (``remember(_:)``). Bounded: past
/// ``capacity`` entries it starts over, which costs one lookup per user on the next batches.
final class ReplayUserDirectory: @unchecked Sendable {
    /// Guards `uids`: the read-ahead thread looks uids up (``PreparedDirectCopy``) while the replayer's
    /// thread remembers new ones.
    private let lock = NSLock()
    private var uids: [String: Int32] = [:]
    let capacity: Int

    init(capacity: Int = 1_000_000) {
        self.capacity = capacity
    }

    var count: Int { lock.withLock { uids.count } }

    func uid(_ userID: String) -> Int32? { lock.withLock { uids[userID] } }

    func remember(_ resolved: [String: Int32]) {
        guard !resolved.isEmpty else { return }
        lock.withLock {
            if uids.count + resolved.count > capacity { uids.removeAll(keepingCapacity: true) }
            uids.merge(resolved) { old, _ in old }
        }
    }

    /// Looks up (and creates where missing) the uids of the users this directory does not know yet.
    /// Known users cost nothing; the rest take one SELECT, and new users one INSERT more.
    func resolve(_ userIDs: some Sequence<String>, on connection: PostgresConnection) throws -> [String: Int32] {
        var missing = Set<String>()
        lock.withLock { for userID in userIDs where uids[userID] == nil { missing.insert(userID) } }
        guard !missing.isEmpty else { return [:] }
        var resolved: [String: Int32] = [:]
        resolved.reserveCapacity(missing.count)
        try Self.read(connection.executePrepared(Self.select, parameters: [PostgresBinaryArray.text(missing.sorted())], resultFormat: .binary), into: &resolved)
        let new = missing.filter { resolved[$0] == nil }.sorted()
        if !new.isEmpty {
            // RETURNING gives the rows this statement inserted; a user another node inserted meanwhile
            // (ON CONFLICT skipped it) is read back by the second SELECT.
            try Self.read(connection.executePrepared(Self.insert, parameters: [PostgresBinaryArray.text(new)], resultFormat: .binary), into: &resolved)
            let raced = new.filter { resolved[$0] == nil }
            if !raced.isEmpty {
                try Self.read(connection.executePrepared(Self.select, parameters: [PostgresBinaryArray.text(raced)], resultFormat: .binary), into: &resolved)
            }
        }
        return resolved
    }

    static let select = "SELECT user_id, uid FROM users WHERE user_id = ANY($1::text[])"

    /// Sorted input: two nodes inserting the same new users lock them in the same order.
    static let insert = """
        INSERT INTO users (user_id) SELECT u FROM unnest($1::text[]) AS t(u) ORDER BY 1
        ON CONFLICT (user_id) DO NOTHING RETURNING user_id, uid
        """

    private static func read(_ result: PostgresResult, into resolved: inout [String: Int32]) throws {
        for row in 0..<result.rowCount {
            guard let userID = result.string(row, 0), let uid = result.int64(row, 1) else {
                throw ReplayError(message: "unexpected row from the users lookup")
            }
            resolved[userID] = Int32(truncatingIfNeeded: uid)
        }
    }
}
