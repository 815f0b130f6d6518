import Bitmaps
import Rollups
import Store
import Time

/// The one statement that fetches everything a ``MetricsWindowSplit`` needs, streamed row by row.
///
/// One statement, so one round trip and one snapshot: rollups and raw rows are committed together by
/// the replayer, so the parts always add up to one moment's data. It is a `UNION ALL` of up to six
/// parts, told apart by the first column:
///
/// | part | rows |
/// |---|---|
/// | 0 | `rollup_status`: `complete` (1 or 0) in the total column, whether the day blocks are read in the uniques column |
/// | 1 | whole days from `rollup_daily`: with bitmaps for the days the block cover leaves over (all days when blocks are not used); for `group_by=day` every day, the others without bitmaps |
/// | 2 | whole hours from `rollup_hourly`: for `group_by=hour` every hour (bitmaps only outside the whole days), otherwise only the hours outside them |
/// | 3 | raw events of each partial hour (per channel for `group_by=channel`): count and `array_agg(uid)` (index-only on `events_name_ts`); or, when the rest of that hour holds no event of the name, the hour's `rollup_hourly` rows (as part 2, without version) |
/// | 4 | the blocks of `rollup_blocks` that cover the whole days (``Rollups/RollupLevel/cover(days:)``), with bitmaps |
/// | 1 | when the rest of the UTC day holding the window's end has no event of the name (``endDay``): that day's `rollup_daily` row, without version, instead of the day's edge hours and raw partial hour |
///
/// Blocks are read only when `rollup_status.levels_complete` is true and the strategy allows them
/// (`$20`); otherwise part 1 gives every day's bitmap (the daily-only plan), decided inside the
/// statement so it stays one snapshot.
///
/// Like ``MetricsPlanner``, the text is assembled only from fixed fragments picked by the window's
/// shape, the grouping and whether a channel filter is present; every value is a `$n` parameter:
/// `$1` event name; `$2..$13` six time ranges (days, hours, two edge-hour ranges, two raw ranges);
/// `$14` the channel; `$15..$16` the raw ranges' hours; `$17` the cover's single days; `$18..$19` the
/// cover's block levels and starts; `$20` whether blocks may be used; `$21..$24` the query cache's entries (level, start, channel,
/// version) for these pieces: rows it holds come without bitmap, marked in the ninth column (for the
/// campaign tables only versions, one array per part: `$24` days, `$26` blocks, `$27` and `$28` the
/// two edges' hours); `$25` the `campaign_id` filter; `$29` the window's end and `$30` the start of
/// its UTC day (``endDay``). The tenth column is the campaign tables' other key dimension. With
/// `group_by=campaign` the held rows come back grouped per campaign and part (part 5,
/// ``aggregatesHeldRows``). Rows come back in binary, so bitmaps arrive as raw bytes and uids as `int4[]`.
///
/// Which rollup rows are read: with a channel filter, that channel's; for `group_by=channel`
/// without one, every channel's (never the all-channels row); otherwise the all-channels rows
/// (channel `''`). A request with `campaign_id` or `group_by=campaign` reads the campaign tables
/// instead (`rollup_campaign_…`, the same rows per campaign), choosing channels the same way, of the
/// filter's campaign or of every campaign; with `group_by=campaign` the campaign comes back in the
/// key column, so the fold groups it as it groups channels.
struct RollupMetricsQuery {
    /// One rollup row. `users` is nil where the query left it out.
    struct RollupRow {
        var channel: String
        var bucket: Int64
        var total: Int64
        var uniques: Int64
        var users: ArraySlice<UInt8>?
        /// The row's `version` (whole days and blocks).
        var version: Int64?
        /// True when `users` was left out because the query cache holds this version.
        var cached = false
        /// A campaign table's row: the dimension the key column does not hold (its channel with
        /// `group_by=campaign`, else its campaign), for the query cache's key. Nil for the main tables.
        var other: String? = nil
    }

    /// Raw events inside one partial hour, of one channel (`group_by=channel`) or of all (channel `''`).
    struct RawGroup {
        var channel: String
        var hour: Int64
        var count: Int64
        var uids: [UInt32]
    }

