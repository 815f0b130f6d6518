import Bitmaps

/// `group_by=campaign` through the query cache: each campaign's rollup rows (~29 for a 30-day window:
/// blocks, a day, ~22 edge hours) are unioned once and the union is kept in the cache with the row
/// versions it was made of, as a local bucket's union is (``LocalBucketQuery``). A repeated question
/// whose rows of a campaign are all at those versions takes the kept union instead of making it again
/// (~2,900 unions of cached bitmaps per 30-day question: a quarter of its time, most of it CRoaring
/// setting array values into bitsets). A window ending now keeps its whole hours, and so these
/// unions, for up to an hour; the raw partial hours are folded as always, and a late event gives its
/// row a new version, so that campaign is unioned afresh.
struct CampaignUnions {
    /// The cache level of these unions (0 days, 1... blocks, ``LocalBucketQuery/hourLevel`` hours,
    /// ``LocalBucketQuery/memoLevel`` local buckets).
    static let memoLevel = -3

    private struct Rows {
        var total: Int64 = 0
        var versions: [Int64] = []
        var bitmaps: [RoaringBitmap] = []
    }

    private let eventName: [UInt8]
    /// The window's whole hours (Unix seconds): every rollup row read lies inside them.
    private let hours: Range<Int64>
    /// The channel filter, or empty (the all-channels rows).
    private let channel: [UInt8]
    private var campaigns: [[UInt8]: Rows] = [:]

    init(request: MetricsRequest, hours: Range<Int64>) {
        eventName = Array(request.eventName.utf8)
        self.hours = hours
        channel = Array((request.channel ?? "").utf8)
    }

    /// One rollup row of `campaign`, at its version, with its users.
    mutating func add(campaign: String, total: Int64, version: Int64, users: RoaringBitmap) {
        let key = Array(campaign.utf8)
        campaigns[key, default: Rows()].total += total
        campaigns[key]!.versions.append(version)
        campaigns[key]!.bitmaps.append(users)
    }

    /// Adds each campaign's union to `fold` as one row: the kept one when its versions are exactly
    /// these rows', else made now and kept (without a cache, made now).
    func fold(into fold: inout RollupMetricsFold, cache: BitmapCache?) {
        for (campaign, rows) in campaigns {
            let key = BitmapCache.Key(
                eventName: eventName, level: Self.memoLevel, start: hours.lowerBound, channel: channel, end: hours.upperBound, campaign: campaign)
            let signature = rows.versions.sorted()
            let union: RoaringBitmap
            if let memo = cache?.memo(key), memo.signature == signature {
                cache?.used(key)
                union = memo.bitmap
            } else {
                union = RoaringBitmap.union(rows.bitmaps)
                cache?.storeMemo(key, signature: signature, bitmap: union)
            }
            let row = RollupMetricsQuery.RollupRow(
                channel: String(decoding: campaign, as: UTF8.self), bucket: 0, total: rows.total, uniques: Int64(union.cardinality), users: nil)
            fold.add(row, users: union, kind: .day)
        }
    }
}
