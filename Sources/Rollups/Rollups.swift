import Time
/// # Rollups
///
/// The hourly and daily rollup tables of `0002_rollups.sql`: per (event name, time bucket, channel)
/// and per (event name, time bucket) over all channels (channel `""`), the event count and the exact
/// set of users as a Roaring bitmap.
///
/// - ``RollupDeltas`` folds new events (grouped by channel and hour) into the rows they change;
/// - ``RollupWriter`` merges deltas into the tables inside the caller's transaction (the replayer, the
///   seed) with row locks taken in one global order, so concurrent writers never deadlock;
/// - ``RawRollupSource`` reads events back as deltas, for ``RollupRebuilder``;
/// - ``RollupVerifier`` compares every rollup row with independent SQL over `events`;
/// - ``RollupStatus`` records whether the rollups cover all of `events` (else /metrics uses raw SQL).
///
/// Everything here blocks on libpq: call it from a thread that may block.
public enum Rollups {}

/// The two rollup tables; their SQL names are fixed strings, never built from input.
public enum RollupTable: String, Sendable, CaseIterable {
    case hourly
    case daily

    public var name: String { self == .hourly ? "rollup_hourly" : "rollup_daily" }
    /// The table's campaign twin (`0005_campaign_rollups.sql`).
    public var campaignName: String { self == .hourly ? "rollup_campaign_hourly" : "rollup_campaign_daily" }
    /// The time bucket column.
    public var bucketColumn: String { self == .hourly ? "hour" : "day" }
    /// The bucket length in seconds.
    public var bucketSeconds: Int64 { self == .hourly ? 3_600 : 86_400 }

    /// Locks every rollup table against writers (replayers wait; metrics keep reading): what the
    /// rebuild holds while it replaces rows.
    public static let lockAllForRebuild = """
        LOCK TABLE rollup_hourly, rollup_daily, rollup_blocks, rollup_campaign_hourly, rollup_campaign_daily, rollup_campaign_blocks
        IN EXCLUSIVE MODE
        """

    /// The start of the bucket holding `seconds` (Unix seconds, UTC).
    public func bucket(containing seconds: Int64) -> Int64 {
        UTCTime.bucketStart(seconds: seconds, bucketSeconds: bucketSeconds)
    }
}