    /// One row of the statement.
    enum Row {
        /// `rollup_status`: whether rollups cover every event, and whether the blocks were read.
        case status(complete: Bool, levelsUsed: Bool)
        case day(RollupRow)
        case hour(RollupRow)
        case block(RollupRow)
        case raw(RawGroup)
        /// Rows of one campaign and part that the query cache holds (``aggregatesHeldRows``): the sum
        /// of their totals and their versions.
        case heldRows(campaign: String, part: CampaignUnions.Part, total: Int64, versions: [Int64])
    }

    let request: MetricsRequest
    let split: MetricsWindowSplit
    /// Whether the day blocks may be used (when complete): false for the daily-only plan.
    let useLevels: Bool
    /// The query cache's entries for this window's pieces, which the statement need not send.
    var held: [(key: BitmapCache.Key, version: Int64, bitmap: RoaringBitmap)] = []
    /// Versions held through kept campaign unions (``CampaignUnions``), per part: sent as held too.
    var heldThroughUnions: [CampaignUnions.Part: [Int64]] = [:]

    /// The cover of the whole days: single days and blocks.
    var cover: [RollupLevel.Piece] { split.days.isEmpty ? [] : RollupLevel.cover(days: split.days) }

    /// The start (Unix seconds) of the UTC day holding the window's end, when the window holds that
    /// day's start but not its end, so the day's part of the window is its edge hours and partial
    /// hour. A window ending now ends inside a day that holds every event so far: when `events` has no
    /// event of the name in the rest of that day, the day's `rollup_daily` row is exactly that part,
    /// one row per channel or campaign instead of up to 23 hours of them and the raw partial hour
    /// (a 30-day `group_by=campaign`: ~1,700 campaign hour rows). Decided inside the statement, as for
    /// a partial hour (``restOfHourIsEmpty(hour:from:to:)``). Nil for `group_by=hour`, which needs
    /// the hours, and for a window shorter than a day whose whole hours cross midnight.
    var endDay: Int64? {
        guard request.groupBy != .hour else { return nil }
        let day = UTCTime.floorDivide(request.toMicros, UTCTime.microsPerDay) * UTCTime.secondsPerDay
        guard request.fromMicros <= day * 1_000_000, day * 1_000_000 < request.toMicros,
              !split.edgeHours.contains(where: { $0.lowerBound < day && day < $0.upperBound })
        else { return nil }
        return day
    }

    private var channelCondition: String {
        let channel = request.channel != nil ? "channel = $14" : request.groupBy == .channel ? "channel <> ''" : "channel = ''"
        return request.campaignID != nil ? "campaign = $25 AND \(channel)" : channel
    }

    private var tables: (hourly: String, daily: String, blocks: String) { Self.tables(campaign: request.usesCampaigns) }

    /// Whether the rollups read cover every event (`rollup_status`): the campaign tables also need
    /// `campaigns_complete`.
    static func completeColumn(campaign: Bool) -> String { campaign ? "(complete AND campaigns_complete)" : "complete" }

    /// The hourly, daily and block tables: the main ones, or their campaign twins.
    static func tables(campaign: Bool) -> (hourly: String, daily: String, blocks: String) {
        (
            campaign ? RollupTable.hourly.campaignName : RollupTable.hourly.name, campaign ? RollupTable.daily.campaignName : RollupTable.daily.name,
            RollupLevel.tableName(campaign: campaign)
        )
    }

    /// Whether the rows the query cache holds come back grouped (kind 5, ``Row/heldRows``): for
    /// `group_by=campaign`, whose every rollup row needs its bitmap and which reads thousands of them.
    var aggregatesHeldRows: Bool { request.groupBy == .campaign }

