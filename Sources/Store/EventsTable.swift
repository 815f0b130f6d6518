/// The `events` table (migration 0001) as its writers name it: the replayer's direct COPY and staged
/// insert, the seeder and the replay benchmark list the same columns in the same order, so a column
/// added to the table is added here once.
public enum EventsTable {
    /// Every column a writer fills, in the order of a binary COPY row.
    public static let columns = "idempotency_key, event_name, channel, campaign_id, user_id, uid, ts, tags, metadata, received_at, node_id"

    /// `COPY events (…) FROM STDIN (FORMAT binary)` with ``columns``.
    public static let copyStatement = "COPY events (\(columns)) FROM STDIN (FORMAT binary)"
}
