import Bitmaps
import Rollups
import Store
import Time

/// `group_by=day|week|month` in any zone (and `hour` in zones whose offset is not a whole number of
/// hours), from rollups: each bucket's part of the window is split on its own
/// (``MetricsWindowSplit``) into whole UTC days (read as their block cover), whole UTC hours and
/// partial hours (raw rows, index-only), and one statement fetches every piece of every bucket.
///
/// In a whole-hour zone a local day is 24 (23, 25) whole UTC hours, a week or month mostly whole UTC
/// days and blocks, so raw rows are read only at the window's own edges. In a +05:30 or +05:45 zone
/// every local midnight (or hour) cuts a UTC hour: each bucket adds two partial hours of raw rows
/// (`group_by=hour` there reads every row of the window). Every piece carries its users, since a
/// bucket and the overall figure are unions of several pieces; a bucket that is one rollup row takes
/// its stored unique count.
///
/// Parts (first column): 0 `rollup_status` (complete, levels complete); 1 whole days from
/// `rollup_daily` (`$2`, with `$4` = 1 for the days under blocks, read only while the blocks are not
/// complete, decided inside the statement so it stays one snapshot); 4 the blocks (`$5`, `$6`); 2
/// whole hours (`$8`); 3 raw ranges (`$10`, `$11`) with their bucket index (`$12`) and hour (`$15`),
/// or 5 that hour's `rollup_hourly` row when the rest of the hour holds no event of the name. `$13` the
/// channel filter and `$14` the `campaign_id` filter (which reads the campaign tables), if any. Every
/// piece is one row (the all-channels row, or the filter's channel), so the query cache's version
/// of each piece travels beside it (`$3`, `$7`, `$9`; -1 when not held): a row the cache holds at
/// its version comes without its bitmap, marked in the last column, and the check is one comparison
/// per row (a lookup in a list of held keys per row was quadratic: ~720 × 720 for a 30-day window of
/// local days). Like ``RollupMetricsQuery``, the text is only fixed fragments;
/// every value is a parameter.
struct LocalBucketQuery {
    let request: MetricsRequest
    let buckets: LocalBuckets
    /// The cache level of `rollup_hourly` rows (0 is `rollup_daily`, 1... `rollup_blocks`).
    static let hourLevel = -1

    struct Pieces {
        var days: [Int64] = []
        var blocks: [(level: Int64, start: Int64)] = []
        var blockDays: [Int64] = []
        var hours: [Int64] = []
        var raw: [(range: Range<Int64>, bucket: Int)] = []
    }

    init(request: MetricsRequest) {
        self.request = request
        buckets = LocalBuckets(fromMicros: request.fromMicros, toMicros: request.toMicros, unit: request.groupBy, zone: request.timeZone)
    }

    var pieces: Pieces {
        var pieces = Pieces()
        for (bucket, range) in buckets.pieces(fromMicros: request.fromMicros, toMicros: request.toMicros) {
            let split = MetricsWindowSplit(fromMicros: range.lowerBound, toMicros: range.upperBound)
            pieces.raw += split.raw.map { ($0, bucket) }
            for hours in split.edgeHours { pieces.hours += stride(from: hours.lowerBound, to: hours.upperBound, by: 3_600) }
            guard !split.days.isEmpty else { continue }
            for piece in RollupLevel.cover(days: split.days) {
                if let level = piece.level {
                    pieces.blocks.append((Int64(level.level), piece.start))
                    pieces.blockDays += stride(from: piece.start, to: piece.start + level.seconds, by: 86_400)
                } else {
                    pieces.days.append(piece.start)
                }
            }
        }
        return pieces
    }