    /// The statement for this request's shape.
    var sql: String {
        let campaigns = request.usesCampaigns
        let endDay = self.endDay
        // A piece of the day the window ends in is read only when that day is not its daily row.
        func inEndDay(fromMicros start: Int64) -> String {
            endDay.map { start >= $0 * 1_000_000 } == true ? " AND NOT (\(Self.endDayRestIsEmpty))" : ""
        }
        let key = request.groupBy == .campaign ? "campaign" : "channel"
        // The 10th column: the campaign tables' other key dimension (``RollupRow/other``).
        let other = campaigns ? (request.groupBy == .campaign ? "channel" : "campaign") : "NULL::text"
        func rollupColumns(_ bucket: String) -> String { "\(key), extract(epoch FROM \(bucket))::int8, total, uniques::int8" }
        let tables = self.tables
        let levels = "(SELECT levels_complete FROM rollup_status) AND $20::bool"
        // Whether the query cache holds this row at this version ($21..$24: its entries' levels,
        // starts, channels and versions), so its bitmap need not be sent. A version names one write of
        // one row of any rollup table (one sequence), so for the campaign tables, whose queries offer
        // thousands of entries (every campaign of every piece), the versions alone are matched, through
        // a hash join (`heldJoin`) instead of a scan of the arrays per row, each part with only its own
        // pieces' versions (the hash of all of them, built for every part, was a quarter of a warm
        // 30-day group_by=campaign's PostgreSQL time).
        func held(_ level: String, _ bucket: String) -> String {
            if campaigns { return "(h.hv IS NOT NULL)" }
            return """
                EXISTS (SELECT 1 FROM unnest($21::int8[], $22::timestamptz[], $23::text[], $24::int8[]) AS h(hl, hs, hc, hv)
                        WHERE hl = \(level) AND hs = \(bucket) AND hc = channel AND hv = version)
                """
        }
        func heldJoin(_ versions: String) -> String { campaigns ? " LEFT JOIN unnest(\(versions)::int8[]) AS h(hv) ON h.hv = version" : "" }
        let none = "NULL::int8, NULL::int8"
        let complete = Self.completeColumn(campaign: request.usesCampaigns)
        var parts = ["SELECT 0, NULL::text, NULL::int8, \(complete)::int::int8, (levels_complete AND $20::bool)::int::int8, NULL::bytea, NULL::int4[], \(none), NULL::text FROM rollup_status"]
        // One rollup part: `SELECT kind, columns FROM from WHERE condition`. With `group_by=campaign`
        // every row read needs its bitmap, and most are held by the query cache: those come back as
        // one row per campaign and part (kind 5: the sum of their totals, their count, and their
        // versions as 8-byte big-endian values in the bitmap column) instead of one row each, and only
        // the others one by one (thousands of rows streamed singly were most of the query).
        func addRollupPart(_ kind: Int, _ columns: String, from: String, where condition: String, part: CampaignUnions.Part) {
            let versions = ["$24", "$26", "$27", "$28"][Int(part.rawValue)]
            guard aggregatesHeldRows else {
                parts.append("SELECT \(kind), \(columns)\nFROM \(from)\(heldJoin(versions))\nWHERE \(condition)")
                return
            }
            parts.append("SELECT \(kind), \(columns)\nFROM \(from)\(heldJoin(versions))\nWHERE \(condition) AND h.hv IS NULL")
            parts.append("""
                SELECT 5, campaign, \(part.rawValue)::int8, sum(total)::int8, count(*), string_agg(int8send(version), ''::bytea), NULL::int4[], \(none), NULL::text
                FROM \(from) JOIN unnest(\(versions)::int8[]) AS h(hv) ON h.hv = version
                WHERE \(condition) GROUP BY campaign
                """)
        }
        if !split.days.isEmpty {
            // A day's bitmap is needed unless a block covers it; its row also for its own day group.
            let bitmap = "(day = ANY($17::timestamptz[]) OR NOT (\(levels)))"
            // The same days as one `= ANY` (the cover's single days, or every day while the blocks
            // are not used), which the primary key can seek: the `OR` above cannot be an index
            // condition, and the campaign tables have ~400 rows per day to skip (5 ms of a 30-day
            // group_by=campaign, against 0.4 ms).
            let everyDay = "ARRAY(SELECT generate_series($2::timestamptz, $3::timestamptz - interval '24 hours', interval '24 hours'))"
            let row = request.groupBy == .day ? "" : " AND day = ANY(CASE WHEN \(levels) THEN $17::timestamptz[] ELSE \(everyDay) END)"
            let cached = "(\(bitmap) AND \(held("0", "day")))"
            addRollupPart(
                1, "\(rollupColumns("day")), CASE WHEN \(bitmap) AND NOT \(cached) THEN users END, NULL, version, \(cached)::int::int8, \(other)",
                from: tables.daily, where: "event_name = $1 AND day >= $2 AND day < $3 AND \(channelCondition)\(row)", part: .days)
            if cover.contains(where: { $0.level != nil }) {
                let cachedBlock = held("level", "start")
                addRollupPart(
                    4, "\(rollupColumns("start")), CASE WHEN NOT \(cachedBlock) THEN users END, NULL, version, \(cachedBlock)::int::int8, \(other)",
                    from: "unnest($18::int8[], $19::timestamptz[]) AS c(l, s) JOIN \(tables.blocks) ON event_name = $1 AND level = c.l AND start = c.s",
                    where: "\(levels) AND \(channelCondition)", part: .blocks)
            }
        }
        let hourColumns = rollupColumns("hour")
        if request.groupBy == .hour, !split.hours.isEmpty {
            parts.append("""
                SELECT 2, \(hourColumns), CASE WHEN hour >= $2 AND hour < $3 THEN NULL ELSE users END, NULL, \(none), \(other) FROM \(tables.hourly)
                WHERE event_name = $1 AND hour >= $4 AND hour < $5 AND \(channelCondition)
                """)
        } else {
            for (index, range) in split.edgeHours.enumerated() {
                let (low, high) = index == 0 ? ("$6", "$7") : ("$8", "$9")
                let inEndDay = inEndDay(fromMicros: range.lowerBound * 1_000_000)
                // The campaign tables' edge hours go through the query cache (`group_by=campaign` over a
                // window ending at any second reads up to 46 hours of every campaign and channel).
                let users = campaigns ? "CASE WHEN NOT \(held("-1", "hour")) THEN users END, NULL, version, \(held("-1", "hour"))::int::int8" : "users, NULL, \(none)"
                addRollupPart(
                    2, "\(hourColumns), \(users), \(other)", from: tables.hourly,
                    where: "event_name = $1 AND hour >= \(low) AND hour < \(high) AND \(channelCondition)\(inEndDay)", part: index == 0 ? .firstEdge : .lastEdge)
            }
        }
        // Index-only on `events_name_ts`, which includes channel, uid and campaign_id (0007).
        let filter = (request.channel == nil ? "" : " AND channel = $14")
            + (request.campaignID == nil ? "" : " AND campaign_id IS NOT DISTINCT FROM nullif($25, '')")
        // Per channel (campaign) only when grouping by it: one plain aggregate is cheaper than hashing.
        let (channel, grouping) =
            switch request.groupBy {
            case .channel: ("channel", " GROUP BY channel")
            case .campaign: ("coalesce(campaign_id, '')", " GROUP BY 2")
            default: ("''", "")
            }
        for (index, range) in split.raw.enumerated() {
            let (low, high, hour) = index == 0 ? ("$10", "$11", "$15") : ("$12", "$13", "$16")
            let inEndDay = inEndDay(fromMicros: range.lowerBound)
            // A partial hour whose rest holds no event of this name (the window's end at "now": the
            // hour so far) is its `rollup_hourly` row: one bitmap instead of every raw row of the hour.
            // Decided in the statement, so it is the same snapshot.
            let start = "to_timestamp(\(hour)::float8)"
            let restIsEmpty = Self.restOfHourIsEmpty(hour: start, from: low, to: high)
            parts.append("""
                SELECT 3, \(channel), \(hour), count(*), NULL, NULL, array_agg(uid), \(none), NULL::text FROM events
                WHERE event_name = $1 AND ts >= \(low) AND ts < \(high)\(filter) AND NOT (\(restIsEmpty))\(inEndDay)\(grouping)
                UNION ALL
                SELECT 2, \(hourColumns), users, NULL, \(none), \(other) FROM \(tables.hourly)
                WHERE event_name = $1 AND hour = \(start) AND \(channelCondition) AND \(restIsEmpty)\(inEndDay)
                """)
        }
        if endDay != nil {
            parts.append("""
                SELECT 1, \(rollupColumns("day")), users, NULL, \(none), \(other) FROM \(tables.daily)
                WHERE event_name = $1 AND day = $30 AND \(channelCondition) AND \(Self.endDayRestIsEmpty)
                """)
        }
        return parts.joined(separator: "\nUNION ALL\n")
    }

