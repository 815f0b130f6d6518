import Logging
import Store

/// How the replayer batches, retries and keeps segments.
public struct ReplayerConfiguration: Sendable {
    public var databaseURL: String
    /// This node's checkpoint key; several nodes with separate WALs may drain into one database.
    public var nodeID: String
    /// Keep replayed segments instead of deleting them.
    public var retainSegments: Bool
    /// A transaction holds at most this many events...
    public var maxBatchEvents: Int = 20_000
    /// ...and at most this many record bytes.
    public var maxBatchBytes: Int = 16 << 20
    /// Capped exponential backoff while PostgreSQL is unreachable.
    public var minBackoff: Duration = .milliseconds(100)
    public var maxBackoff: Duration = .seconds(5)
    /// When caught up, batches start at most this often. Each transaction costs a commit and a merge
    /// of the touched rollup rows (whose bitmaps are rewritten whole), so committing whatever a few
    /// milliseconds brought spent ~45 % of a core in PostgreSQL at 6,500 events/s; waiting lets a
    /// batch gather. It bounds the replay lag added when caught up; a backlog is drained in full
    /// batches without waiting.
    public var minBatchInterval: Duration = .milliseconds(250)
    /// How long the replayer thread sleeps waiting for new WAL data before re-checking for shutdown.
    public var idleWait: Duration = .milliseconds(200)

    /// Merge new rows into the hourly and daily rollups in the same transaction (the default). Off only
    /// to measure what the rollups cost: the replayer then marks the rollups incomplete, so /metrics
    /// falls back to raw SQL until `event-metrics-service rollups rebuild` has run.
    public var maintainRollups = true

    /// Also merge new rows into the campaign rollups (`rollup_campaign_…`: `campaign_id=` and
    /// `group_by=campaign` from bitmaps; `--campaign-rollups`). Off by default: with 100 campaigns they
    /// cost the replayer several times what the main rollups do (docs/rollups.md, "The campaign
    /// dimension"). Off, every transaction that inserts events records a campaign gap
    /// (``RollupStatus/recordCampaignGap(on:)``), so campaign questions are answered by plain SQL,
    /// exactly, until the setting is on and a full `rollups rebuild` has run.
    public var campaignRollups = false

    /// COPY batches straight into `events` while their keys are all new (see ``ReplayBatchWriter``).
    /// Off only to test or measure the staged path alone.
    public var allowDirectCopy = true

    /// Run once before the first session (and retried with it until it succeeds): the executable
    /// applies the schema migrations here, so a service started while PostgreSQL was down migrates
    /// when it answers. nil: the database is ready (tests, benchmarks).
    public var prepareDatabase: (@Sendable (_ databaseURL: String, Logger) throws -> Void)?

    /// Called at the two points where a crash is most interesting; tests throw from it (or kill the
    /// connection) to prove that neither loses nor duplicates anything. nil in production.
    public var faultInjection: (@Sendable (ReplayFaultPoint, PostgresConnection) throws -> Void)?

    public init(databaseURL: String, nodeID: String, retainSegments: Bool = false) {
        self.databaseURL = databaseURL
        self.nodeID = nodeID
        self.retainSegments = retainSegments
    }
}

/// Where `ReplayerConfiguration.faultInjection` is called.
public enum ReplayFaultPoint: Sendable {
    /// Rows are in the open transaction, the checkpoint is not yet written and nothing is committed.
    case beforeCommit
    /// The transaction committed; the replayer has not yet recorded it in memory.
    case afterCommit
}
