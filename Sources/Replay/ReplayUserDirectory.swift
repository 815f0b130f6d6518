import Store
import Synchronization

/// user_id → uid for one replay session, so the direct COPY can carry `uid` without a join.
///
/// A uid never changes once its `users` row is committed, and a session's memory dies with the
/// session (any error discards it, and with it every transaction it had open), so only uids read or
/// inserted by slices whose savepoint was released are remembered (``remember(_:)``). Bounded: past
/// ``capacity`` entries it starts over, which costs one lookup per user on the next batches.
final class ReplayUserDirectory: Sendable {
    /// The read-ahead thread looks uids up (``PreparedDirectCopy``) while the replayer's thread
    /// remembers new ones.
    private let uids = Mutex<[String: Int32]>([:])
    let capacity: Int

    init(capacity: Int = 1_000_000) {
        self.capacity = capacity
    }

    var count: Int { uids.withLock { $0.count } }

    func uid(_ userID: String) -> Int32? { uids.withLock { $0[userID] } }

    func remember(_ resolved: [String: Int32]) {
        guard !resolved.isEmpty else { return }
        uids.withLock { uids in
            if uids.count + resolved.count > capacity { uids.removeAll(keepingCapacity: true) }
            uids.merge(resolved) { old, _ in old }
        }
    }

    /// Looks up (and creates where missing) the uids of the users this directory does not know yet.
    /// Known users cost nothing; the rest take one SELECT, and new users one INSERT more.
    func resolve(_ userIDs: some Sequence<String>, on connection: PostgresConnection) throws -> [String: Int32] {
        var missing = Set<String>()
        uids.withLock { uids in for userID in userIDs where uids[userID] == nil { missing.insert(userID) } }
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