    /// SQL true when `events` holds no event of the request's name from the window's end (`$29`) to
    /// the end of its UTC day (`$30`): ``endDay``'s probe of `events_name_ts`.
    private static let endDayRestIsEmpty = noEvents(from: "$29", to: "$30 + interval '24 hours'")

    /// SQL true when `events` holds no event of the request's name (`$1`) in the hour starting at
    /// `hour` outside `[from, to)`: two probes of `events_name_ts`.
    static func restOfHourIsEmpty(hour: String, from: String, to: String) -> String {
        noEvents(from: hour, to: from) + " AND " + noEvents(from: to, to: "\(hour) + interval '1 hour'")
    }

    /// SQL true when `events` holds no event of the request's name (`$1`) in `[low, high)`: one probe
    /// of `events_name_ts`.
    private static func noEvents(from low: String, to high: String) -> String {
        "NOT EXISTS (SELECT 1 FROM events WHERE event_name = $1 AND ts >= \(low) AND ts < \(high))"
    }

    var parameters: [PostgresParameter] {
        let empty: Range<Int64> = 0..<0
        func seconds(_ range: Range<Int64>) -> [PostgresParameter] {
            [.timestamptz(unixMicros: range.lowerBound * 1_000_000), .timestamptz(unixMicros: range.upperBound * 1_000_000)]
        }
        func micros(_ range: Range<Int64>) -> [PostgresParameter] {
            [.timestamptz(unixMicros: range.lowerBound), .timestamptz(unixMicros: range.upperBound)]
        }
        let edges = split.edgeHours
        var parameters: [PostgresParameter] = [.text(request.eventName)]
        parameters += seconds(split.days)
        parameters += seconds(split.hours)
        parameters += seconds(edges.first ?? empty) + seconds(edges.count > 1 ? edges[1] : empty)
        parameters += micros(split.raw.first ?? empty) + micros(split.raw.count > 1 ? split.raw[1] : empty)
        // Typed, so the statements that do not use them still prepare.
        parameters.append(.binary(Array((request.channel ?? "").utf8), oid: PostgresType.text))
        parameters += [0, 1].map { index in .int8(index < split.raw.count ? MetricsWindowSplit.hour(of: split.raw[index]) : 0) }
        let pieces = cover
        let singles = pieces.filter { $0.level == nil }
        let blocks = pieces.filter { $0.level != nil }
        parameters.append(PostgresBinaryArray.timestamptz(seconds: singles.map(\.start)))
        parameters.append(PostgresBinaryArray.int8(blocks.map { Int64($0.level!.level) }))
        parameters.append(PostgresBinaryArray.timestamptz(seconds: blocks.map(\.start)))
        parameters.append(.binary([useLevels ? 1 : 0], oid: PostgresType.bool))
        // The campaign tables' statement matches versions only (see `sql`), per part.
        let keyed = request.usesCampaigns ? [] : held
        parameters.append(PostgresBinaryArray.int8(keyed.map { Int64($0.key.level) }))
        parameters.append(PostgresBinaryArray.timestamptz(seconds: keyed.map(\.key.start)))
        parameters.append(PostgresBinaryArray.text(keyed.map { String(decoding: $0.key.channel, as: UTF8.self) }))
        let byPart = request.usesCampaigns ? heldVersionsByPart : [:]
        parameters.append(PostgresBinaryArray.int8(request.usesCampaigns ? byPart[.days] ?? [] : held.map(\.version)))
        parameters.append(.binary(Array((request.campaignID ?? "").utf8), oid: PostgresType.text))
        parameters += [.blocks, .firstEdge, .lastEdge].map { PostgresBinaryArray.int8(byPart[$0] ?? []) }
        parameters += [.timestamptz(unixMicros: request.toMicros), .timestamptz(unixMicros: (endDay ?? 0) * 1_000_000)]
        return parameters
    }