    var sql: String {
        // With `campaign_id=` the campaign tables, whose rows are the same per campaign.
        let campaign = request.campaignID != nil
        let (hourly, daily, blocks) = RollupMetricsQuery.tables(campaign: campaign)
        let channel = (campaign ? "campaign = $14 AND " : "") + (request.channel == nil ? "channel = ''" : "channel = $13")
        let rawFilter = (request.channel == nil ? "" : " AND channel = $13")
            + (campaign ? " AND campaign_id IS NOT DISTINCT FROM nullif($14, '')" : "")
        let complete = RollupMetricsQuery.completeColumn(campaign: campaign)
        // `w.held`: the version the query cache holds for this piece (-1: none).
        // A partial hour whose rest holds no event of this name is its hourly row (part 5), as in
        // ``RollupMetricsQuery``: a window ending now reads the hour so far as one bitmap.
        let restIsEmpty = RollupMetricsQuery.restOfHourIsEmpty(hour: "r.h", from: "r.lo", to: "r.hi")
        func columns(_ bucket: String) -> String {
            "channel, extract(epoch FROM \(bucket))::int8, total, uniques::int8, CASE WHEN version <> w.held THEN users END, NULL::int4[], version, (version = w.held)::int::int8"
        }
        return """
            SELECT 0, NULL::text, NULL::int8, \(complete)::int::int8, levels_complete::int::int8, NULL::bytea, NULL::int4[], NULL::int8, NULL::int8 FROM rollup_status
            UNION ALL
            SELECT 1, \(columns("day"))
            FROM unnest($2::timestamptz[], $3::int8[], $4::int8[]) AS w(d, held, under)
            JOIN \(daily) ON event_name = $1 AND day = w.d AND \(channel)
            WHERE w.under = 0 OR NOT (SELECT levels_complete FROM rollup_status)
            UNION ALL
            SELECT 4, \(columns("start"))
            FROM unnest($5::int8[], $6::timestamptz[], $7::int8[]) AS w(l, s, held)
            JOIN \(blocks) ON event_name = $1 AND level = w.l AND start = w.s AND \(channel)
            WHERE (SELECT levels_complete FROM rollup_status)
            UNION ALL
            SELECT 2, \(columns("hour"))
            FROM unnest($8::timestamptz[], $9::int8[]) AS w(h, held)
            JOIN \(hourly) ON event_name = $1 AND hour = w.h AND \(channel)
            UNION ALL
            SELECT 3, '', r.b, e.n, NULL::int8, NULL::bytea, e.u, NULL::int8, NULL::int8
            FROM unnest($10::timestamptz[], $11::timestamptz[], $12::int8[], $15::timestamptz[]) AS r(lo, hi, b, h)
            CROSS JOIN LATERAL (SELECT count(*) AS n, array_agg(uid) AS u FROM events
                                WHERE event_name = $1 AND ts >= r.lo AND ts < r.hi\(rawFilter) AND NOT (\(restIsEmpty))) e
            WHERE e.n > 0
            UNION ALL
            SELECT 5, '', r.b, total, uniques::int8, users, NULL::int4[], NULL::int8, NULL::int8
            FROM unnest($10::timestamptz[], $11::timestamptz[], $12::int8[], $15::timestamptz[]) AS r(lo, hi, b, h)
            JOIN \(hourly) ON event_name = $1 AND hour = r.h AND \(channel)
            WHERE \(restIsEmpty)
            """
    }

    /// The statement's parameters; `held` gives the cached version of each piece (-1: not held).
    func parameters(_ pieces: Pieces, held: (BitmapCache.Key) -> Int64) -> [PostgresParameter] {
        let days = pieces.days + pieces.blockDays
        return [
            .text(request.eventName),
            PostgresBinaryArray.timestamptz(seconds: days),
            PostgresBinaryArray.int8(days.map { held(key(level: 0, start: $0)) }),
            PostgresBinaryArray.int8(pieces.days.map { _ in 0 } + pieces.blockDays.map { _ in 1 }),
            PostgresBinaryArray.int8(pieces.blocks.map(\.level)),
            PostgresBinaryArray.timestamptz(seconds: pieces.blocks.map(\.start)),
            PostgresBinaryArray.int8(pieces.blocks.map { held(key(level: Int($0.level), start: $0.start)) }),
            PostgresBinaryArray.timestamptz(seconds: pieces.hours),
            PostgresBinaryArray.int8(pieces.hours.map { held(key(level: Self.hourLevel, start: $0)) }),
            PostgresBinaryArray.timestamptz(unixMicros: pieces.raw.map(\.range.lowerBound)),
            PostgresBinaryArray.timestamptz(unixMicros: pieces.raw.map(\.range.upperBound)),
            PostgresBinaryArray.int8(pieces.raw.map { Int64($0.bucket) }),
            // Typed text even without a filter, so every statement has the same parameters.
            .binary(Array((request.channel ?? "").utf8), oid: PostgresType.text),
            .binary(Array((request.campaignID ?? "").utf8), oid: PostgresType.text),
            PostgresBinaryArray.timestamptz(seconds: pieces.raw.map { MetricsWindowSplit.hour(of: $0.range) }),
        ]
    }

    /// The cache key of a piece: every row this query reads is of the filter's channel or the
    /// all-channels row (of the filter's campaign, if any).
    func key(level: Int, start: Int64) -> BitmapCache.Key {
        BitmapCache.Key(
            eventName: Array(request.eventName.utf8), level: level, start: start, channel: Array((request.channel ?? "").utf8),
            campaign: request.campaignID.map { Array($0.utf8) })
    }

