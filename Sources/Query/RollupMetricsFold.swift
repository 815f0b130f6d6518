import Bitmaps
import Time

/// Combines rollup rows and raw edge groups into a ``MetricsResult``, unioning users through
/// CRoaring.
///
/// A group made of a single rollup row takes that row's stored `uniques` and needs no bitmap (every
/// hour of `group_by=hour`, every whole day of `group_by=day`); any other group, and the overall
/// figure, is the cardinality of the union of its parts. Each stored bitmap is read once, however
/// many unions it joins.
struct RollupMetricsFold {
    private enum GroupKey: Hashable {
        /// UTF-8 bytes: PostgreSQL compares text by bytes; Swift's `String ==` would merge
        /// canonically equivalent channel names.
        case channel([UInt8])
        case bucket(Int64)
    }

    private struct Group {
        var total: Int64 = 0
        var parts = 0
        /// The stored unique count when the group is one rollup row.
        var storedUniques: Int64?
        var bitmaps: [RoaringBitmap] = []
        var uids: [UInt32] = []

        var uniques: Int64 {
            if parts == 1, let storedUniques { return storedUniques }
            let union = RoaringBitmap.union(bitmaps)
            union.add(contentsOf: uids)
            return Int64(union.cardinality)
        }
    }

    let groupBy: MetricsRequest.GroupBy
    private var groups: [GroupKey: Group] = [:]
    private var total: Int64 = 0
    private var bitmaps: [RoaringBitmap] = []
    private var uids: [UInt32] = []

    init(groupBy: MetricsRequest.GroupBy) {
        self.groupBy = groupBy
    }

    /// A whole-day or whole-hour row. Rows without users (hours inside whole days) only make their
    /// own `group_by=hour` group: the days already count their events in the overall figures.
    mutating func add(_ row: RollupMetricsQuery.RollupRow, isDay: Bool) throws(BitmapError) {
        let users = try row.users.map { (bytes) throws(BitmapError) in try RoaringBitmap(portable: bytes) }
        if let users {
            total += row.total
            bitmaps.append(users)
        }
        let key: GroupKey? =
            switch groupBy {
            case .none: nil
            case .channel: .channel(Array(row.channel.utf8))
            case .hour: isDay ? nil : .bucket(row.bucket)
            case .day: .bucket(UTCTime.bucketStart(seconds: row.bucket, bucketSeconds: UTCTime.secondsPerDay))
            }
        guard let key else { return }
        update(key) { group in
            group.total += row.total
            group.parts += 1
            group.storedUniques = row.uniques
            if let users { group.bitmaps.append(users) }
        }
    }

    /// Raw events of a partial hour.
    mutating func add(_ raw: RollupMetricsQuery.RawGroup) {
        total += raw.count
        uids += raw.uids
        let key: GroupKey? =
            switch groupBy {
            case .none: nil
            case .channel: .channel(Array(raw.channel.utf8))
            case .hour: .bucket(raw.hour)
            case .day: .bucket(UTCTime.bucketStart(seconds: raw.hour, bucketSeconds: UTCTime.secondsPerDay))
            }
        guard let key else { return }
        update(key) { group in
            group.total += raw.count
            group.parts += 1
            group.storedUniques = nil
            group.uids += raw.uids
        }
    }

    /// One hash lookup per change (the `default:` subscript modifies in place).
    private mutating func update(_ key: GroupKey, _ body: (inout Group) -> Void) {
        body(&groups[key, default: Group()])
    }

    func result() -> MetricsResult {
        let overall = RoaringBitmap.union(bitmaps)
        overall.add(contentsOf: uids)
        var result = MetricsResult(totalCount: total, uniqueUserCount: Int64(overall.cardinality), groups: [])
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
                case (.bucket(let seconds), .hour): UTCTime.hourKey(seconds: seconds)
                case (.bucket(let seconds), _): UTCTime.dayKey(seconds: seconds)
                }
            result.groups.append(MetricsGroup(key: name, totalCount: group.total, uniqueUserCount: group.uniques))
        }
        return result
    }
}
