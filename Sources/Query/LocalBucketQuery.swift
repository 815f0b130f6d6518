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
/// Like ``RollupMetricsQuery`` the text is only fixed fragments; every value is a parameter.
struct LocalBucketQuery {
    let request: MetricsRequest
    let buckets: LocalBuckets

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
        let columns = "channel, extract(epoch FROM %@)::int8, total, uniques::int8, users, NULL::int4[]"
        return """
            SELECT 0, NULL::text, NULL::int8, complete::int::int8, levels_complete::int::int8, NULL::bytea, NULL::int4[] FROM rollup_status
            UNION ALL
            SELECT 1, \(columns.replacingOccurrences(of: "%@", with: "day")) FROM rollup_daily
            WHERE event_name = $1 AND \(channel)
              AND (day = ANY($2::timestamptz[]) OR (day = ANY($5::timestamptz[]) AND NOT (SELECT levels_complete FROM rollup_status)))
            UNION ALL
            SELECT 4, \(columns.replacingOccurrences(of: "%@", with: "start"))
            FROM unnest($3::int8[], $4::timestamptz[]) AS c(l, s)
            JOIN rollup_blocks ON event_name = $1 AND level = c.l AND start = c.s
            WHERE (SELECT levels_complete FROM rollup_status) AND \(channel)
            UNION ALL
            SELECT 2, \(columns.replacingOccurrences(of: "%@", with: "hour")) FROM rollup_hourly
            WHERE event_name = $1 AND hour = ANY($6::timestamptz[]) AND \(channel)
            UNION ALL
            SELECT 3, '', r.b, e.n, NULL::int8, NULL::bytea, e.u
            FROM unnest($7::timestamptz[], $8::timestamptz[], $9::int8[]) AS r(lo, hi, b)
            CROSS JOIN LATERAL (SELECT count(*) AS n, array_agg(uid) AS u FROM events
                                WHERE event_name = $1 AND ts >= r.lo AND ts < r.hi\(rawFilter)) e
            WHERE e.n > 0
            """
    }

    func parameters(_ pieces: Pieces) -> [PostgresParameter] {
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
        if let channel = request.channel { parameters.append(.binary(Array(channel.utf8), oid: PostgresType.text)) }
        return parameters
    }

    /// The answer, or nil while the rollups do not cover every event.
    func run(on connection: PostgresConnection) throws -> MetricsResult? {
        var fold = Fold(count: buckets.starts.count)
        var complete = false
        try connection.executePrepared(sql, parameters: parameters(pieces), resultFormat: .binary) { result in
            guard let part = result.int64(0, 0) else { throw unexpected() }
            switch part {
            case 0:
                complete = result.int64(0, 3) == 1
            case 1, 2, 4:
                guard let seconds = result.int64(0, 2), let total = result.int64(0, 3), let uniques = result.int64(0, 4),
                      let bytes = result.bytes(0, 5)
                else { throw unexpected() }
                let users: RoaringBitmap
                do {
                    users = try RoaringBitmap(portable: bytes)
                } catch {
                    throw PostgresError(code: .queryFailed, message: "a rollup row holds an unreadable users bitmap (\(error)); run `rollups verify` and `rollups rebuild`")
                }
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
            // The bitmap was deserialized for this query alone, so the group may own it.
            if let union = groups[bucket].union { union.formUnion(users) } else { groups[bucket].union = users }
        }

        mutating func add(bucket: Int, total: Int64, uids: [UInt32]) {
            self.total += total
            overall.add(contentsOf: uids)
            groups[bucket].total += total
            groups[bucket].parts += 2  // never a single stored row
            if groups[bucket].union == nil { groups[bucket].union = RoaringBitmap() }
            groups[bucket].union!.add(contentsOf: uids)
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
