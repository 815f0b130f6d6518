import Bitmaps
import Store

/// How a ``MetricsRequest`` is computed.
public enum MetricsStrategy: String, Sendable, CaseIterable {
    /// Rollup bitmaps for whole days and hours, raw rows only for partial hours (what /metrics uses).
    case rollups
    /// The rollups without the coarser day blocks: one daily bitmap per whole day, as before issue 17
    /// (the benchmark's baseline for long windows).
    case dailyRollups = "daily-rollups"
    /// One scan of `events` (``MetricsPlanner``): the reference the rollups must equal, and the
    /// benchmark baseline.
    case plainSQL = "plain-sql"
}

/// Runs a request on one connection (blocking; call it on a pool thread).
public enum MetricsComputation {
    /// With ``MetricsStrategy/rollups``, one statement (``RollupMetricsQuery``) reads the rollup rows,
    /// the raw partial hours and `rollup_status`, so the parts come from one snapshot; its rows are
    /// folded as they arrive (``RollupMetricsFold``). While `rollup_status.complete` is false (events
    /// that predate the rollups, not yet rebuilt) the answer comes from plain SQL instead: slow but
    /// never wrong.
    public static func run(
        _ request: MetricsRequest, strategy: MetricsStrategy, cache: BitmapCache? = nil, on connection: PostgresConnection
    ) throws -> MetricsResult {
        if strategy != .plainSQL, let result = try fromRollups(request, useLevels: strategy == .rollups, cache: cache, on: connection) {
            return result
        }
        return try MetricsExecutor.run(MetricsPlanner.plan(request), on: connection)
    }

    /// What ``fromRollups`` passes for a block row (its level is found from the cover): not a level
    /// of the cache's keys (0 day, 1... blocks, ``LocalBucketQuery/hourLevel`` hours).
    static let blockLevel = Int.min

