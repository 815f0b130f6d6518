import Bitmaps

/// `group_by=campaign` through the query cache: each campaign's rollup rows (~29 for a 30-day window:
/// blocks, a day, ~22 edge hours) are unioned once and the union is kept in the cache with the row
/// versions it was made of, as a local bucket's union is (``LocalBucketQuery``). A repeated question
/// whose rows of a campaign are all at those versions takes the kept union instead of making it again
/// (~2,900 unions of cached bitmaps per 30-day question: a quarter of its time, most of it CRoaring
/// setting array values into bitsets). A window ending now keeps its whole hours, and so these
/// unions, for up to an hour; the raw partial hours are folded as always, and a late event gives its
/// row a new version, so that campaign is unioned afresh.
///
/// The kept unions stand for their rows' bitmaps too: the rows' versions are sent to the statement as
/// held, so a repeated question fetches no bitmap of them, and the rows' own bitmaps are not kept (at
/// 10M users a 30-day question's ~500 block bitmaps and its 101 unions did not fit the default 128 MiB
/// together, and each question evicted what the next one needed). A campaign whose rows changed needs
/// them all: if one was left out for its union, ``fold(into:cache:)`` says so and the caller runs the
/// statement again without the kept unions (a new statement, so the answer is still one snapshot).
struct CampaignUnions {
    /// The cache level of these unions (0 days, 1... blocks, ``LocalBucketQuery/hourLevel`` hours,
    /// ``LocalBucketQuery/memoLevel`` local buckets).
    static let memoLevel = -3

    /// Which part of the statement a row came from: the signature keeps it beside each version, so
    /// the held versions go to the part that reads them (``RollupMetricsQuery``'s `$24`, `$26`, `$27`,
    /// `$28`).
    enum Part: Int64 {
        case days, blocks, firstEdge, lastEdge
    }

    private struct Rows {
        var total: Int64 = 0
        var signature: [Int64] = []
        /// Nil where the row was left out because a kept union holds it.
        var bitmaps: [RoaringBitmap?] = []
    }

    private let eventName: [UInt8]
    /// The window's whole hours (Unix seconds): every rollup row read lies inside them.
    private let hours: Range<Int64>
    /// The channel filter, or empty (the all-channels rows).
    private let channel: [UInt8]
    private var campaigns: [[UInt8]: Rows] = [:]
    /// The kept unions found for this window, by campaign.
    private var memos: [[UInt8]: (key: BitmapCache.Key, signature: [Int64], bitmap: RoaringBitmap)] = [:]
    /// Every version the kept unions stand for.
    private var heldByMemos: Set<Int64> = []

    /// `cache`: where the kept unions are looked up (nil: none are used, e.g. on the run again).
    init(request: MetricsRequest, hours: Range<Int64>, cache: BitmapCache?) {
        eventName = Array(request.eventName.utf8)
        self.hours = hours
        channel = Array((request.channel ?? "").utf8)
        guard let cache else { return }
        let (start, end, channel) = (hours.lowerBound, hours.upperBound, channel)
        for memo in cache.memos(eventName: request.eventName, level: Self.memoLevel, where: { $0.start == start && $0.end == end && $0.channel == channel }) {
            guard let campaign = memo.key.campaign else { continue }
            memos[campaign] = memo
            for element in memo.signature { heldByMemos.insert(element >> 2) }
        }
    }

    /// A signature element: the row's version and its part.
    private static func element(version: Int64, part: Part) -> Int64 { version << 2 | part.rawValue }

    /// The versions the kept unions stand for, per part (to be sent as held).
    var heldVersions: [Part: [Int64]] {
        var parts: [Part: [Int64]] = [:]
        for memo in memos.values {
            for element in memo.signature { parts[Part(rawValue: element & 3)!, default: []].append(element >> 2) }
        }
        return parts
    }

    /// Whether a kept union stands for this version (its row comes without bitmap).
    func holds(version: Int64) -> Bool { heldByMemos.contains(version) }

    /// One rollup row of `campaign`, at its version, with its users (nil: left out for a kept union).
    mutating func add(campaign: String, total: Int64, version: Int64, part: Part, users: RoaringBitmap?) {
        let key = Array(campaign.utf8)
        campaigns[key, default: Rows()].total += total
        campaigns[key]!.signature.append(Self.element(version: version, part: part))
        campaigns[key]!.bitmaps.append(users)
    }

    /// Adds each campaign's union to `fold` as one row: the kept one when its versions are exactly
    /// these rows', else made now and kept (without a cache, made now). False when a campaign's rows
    /// changed and one of them was left out for its union: run the statement again without them.
    func fold(into fold: inout RollupMetricsFold, cache: BitmapCache?) -> Bool {
        var unions: [(campaign: [UInt8], total: Int64, union: RoaringBitmap)] = []
        for (campaign, rows) in campaigns {
            let key = BitmapCache.Key(
                eventName: eventName, level: Self.memoLevel, start: hours.lowerBound, channel: channel, end: hours.upperBound, campaign: campaign)
            let signature = rows.signature.sorted()
            if let memo = memos[campaign], memo.signature == signature {
                cache?.used(key)
                unions.append((campaign, rows.total, memo.bitmap))
                continue
            }
            let bitmaps = rows.bitmaps.compactMap { $0 }
            guard bitmaps.count == rows.bitmaps.count else { return false }
            let union = RoaringBitmap.union(bitmaps)
            cache?.storeMemo(key, signature: signature, bitmap: union)
            unions.append((campaign, rows.total, union))
        }
        for (campaign, total, union) in unions {
            let row = RollupMetricsQuery.RollupRow(
                channel: String(decoding: campaign, as: UTF8.self), bucket: 0, total: total, uniques: Int64(union.cardinality), users: nil)
            fold.add(row, users: union, kind: .day)
        }
        return true
    }
}