    /// The cache level of a local bucket's union (``BitmapCache/memo(_:)``).
    static let memoLevel = -2

    /// A row of a bucket whose cached union may stand for it, kept until the statement ends.
    private struct Pending {
        var key: BitmapCache.Key
        var version: Int64
        var row: RollupMetricsQuery.RollupRow
        var kind: RollupMetricsFold.Kind
        /// Nil when the statement left it out for the bucket's union, not for a cached bitmap.
        var users: RoaringBitmap?
    }

    /// The answer, or nil while the rollups do not cover every event. Bitmaps of whole days, blocks
    /// and hours come from `cache` when it holds them at the row's version, and go into it otherwise.
    ///
    /// A bucket's union (a local day: ~24 hourly bitmaps) is kept in the cache too, with the (level,
    /// start, version) of every row it was made of: when the statement returns exactly those rows at
    /// exactly those versions, the union is that bitmap and its rows need no bitmap and no union (the
    /// cost of a repeated 30-day local-day query at 10M users was ~60M array values set into
    /// bitsets). A row the cache holds only through such a union is sent without its bitmap; if its
    /// bucket then turns out changed and one of those bitmaps is missing, the whole query runs again
    /// without unions (a new statement, so the answer is still one snapshot).
    func run(cache: BitmapCache?, on connection: PostgresConnection, useMemos: Bool = true) throws -> MetricsResult? {
        let pieces = self.pieces
        var blockLevels: [Int64: Int] = [:]  // pieces never share a start: they are disjoint
        for block in pieces.blocks { blockLevels[block.start] = Int(block.level) }
        // What the cache holds for these pieces, taken once: an eviction meanwhile cannot take a
        // bitmap the statement was told is held.
        var held: [BitmapCache.Key: (version: Int64, bitmap: RoaringBitmap)] = [:]
        // Buckets with a cached union (never one with raw rows: those have no versions).
        let ranges = buckets.pieces(fromMicros: request.fromMicros, toMicros: request.toMicros)
        var memos: [Int: (key: BitmapCache.Key, signature: [Int64], bitmap: RoaringBitmap)] = [:]
        var memoVersions: [BitmapCache.Key: Int64] = [:]
        if let cache, cache.isEnabled {
            let wanted = (pieces.days + pieces.blockDays).map { key(level: 0, start: $0) }
                + pieces.blocks.map { key(level: Int($0.level), start: $0.start) } + pieces.hours.map { key(level: Self.hourLevel, start: $0) }
            held = cache.entries(wanted)
            let rawBuckets = Set(pieces.raw.map(\.bucket))
            for (bucket, range) in ranges where useMemos && !rawBuckets.contains(bucket) {
                let memoKey = memoKey(range)
                guard let memo = cache.memo(memoKey) else { continue }
                memos[bucket] = (memoKey, memo.signature, memo.bitmap)
                for index in stride(from: 0, to: memo.signature.count, by: 3) {
                    memoVersions[key(level: Int(memo.signature[index]), start: memo.signature[index + 1])] = memo.signature[index + 2]
                }
            }
        }
        let parameters = parameters(pieces) { held[$0]?.version ?? memoVersions[$0] ?? -1 }
        var fold = RollupMetricsFold(buckets: buckets)
        var complete = false
        var signatures: [Int: [(level: Int, start: Int64, version: Int64)]] = [:]
        var pending: [Int: [Pending]] = [:]  // rows of buckets whose cached union may stand
        var rerun = false
        let memoBuckets = Set(memos.keys)  // `memos` keeps the ones still standing
        /// Folds a bucket's kept rows: its union is not the cached one.
        func release(_ bucket: Int) {
            guard let rows = pending.removeValue(forKey: bucket) else { return }
            memos[bucket] = nil
            for item in rows {
                guard let users = item.users else {
                    rerun = true
                    return
                }
                fold.add(item.row, users: users, kind: item.kind)
            }
        }
        try connection.executePrepared(sql, parameters: parameters, resultFormat: .binary) { result in
            guard let part = result.int64(0, 0) else { throw unexpected() }
            switch part {
            case 0:
                complete = result.int64(0, 3) == 1
            case 1, 2, 4:
                guard let seconds = result.int64(0, 2), let total = result.int64(0, 3), let uniques = result.int64(0, 4),
                      let channel = result.string(0, 1), let version = result.int64(0, 7)
                else { throw unexpected() }
                let level = part == 1 ? 0 : part == 2 ? Self.hourLevel : (blockLevels[seconds] ?? 0)
                let key = key(level: level, start: seconds)
                let bucket = buckets.bucket(containing: seconds)
                signatures[bucket, default: []].append((level, seconds, version))
                var users: RoaringBitmap?
                let leftOut = result.int64(0, 8) == 1
                if leftOut {
                    if let bitmap = held[key]?.bitmap, held[key]?.version == version {
                        cache?.used(key)
                        users = bitmap
                    } else if !memoBuckets.contains(bucket) {
                        throw PostgresError(code: .queryFailed, message: "the metrics query left out a bitmap the cache does not hold")
                    }
                } else {
                    guard let bytes = result.bytes(0, 5) else { throw unexpected() }
                    users = try RollupMetricsQuery.bitmap(bytes)
                    cache?.store(key, version: version, bitmap: users!, bytes: bytes.count)
                }
                let row = RollupMetricsQuery.RollupRow(channel: channel, bucket: seconds, total: total, uniques: uniques)
                let kind: RollupMetricsFold.Kind = part == 1 ? .day : part == 2 ? .hour : .block
                if memos[bucket] != nil {
                    // Shared with the cache either way: the fold copies before writing.
                    pending[bucket, default: []].append(Pending(key: key, version: version, row: row, kind: kind, users: users))
                    if !leftOut { release(bucket) }  // a changed or new row: the cached union is stale
                } else if let users {
                    fold.add(row, users: users, kind: kind)
                } else {
                    rerun = true  // left out for a union that turned out stale; its bitmap is not here
                }
            case 3:
                guard let bucket = result.int64(0, 2), let count = result.int64(0, 3), let array = result.bytes(0, 6),
                      let uids = PostgresBinaryArray.decodeInt4(array), bucket >= 0, bucket < buckets.starts.count
                else { throw unexpected() }
                fold.add(RollupMetricsQuery.RawGroup(channel: "", hour: buckets.starts[Int(bucket)], count: count, uids: uids))
            case 5:
                // A partial hour whose rest is empty: its hourly row, for its bucket (its hour may
                // start in the bucket before, in a zone whose midnight cuts an hour).
                guard let bucket = result.int64(0, 2), let total = result.int64(0, 3), let uniques = result.int64(0, 4),
                      let bytes = result.bytes(0, 5), bucket >= 0, bucket < buckets.starts.count
                else { throw unexpected() }
                let row = RollupMetricsQuery.RollupRow(channel: "", bucket: buckets.starts[Int(bucket)], total: total, uniques: uniques)
                fold.add(row, users: try RollupMetricsQuery.bitmap(bytes), kind: .hour)
            default:
                throw unexpected()
            }
        }
        // Buckets whose rows are exactly those of their cached union: the union stands for them.
        for (bucket, memo) in memos {
            let rows = pending[bucket] ?? []
            guard Self.signature(signatures[bucket] ?? []) == memo.signature else {
                release(bucket)
                continue
            }
            pending[bucket] = nil
            cache?.used(memo.key)
            let total = rows.reduce(0) { $0 + $1.row.total }
            let union = RollupMetricsQuery.RollupRow(channel: rows.first?.row.channel ?? "", bucket: buckets.starts[bucket], total: total, uniques: Int64(memo.bitmap.cardinality))
            fold.add(union, users: memo.bitmap, kind: .hour)
        }
        if rerun { return try run(cache: cache, on: connection, useMemos: false) }
        guard complete else { return nil }
        let answer = fold.result()
        // Keep every bucket's union (no longer written; a bucket of one row: that row's bitmap).
        if let cache, cache.isEnabled {
            let rawBuckets = Set(pieces.raw.map(\.bucket))
            for (bucket, range) in ranges where memos[bucket] == nil && !rawBuckets.contains(bucket) {
                guard let rows = signatures[bucket], !rows.isEmpty, let union = fold.union(ofBucketStarting: buckets.starts[bucket]) else { continue }
                cache.storeMemo(memoKey(range), signature: Self.signature(rows), bitmap: union)
            }
        }
        return answer
    }

    /// The cache key of a bucket's union: its part of the window.
    private func memoKey(_ range: Range<Int64>) -> BitmapCache.Key {
        var key = key(level: Self.memoLevel, start: range.lowerBound)
        key.end = range.upperBound
        return key
    }

    /// (level, start, version) of every row, in key order, flattened.
    private static func signature(_ rows: [(level: Int, start: Int64, version: Int64)]) -> [Int64] {
        rows.sorted { ($0.level, $0.start) < ($1.level, $1.start) }.flatMap { [Int64($0.level), $0.start, $0.version] }
    }

    private func unexpected() -> PostgresError {
        PostgresError(code: .queryFailed, message: "unexpected row from the local bucket metrics query")
    }
}