    /// Nil when the rollups are incomplete.
    ///
    /// Time buckets outside UTC, and weeks and months, go through ``LocalBucketQuery``, except
    /// `group_by=hour` in a zone whose offset stays a whole number of hours over the window: its local
    /// hours are UTC hours, so the UTC plan answers and only the keys are local.
    ///
    /// `campaignUnions`: whether `group_by=campaign` may take the campaigns' kept unions
    /// (``CampaignUnions``); false on the run again after one of them turned out stale.
    static func fromRollups(
        _ request: MetricsRequest, useLevels: Bool, cache: BitmapCache?, campaignUnions: Bool = true, on connection: PostgresConnection
    ) throws -> MetricsResult? {
        if request.needsLocalBuckets {
            return try LocalBucketQuery(request: request).run(cache: cache, on: connection)
        }
        let split = MetricsWindowSplit(fromMicros: request.fromMicros, toMicros: request.toMicros)
        var plan = RollupMetricsQuery(request: request, split: split, useLevels: useLevels)
        // The cover's days and blocks may come from the cache (every day for the daily-only plan);
        // for the campaign tables also the edge hours, which are most of `group_by=campaign`'s rows.
        var pieces: [(level: Int, start: Int64)] =
            useLevels
            ? plan.cover.map { (level: $0.level?.level ?? 0, start: $0.start) }
            : stride(from: split.days.lowerBound, to: split.days.upperBound, by: 86_400).map { (level: 0, start: $0) }
        let cachedHours = request.usesCampaigns && request.groupBy != .hour
        if cachedHours {
            for range in split.edgeHours {
                pieces += stride(from: range.lowerBound, to: range.upperBound, by: 3_600).map { (level: LocalBucketQuery.hourLevel, start: $0) }
            }
        }
        if let cache, cache.isEnabled {
            plan.held = cache.entries(eventName: request.eventName, pieces: pieces, campaigns: request.usesCampaigns)
        }
        // group_by=campaign through the cache: each campaign's rows are unioned once, or not at all,
        // and the kept unions stand for their rows' bitmaps.
        let byCampaign = request.groupBy == .campaign
        let memoCache = byCampaign ? cache.flatMap { $0.isEnabled ? $0 : nil } : nil
        var unions = CampaignUnions(request: request, hours: split.hours, cache: campaignUnions ? memoCache : nil)
        plan.heldThroughUnions = unions.heldVersions
        let query = plan
        // By version for the campaign tables (a version names one row: the statement matched them so),
        // whose rows would otherwise each build a key to find their bitmap; by key for the others.
        let held = request.usesCampaigns ? [:] : Dictionary(query.held.map { ($0.key, $0.bitmap) }, uniquingKeysWith: { first, _ in first })
        var heldVersions: [Int64: Int] = [:]
        if request.usesCampaigns {
            heldVersions.reserveCapacity(query.held.count)
            for (index, entry) in query.held.enumerated() { heldVersions[entry.version] = index }
        }
        var versionHits = 0
        let name = Array(request.eventName.utf8)
        /// The row's bitmap: from the cache when the statement left it out for that reason, else
        /// deserialized (and, for whole days, blocks and the campaign tables' edge hours, offered to the
        /// cache). `level` ``blockLevel``: a block, whose level the row does not carry; found from the
        /// cover by its start. A campaign table's row is keyed with its campaign and channel (one of them in the key
        /// column, the other in ``RollupMetricsQuery/RollupRow/other``).
        func users(of row: RollupMetricsQuery.RollupRow, level: Int?) throws -> RoaringBitmap? {
            if row.cached, let version = row.version, let index = heldVersions[version] {
                versionHits += 1
                return query.held[index].bitmap
            }
            var key: BitmapCache.Key?
            if let level, let cache, cache.isEnabled {
                let resolved =
                    level != Self.blockLevel ? level : (query.cover.first { $0.start == row.bucket && $0.level != nil }?.level?.level ?? 0)
                key = BitmapCache.Key(eventName: name, level: resolved, start: row.bucket, channel: Array(row.channel.utf8))
                if let other = row.other {
                    (key!.campaign, key!.channel) = byCampaign ? (Array(row.channel.utf8), Array(other.utf8)) : (Array(other.utf8), Array(row.channel.utf8))
                }
            }
            if row.cached {
                guard let key, let bitmap = held[key] else {
                    throw PostgresError(code: .queryFailed, message: "the metrics query left out a bitmap the cache does not hold")
                }
                cache?.used(key)
                return bitmap
            }
            guard let bytes = row.users else { return nil }
            let bitmap = try RollupMetricsQuery.bitmap(bytes)
            // (Not for group_by=campaign through the cache: its kept unions stand for these.)
            if let key, let version = row.version, memoCache == nil { cache?.store(key, version: version, bitmap: bitmap, bytes: bytes.count) }
            return bitmap
        }

        var fold = RollupMetricsFold(groupBy: request.groupBy, zone: request.timeZone)
        func add(_ row: RollupMetricsQuery.RollupRow, users: RoaringBitmap?, kind: RollupMetricsFold.Kind) {
            let level = kind == .day ? 0 : kind == .block ? 1 : LocalBucketQuery.hourLevel
            if memoCache != nil, let users, let version = row.version, let part = query.part(level: level, start: row.bucket) {
                unions.add(campaign: row.channel, total: row.total, version: version, part: part, users: users)
            } else {
                fold.add(row, users: users, kind: kind)
            }
        }
        var complete = false
        try query.stream(on: connection) { row in
            switch row {
            case .status(let isComplete, _): complete = isComplete
            case .day(let rollup): add(rollup, users: try users(of: rollup, level: 0), kind: .day)
            case .hour(let rollup):
                // Versions come with the campaign tables' edge hours only.
                let level = cachedHours && rollup.version != nil ? LocalBucketQuery.hourLevel : nil
                add(rollup, users: try users(of: rollup, level: level), kind: .hour)
            case .block(let rollup): add(rollup, users: try users(of: rollup, level: Self.blockLevel), kind: .block)
            case .raw(let group): fold.add(group)
            case .heldRows(let campaign, let part, let total, let versions):
                // Only group_by=campaign through the cache sends these: the held rows of one campaign
                // and part, into that campaign's union (the part's total on the first), with their
                // bitmaps from the cache or, held through a kept union, without.
                for (position, version) in versions.enumerated() {
                    var users: RoaringBitmap?
                    if let index = heldVersions[version] {
                        users = query.held[index].bitmap
                        versionHits += 1
                    } else if !unions.holds(version: version) {
                        throw PostgresError(code: .queryFailed, message: "the metrics query grouped a version the cache does not hold")
                    }
                    unions.add(campaign: campaign, total: position == 0 ? total : 0, version: version, part: part, users: users)
                }
            }
        }
        cache?.countHits(versionHits)
        guard complete else { return nil }
        guard unions.fold(into: &fold, cache: memoCache) else {
            return try fromRollups(request, useLevels: useLevels, cache: cache, campaignUnions: false, on: connection)
        }
        return fold.result()
    }
}
