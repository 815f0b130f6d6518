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

    static let copyStatement = EventsTable.copyStatement

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
