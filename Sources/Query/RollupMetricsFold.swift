import Bitmaps
import Foundation
import Time

/// Combines rollup rows and raw edge groups into a ``MetricsResult`` as they stream in, unioning
/// users through CRoaring.
///
/// Each bitmap is folded into running unions (the overall one and its group's) the moment its row
/// arrives and then dropped, so a query holds at most one union per group and one input at a time,
/// however long its window (the memory bound of issue 17). A group made of a single rollup row takes
/// that row's stored `uniques` and needs no union (every hour of `group_by=hour`, every whole day of
/// `group_by=day`); any other group, and the overall figure, is the cardinality of its union.
struct RollupMetricsFold {
    private enum GroupKey: Hashable {
        /// UTF-8 bytes: PostgreSQL compares text by bytes; Swift's `String ==` would merge
        /// canonically equivalent channel names.
        case channel([UInt8])
        case bucket(Int64)

        /// The bytes as one buffer (the synthesized hash feeds an array to the hasher byte by byte;
        /// `group_by=campaign` looks a group up for each of its ~2,900 rows).
        func hash(into hasher: inout Hasher) {
            switch self {
            case .channel(let bytes):
                bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
                hasher.combine(bytes.count)
            case .bucket(let start):
                hasher.combine(start)
                hasher.combine(-1)  // never a byte count
            }
        }
    }

    /// Which part of the window a rollup row covers.
    enum Kind {
        case day, hour, block
    }

    private struct Group {
        var total: Int64 = 0
        var parts = 0
        /// The stored unique count when the group is one rollup row.
        var storedUniques: Int64?
        /// Its rows' bitmaps and raw uids: one own copy at most, made when a second input arrives (a
        /// group of one cached bitmap and a partial hour's uids is copied once, not once more for its
        /// count and again for the overall union: at 10M users a campaign's 30-day union is ~1 MB).
        var union = LazyUnion()
        /// Whether raw uids went into `union` (a local bucket's union is then not its rows' alone).
        var hasRaw = false

        /// After `union.finish()`.
        var uniques: Int64 {
            if parts == 1, let storedUniques { return storedUniques }
            return Int64(union.bitmap?.cardinality ?? 0)
        }
    }

    let groupBy: MetricsRequest.GroupBy
    /// The zone the hour keys are written in (a whole-hour zone, whose hours are UTC hours).
    let zone: TimeZone
    /// Buckets of a zone, or weeks and months (``LocalBucketQuery``): every row goes to the bucket
    /// holding its start, and every row carries its users.
    let localBuckets: LocalBuckets?
    private var groups: [GroupKey: Group] = [:]
    private var total: Int64 = 0
    private let overall = RoaringBitmap()
    /// Whether every input with users lands in exactly one group (local buckets, and grouping by
    /// channel or campaign): the overall users are then the union of the groups' unions, taken once in
    /// ``result()``, instead of a second union per input (`group_by=campaign` over 30 days is ~16,000
    /// rows in ~100 groups).
    private var overallFromGroups: Bool { localBuckets != nil || groupBy == .channel || groupBy == .campaign }

    init(groupBy: MetricsRequest.GroupBy, zone: TimeZone = MetricsRequest.utc) {
        self.groupBy = groupBy
        self.zone = zone
        localBuckets = nil
    }

    /// For local buckets, whose pieces partition the window: the overall users are the union of the
    /// buckets' unions, taken once at the end (~30 unions for 30 local days instead of one per piece,
    /// ~720 hourly bitmaps).
    init(buckets: LocalBuckets) {
        groupBy = buckets.unit
        zone = buckets.zone
        localBuckets = buckets
    }

    /// A whole-day, whole-hour or block row and its users (nil where the query left them out). Rows
    /// without users (hours inside whole days, days inside blocks) only make their own
    /// `group_by=hour`/`day` group: the row with the bitmap already counts their events in the
    /// overall figures. `users` is only read, never modified.
    mutating func add(_ row: RollupMetricsQuery.RollupRow, users: RoaringBitmap?, kind: Kind) {
        if let users {
            total += row.total
            if !overallFromGroups { overall.formUnion(users) }
        }
        let key: GroupKey? =
            if let localBuckets { .bucket(localBuckets.starts[localBuckets.bucket(containing: row.bucket)]) } else {
            switch (groupBy, kind) {
            case (.none, _): nil
            // The key column holds the campaign for group_by=campaign.
            case (.channel, _), (.campaign, _): .channel(Array(row.channel.utf8))
            case (.hour, .hour): .bucket(row.bucket)
            case (.hour, _), (.day, .block), (.week, _), (.month, _): nil
            case (.day, _): .bucket(UTCTime.bucketStart(seconds: row.bucket, bucketSeconds: UTCTime.secondsPerDay))
            }
            }
        guard let key else { return }
        update(key) { group in
            group.total += row.total
            group.parts += 1
            group.storedUniques = row.uniques
            if let users { group.union.add(users) }
        }
    }

    /// Raw events of a partial hour.
    mutating func add(_ raw: RollupMetricsQuery.RawGroup) {
        total += raw.count
        if !overallFromGroups { overall.add(contentsOf: raw.uids) }
        let key: GroupKey? =
            if let localBuckets { .bucket(localBuckets.starts[localBuckets.bucket(containing: raw.hour)]) } else {
            switch groupBy {
            case .none, .week, .month: nil
            case .channel, .campaign: .channel(Array(raw.channel.utf8))
            case .hour: .bucket(raw.hour)
            case .day: .bucket(UTCTime.bucketStart(seconds: raw.hour, bucketSeconds: UTCTime.secondsPerDay))
            }
            }
        guard let key else { return }
        update(key) { group in
            group.total += raw.count
            group.parts += 1
            group.storedUniques = nil
            group.union.add(contentsOf: raw.uids)
            group.hasRaw = true
        }
    }

    /// The union of a local bucket's rows after ``result()`` (nil when it has raw uids).
    func union(ofBucketStarting start: Int64) -> RoaringBitmap? {
        guard let group = groups[.bucket(start)], !group.hasRaw else { return nil }
        return group.union.bitmap
    }

    /// One hash lookup per change (the `default:` subscript modifies in place).
    private mutating func update(_ key: GroupKey, _ body: (inout Group) -> Void) {
        body(&groups[key, default: Group()])
    }

    func result() -> MetricsResult {
        var groups = groups
        for key in groups.keys { groups[key]!.union.finish() }
        let users = overallFromGroups ? RoaringBitmap.union(groups.values.compactMap(\.union.bitmap)) : overall
        var result = MetricsResult(totalCount: total, uniqueUserCount: Int64(users.cardinality), groups: [])
        // Sorted before the keys become text: bytes for channels, time for buckets (the same order as
        // their UTF-8 keys, which are fixed-width and zero-padded).
        let sorted = groups.filter { $0.value.total > 0 }.sorted { a, b in
            switch (a.key, b.key) {
            case (.channel(let x), .channel(let y)): x.lexicographicallyPrecedes(y)
            case (.bucket(let x), .bucket(let y)): x < y
            default: false
            }
        }
        result.groups.reserveCapacity(sorted.count)
        for (key, group) in sorted {
            let name: String =
                switch (key, groupBy) {
                case (.channel(let bytes), _): String(decoding: bytes, as: UTF8.self)
                case (.bucket(let seconds), _): MetricsKey.key(seconds: seconds, groupBy: groupBy, zone: zone)
                }
            result.groups.append(MetricsGroup(key: name, totalCount: group.total, uniqueUserCount: group.uniques))
        }
        return result
    }
}