    /// The versions of the held entries and of the kept campaign unions' rows, split as the campaign
    /// statement's parts read them (`$24`, `$26`, `$27`, `$28`; a piece is in one part).
    private var heldVersionsByPart: [CampaignUnions.Part: [Int64]] {
        var parts: [CampaignUnions.Part: Set<Int64>] = [:]
        for entry in held {
            if let part = part(level: entry.key.level, start: entry.key.start) { parts[part, default: []].insert(entry.version) }
        }
        for (part, versions) in heldThroughUnions { parts[part, default: []].formUnion(versions) }
        return parts.mapValues(Array.init)
    }

    /// The part of the campaign statement that reads the piece at `level` (0 a day, above 0 a block,
    /// ``LocalBucketQuery/hourLevel`` an hour) starting at `start`: nil for one it does not read.
    func part(level: Int, start: Int64) -> CampaignUnions.Part? {
        switch level {
        case 0: return .days
        case LocalBucketQuery.hourLevel:
            switch split.edgeHours.firstIndex(where: { $0.contains(start) }) {
            case 0: return .firstEdge
            case 1: return .lastEdge
            default: return nil
            }
        case let level where level > 0: return .blocks
        default: return nil
        }
    }

    /// Runs the statement and hands each row to `body` as it arrives (single-row mode): the caller
    /// folds bitmaps one at a time instead of holding every input.
    func stream(on connection: PostgresConnection, _ body: (Row) throws -> Void) throws {
        // Prepared: planning this UNION costs about as much as running it on a busy day.
        try connection.executePrepared(sql, parameters: parameters, resultFormat: .binary) { result in
            guard let part = result.int64(0, 0) else { throw unexpected() }
            switch part {
            case 0:
                try body(.status(complete: result.int64(0, 3) == 1, levelsUsed: result.int64(0, 4) == 1))
            case 1, 2, 4:
                guard let channel = result.string(0, 1), let bucket = result.int64(0, 2), let total = result.int64(0, 3),
                      let uniques = result.int64(0, 4)
                else { throw unexpected() }
                let item = RollupRow(
                    channel: channel, bucket: bucket, total: total, uniques: uniques, users: result.bytes(0, 5),
                    version: result.int64(0, 7), cached: result.int64(0, 8) == 1, other: result.string(0, 9))
                try body(part == 1 ? .day(item) : part == 2 ? .hour(item) : .block(item))
            case 5:
                guard let campaign = result.string(0, 1), let part = result.int64(0, 2).flatMap(CampaignUnions.Part.init(rawValue:)),
                      let total = result.int64(0, 3), let count = result.int64(0, 4), let bytes = result.bytes(0, 5), bytes.count == Int(count) * 8
                else { throw unexpected() }
                var versions: [Int64] = []
                versions.reserveCapacity(Int(count))
                var index = bytes.startIndex
                while index < bytes.endIndex {
                    versions.append(bytes[index..<(index + 8)].reduce(0) { $0 << 8 | Int64($1) })
                    index += 8
                }
                try body(.heldRows(campaign: campaign, part: part, total: total, versions: versions))
            case 3:
                // A range without rows still yields its (ungrouped) aggregate: count 0, no array.
                guard let channel = result.string(0, 1), let hour = result.int64(0, 2), let count = result.int64(0, 3) else { throw unexpected() }
                guard count > 0 else { return }
                guard let array = result.bytes(0, 6), let uids = PostgresBinaryArray.decodeInt4(array) else { throw unexpected() }
                try body(.raw(RawGroup(channel: channel, hour: hour, count: count, uids: uids)))
            default:
                throw unexpected()
            }
        }
    }

    /// A rollup row's `users` column as a bitmap; a row that does not hold one is a broken table.
    static func bitmap(_ bytes: ArraySlice<UInt8>) throws -> RoaringBitmap {
        do {
            return try RoaringBitmap(portable: bytes)
        } catch {
            throw PostgresError(code: .queryFailed, message: "a rollup row holds an unreadable users bitmap (\(error)); run `rollups verify` and `rollups rebuild`")
        }
    }

    private func unexpected() -> PostgresError {
        PostgresError(code: .queryFailed, message: "unexpected row from the rollup metrics query")
    }
}
