import Bitmaps

/// One rollup row's worth of events: a count and the users behind them.
public struct RollupRow {
    public var key: RollupKey
    public var total: Int64
    public var users: RoaringBitmap

    public init(key: RollupKey, total: Int64, users: RoaringBitmap) {
        self.key = key
        self.total = total
        self.users = users
    }
}

/// New events folded into the rollup rows they change.
///
/// Callers add events already grouped by (event name, channel, campaign, hour), as SQL's GROUP BY or
/// the replayer's RETURNING produce them; only those per-campaign, per-channel hourly groups are kept.
/// Every other row is a union of them, computed once in ``rows(for:)`` (hour and day, per channel and
/// over all channels, with the campaigns merged) and ``campaignRows(for:)`` (the same per campaign):
/// adding stays a single bitmap insert however many rows an event feeds.
///
/// Not `Sendable` (it owns bitmaps): build and write it on one thread.
public struct RollupDeltas {
    /// Keyed with the campaign (``RollupKey/noCampaign`` for events without one).
    private var hourly: [RollupKey: RollupRow] = [:]
    /// Events added so far.
    public private(set) var eventCount: Int64 = 0

    public init() {}

    public var isEmpty: Bool { hourly.isEmpty }

    /// Adds `count` events of `eventName` on `channel` for `campaign` (nil: events without a
    /// `campaign_id`) in the hour starting at `hourStart` (Unix seconds, any instant of the hour is
    /// accepted) by the users `uids`.
    public mutating func add(
        eventName: String, channel: String, campaign: String?, hourStart: Int64, count: Int64, uids: UnsafeBufferPointer<UInt32>
    ) {
        precondition(channel != RollupKey.allChannels, "an event's channel is never empty (events_channel_not_empty)")
        let key = RollupKey(
            eventName: eventName, bucket: RollupTable.hourly.bucket(containing: hourStart), campaign: campaign ?? RollupKey.noCampaign,
            channel: channel)
        if let row = hourly[key] {
            row.users.add(contentsOf: uids)
            hourly[key]!.total += count
        } else {
            let users = RoaringBitmap()
            users.add(contentsOf: uids)
            hourly[key] = RollupRow(key: key, total: count, users: users)
        }
        eventCount += count
    }

    public mutating func add(eventName: String, channel: String, campaign: String?, hourStart: Int64, count: Int64, uids: [UInt32]) {
        uids.withUnsafeBufferPointer { add(eventName: eventName, channel: channel, campaign: campaign, hourStart: hourStart, count: count, uids: $0) }
    }

    /// The rows of `table` these events change, sorted by key (the lock order), each with the
    /// events' total and users for that row. Bitmaps are fresh: the caller may modify them.
    public func rows(for table: RollupTable) -> [RollupRow] {
        rows(bucketing: table.bucket(containing:), campaigns: false)
    }

    /// The rows of a coarser level (`rollup_blocks`) these events change, as ``rows(for:)``.
    public func rows(for level: RollupLevel) -> [RollupRow] {
        rows(bucketing: level.bucket(containing:), campaigns: false)
    }

    /// The rows of the campaign table of `table` (`rollup_campaign_hourly`, `_daily`): per campaign,
    /// one per channel and one over all channels, as the main tables.
    public func campaignRows(for table: RollupTable) -> [RollupRow] {
        rows(bucketing: table.bucket(containing:), campaigns: true)
    }

    /// The rows of a level of `rollup_campaign_blocks`, as ``campaignRows(for:)``.
    public func campaignRows(for level: RollupLevel) -> [RollupRow] {
        rows(bucketing: level.bucket(containing:), campaigns: true)
    }

    private static func accumulate(_ row: RollupRow, into group: inout (total: Int64, parts: [RoaringBitmap])) {
        group.total += row.total
        group.parts.append(row.users)
    }

    private func rows(bucketing bucketStart: (Int64) -> Int64, campaigns: Bool) -> [RollupRow] {
        // Group the per-campaign, per-channel hourly rows under every key they feed in the table.
        var groups: [RollupKey: (total: Int64, parts: [RoaringBitmap])] = [:]
        for row in hourly.values {
            let bucket = bucketStart(row.key.bucket)
            let campaign = campaigns ? row.key.campaign : RollupKey.noCampaign
            for channel in [row.key.channel, RollupKey.allChannels] {
                let key = RollupKey(eventName: row.key.eventName, bucket: bucket, campaign: campaign, channel: channel)
                // One lookup per key and row (the key's hash is most of the cost).
                Self.accumulate(row, into: &groups[key, default: (0, [])])
            }
        }
        return groups.map { key, group in
            RollupRow(key: key, total: group.total, users: RoaringBitmap.union(group.parts))
        }.sorted { $0.key < $1.key }
    }
}
