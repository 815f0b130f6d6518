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
/// `rollup_daily` (`$2`; and the days under blocks, `$5`, while the blocks are not complete, decided
/// inside the statement so it stays one snapshot); 4 the blocks (`$3`, `$4`); 2 whole hours (`$6`);
/// 3 raw ranges (`$7`, `$8`) with their bucket index (`$9`). `$10` the channel filter, if any.
/// `$11..$14` the query cache's entries (level, start, channel, version; hours are level -1) for
/// these pieces: a row the cache holds at its version comes without its bitmap, marked in the last
/// column, exactly as in ``RollupMetricsQuery``. Like it, the text is only fixed fragments; every
/// value is a parameter.
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
        let channel = request.channel == nil ? "channel = ''" : "channel = $10"
        let rawFilter = request.channel == nil ? "" : " AND channel = $10"
        // Whether the query cache holds this row at this version, so its bitmap need not be sent.
        func held(_ level: String, _ bucket: String) -> String {
            """
            EXISTS (SELECT 1 FROM unnest($11::int8[], $12::timestamptz[], $13::text[], $14::int8[]) AS h(hl, hs, hc, hv)
                    WHERE hl = \(level) AND hs = \(bucket) AND hc = channel AND hv = version)
            """
        }
        func columns(_ level: String, _ bucket: String) -> String {
            let cached = held(level, bucket)
            return "channel, extract(epoch FROM \(bucket))::int8, total, uniques::int8, CASE WHEN NOT \(cached) THEN users END, NULL::int4[], version, \(cached)::int::int8"
        }
        return """
            SELECT 0, NULL::text, NULL::int8, complete::int::int8, levels_complete::int::int8, NULL::bytea, NULL::int4[], NULL::int8, NULL::int8 FROM rollup_status
            UNION ALL
            SELECT 1, \(columns("0", "day")) FROM rollup_daily
            WHERE event_name = $1 AND \(channel)
              AND (day = ANY($2::timestamptz[]) OR (day = ANY($5::timestamptz[]) AND NOT (SELECT levels_complete FROM rollup_status)))
            UNION ALL
            SELECT 4, \(columns("level", "start"))
            FROM unnest($3::int8[], $4::timestamptz[]) AS c(l, s)
            JOIN rollup_blocks ON event_name = $1 AND level = c.l AND start = c.s
            WHERE (SELECT levels_complete FROM rollup_status) AND \(channel)
            UNION ALL
            SELECT 2, \(columns("-1", "hour")) FROM rollup_hourly
            WHERE event_name = $1 AND hour = ANY($6::timestamptz[]) AND \(channel)
            UNION ALL
            SELECT 3, '', r.b, e.n, NULL::int8, NULL::bytea, e.u, NULL::int8, NULL::int8
            FROM unnest($7::timestamptz[], $8::timestamptz[], $9::int8[]) AS r(lo, hi, b)
            CROSS JOIN LATERAL (SELECT count(*) AS n, array_agg(uid) AS u FROM events
                                WHERE event_name = $1 AND ts >= r.lo AND ts < r.hi\(rawFilter)) e
            WHERE e.n > 0
            """
    }

    func parameters(_ pieces: Pieces, held: [(key: BitmapCache.Key, version: Int64, bitmap: RoaringBitmap)]) -> [PostgresParameter] {
        var parameters: [PostgresParameter] = [
            .text(request.eventName),
            PostgresBinaryArray.timestamptz(seconds: pieces.days),
            PostgresBinaryArray.int8(pieces.blocks.map(\.level)),
            PostgresBinaryArray.timestamptz(seconds: pieces.blocks.map(\.start)),
            PostgresBinaryArray.timestamptz(seconds: pieces.blockDays),
            PostgresBinaryArray.timestamptz(seconds: pieces.hours),
            PostgresBinaryArray.timestamptz(unixMicros: pieces.raw.map(\.range.lowerBound)),
            PostgresBinaryArray.timestamptz(unixMicros: pieces.raw.map(\.range.upperBound)),
            PostgresBinaryArray.int8(pieces.raw.map { Int64($0.bucket) }),
        ]
        // $10 is typed text even without a channel filter, so every statement has the same parameters.
        parameters.append(.binary(Array((request.channel ?? "").utf8), oid: PostgresType.text))
        parameters.append(PostgresBinaryArray.int8(held.map { Int64($0.key.level) }))
        parameters.append(PostgresBinaryArray.timestamptz(seconds: held.map(\.key.start)))
        parameters.append(PostgresBinaryArray.text(held.map { String(decoding: $0.key.channel, as: UTF8.self) }))
        parameters.append(PostgresBinaryArray.int8(held.map(\.version)))
        return parameters
    }

    /// The answer, or nil while the rollups do not cover every event. Bitmaps of whole days, blocks
    /// and hours come from `cache` when it holds them at the row's version, and go into it otherwise.
    func run(cache: BitmapCache?, on connection: PostgresConnection) throws -> MetricsResult? {
        let pieces = self.pieces
        let name = Array(request.eventName.utf8)
        var blockLevels: [Int64: Int] = [:]  // pieces never share a start: they are disjoint
        for block in pieces.blocks { blockLevels[block.start] = Int(block.level) }
        var held: [(key: BitmapCache.Key, version: Int64, bitmap: RoaringBitmap)] = []
        if let cache, cache.isEnabled {
            let wanted = pieces.days.map { (level: 0, start: $0) } + pieces.blockDays.map { (level: 0, start: $0) }
                + pieces.blocks.map { (level: Int($0.level), start: $0.start) } + pieces.hours.map { (level: Self.hourLevel, start: $0) }
            held = cache.entries(eventName: request.eventName, pieces: wanted)
        }
        let heldBitmaps = Dictionary(held.map { ($0.key, $0.bitmap) }, uniquingKeysWith: { first, _ in first })
        var fold = Fold(count: buckets.starts.count)
        var complete = false
        try connection.executePrepared(sql, parameters: parameters(pieces, held: held), resultFormat: .binary) { result in
            guard let part = result.int64(0, 0) else { throw unexpected() }
            switch part {
            case 0:
                complete = result.int64(0, 3) == 1
            case 1, 2, 4:
                guard let seconds = result.int64(0, 2), let total = result.int64(0, 3), let uniques = result.int64(0, 4),
                      let channel = result.string(0, 1)
                else { throw unexpected() }
                let level = part == 1 ? 0 : part == 2 ? Self.hourLevel : (blockLevels[seconds] ?? 0)
                let key = BitmapCache.Key(eventName: name, level: level, start: seconds, channel: Array(channel.utf8))
                let users: RoaringBitmap
                if result.int64(0, 8) == 1 {
                    guard let bitmap = heldBitmaps[key] else {
                        throw PostgresError(code: .queryFailed, message: "the metrics query left out a bitmap the cache does not hold")
                    }
                    cache?.used(key)
                    users = bitmap
                } else {
                    guard let bytes = result.bytes(0, 5) else { throw unexpected() }
                    do {
                        users = try RoaringBitmap(portable: bytes)
                    } catch {
                        throw PostgresError(code: .queryFailed, message: "a rollup row holds an unreadable users bitmap (\(error)); run `rollups verify` and `rollups rebuild`")
                    }
                    if let cache, let version = result.int64(0, 7) { cache.store(key, version: version, bitmap: users, bytes: bytes.count) }
                }
                // Shared with the cache (and other queries) either way: the fold copies before writing.
                fold.add(bucket: buckets.bucket(containing: seconds), total: total, uniques: uniques, users: users)
            case 3:
                guard let bucket = result.int64(0, 2), let count = result.int64(0, 3), let array = result.bytes(0, 6),
                      let uids = PostgresBinaryArray.decodeInt4(array), bucket >= 0, bucket < buckets.starts.count
                else { throw unexpected() }
                fold.add(bucket: Int(bucket), total: count, uids: uids)
            default:
                throw unexpected()
            }
        }
        guard complete else { return nil }
        return fold.result(keys: buckets)
    }

    private func unexpected() -> PostgresError {
        PostgresError(code: .queryFailed, message: "unexpected row from the local bucket metrics query")
    }

    /// Unions per bucket and overall, folded as rows arrive (each input dropped after its row).
    struct Fold {
        struct Group {
            var total: Int64 = 0
            var parts = 0
            var storedUniques: Int64 = 0
            var union: RoaringBitmap?
            /// Whether `union` is this group's own copy; until then it is an input, perhaps a cached
            /// bitmap shared with other queries, which is never written.
            var ownsUnion = false

            mutating func add(_ users: RoaringBitmap) {
                guard let current = union else {
                    union = users
                    return
                }
                if !ownsUnion {
                    union = current.copy()
                    ownsUnion = true
                }
                union!.formUnion(users)
            }
        }

        var groups: [Group]
        var total: Int64 = 0
        let overall = RoaringBitmap()

        init(count: Int) { groups = Array(repeating: Group(), count: count) }

        mutating func add(bucket: Int, total: Int64, uniques: Int64, users: RoaringBitmap) {
            self.total += total
            overall.formUnion(users)
            groups[bucket].total += total
            groups[bucket].parts += 1
            groups[bucket].storedUniques = uniques
            groups[bucket].add(users)
        }

        mutating func add(bucket: Int, total: Int64, uids: [UInt32]) {
            self.total += total
            overall.add(contentsOf: uids)
            groups[bucket].total += total
            groups[bucket].parts += 2  // never a single stored row
            let raw = RoaringBitmap()
            raw.add(contentsOf: uids)
            groups[bucket].add(raw)
        }

        func result(keys buckets: LocalBuckets) -> MetricsResult {
            var result = MetricsResult(totalCount: total, uniqueUserCount: Int64(overall.cardinality), groups: [])
            for (index, group) in groups.enumerated() where group.total > 0 {
                let uniques = group.parts == 1 ? group.storedUniques : Int64(group.union?.cardinality ?? 0)
                result.groups.append(MetricsGroup(key: buckets.key(seconds: buckets.starts[index]), totalCount: group.total, uniqueUserCount: uniques))
            }
            return result
        }
    }
}
