import Bitmaps
import Store
import Time

/// One way a rollup row disagrees with `events`.
public struct RollupDifference: Sendable, CustomStringConvertible {
    public var table: RollupTable
    public var key: RollupKey
    /// What differs, e.g. "total 120, raw 121; users: 1 missing (uid 17)".
    public var problem: String
    /// Set for a block of `rollup_blocks` (then `key.bucket` is the block's start and `table` unused).
    public var level: RollupLevel? = nil
    /// A row of a campaign table (`rollup_campaign_…`).
    public var campaign = false

    public var description: String {
        let name = level.map { "\(RollupLevel.tableName(campaign: campaign)) \($0)" } ?? (campaign ? table.campaignName : table.name)
        return "\(name) \(key): \(problem)"
    }
}

/// Compares every rollup row with independent SQL over `events`: the total with `count(*)`, the
/// stored `uniques` and the bitmap's cardinality with `count(DISTINCT uid)`, and the bitmap's members
/// with the uids themselves. Rows missing on either side are differences too.
///
/// The raw side does not reuse ``RollupDeltas``: SQL's `GROUPING SETS` computes all four kinds of row
/// (hour or day, per channel or over all), so a bug in the folding cannot hide itself. Each day is
/// compared inside one `REPEATABLE READ` snapshot, so a replayer committing meanwhile causes no false
/// alarm.
public enum RollupVerifier {
    public struct Report: Sendable {
        public var days = 0
        public var rowsChecked = 0
        public var differences: [RollupDifference] = []
        /// `rollup_status.complete` at the end.
        public var complete = false
        /// `rollup_status.levels_complete`: false means the blocks were not checked.
        public var levelsComplete = false
        /// `rollup_status.campaigns_complete` at the start: false means the campaign tables were not
        /// checked (they are not meant to cover `events` then: campaign rollups off, or not rebuilt yet).
        public var campaignsComplete = false
    }

    public struct Progress: Sendable {
        public var day: Int64
        public var daysDone: Int
        public var daysTotal: Int
        public var differences: Int
    }

    /// Verifies the days overlapping [`fromMicros`, `toMicros`), or every day with events or rollup
    /// rows when nil.
    public static func verify(
        fromMicros: Int64? = nil, toMicros: Int64? = nil, on connection: PostgresConnection,
        progress: (Progress) -> Void = { _ in }
    ) throws -> Report {
        var report = Report()
        let known = (fromMicros == nil || toMicros == nil) ? try RollupRange.span(on: connection) : nil
        let span = (fromMicros ?? known?.lowerBound ?? 0)..<(toMicros ?? known?.upperBound ?? 0)
        report.complete = try RollupStatus.isComplete(on: connection)
        report.campaignsComplete = try RollupStatus.campaignsComplete(on: connection)
        guard !span.isEmpty else { return report }
        let firstDay = RollupTable.daily.bucket(containing: UTCTime.seconds(micros: span.lowerBound))
        let lastDay = RollupTable.daily.bucket(containing: UTCTime.seconds(micros: span.upperBound - 1))
        let total = Int((lastDay - firstDay) / 86_400) + 1
        for (index, day) in stride(from: firstDay, through: lastDay, by: 86_400).enumerated() {
            let (checked, differences) = try connection.transaction { connection in
                try connection.executeScript("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET LOCAL work_mem = '256MB'")
                let plain = try verifyDay(day, campaign: false, on: connection)
                guard report.campaignsComplete else { return plain }
                let campaigns = try verifyDay(day, campaign: true, on: connection)
                return (plain.0 + campaigns.0, plain.1 + campaigns.1)
            }
            report.days += 1
            report.rowsChecked += checked
            report.differences += differences
            progress(Progress(day: day, daysDone: index + 1, daysTotal: total, differences: report.differences.count))
        }
        // The coarser levels, once they are meant to be whole (until then /metrics does not read them).
        // (The campaign blocks with them.)
        report.levelsComplete = try RollupStatus.levelsComplete(on: connection)
        if report.levelsComplete {
            let blocks = try RollupLevelVerifier.verify(days: firstDay..<(lastDay + 86_400), campaigns: report.campaignsComplete, on: connection)
            report.rowsChecked += blocks.checked
            report.differences += blocks.differences
        }
        return report
    }

    private struct Raw {
        var total: Int64
        var distinct: Int64
        var users: RoaringBitmap
    }

    /// A stored rollup row's figures, as the checks compare them.
    struct Stored {
        var total: Int64
        var uniques: Int64
        var bytes: [UInt8]
    }

    /// One day of `rollup_hourly` and `rollup_daily`, or with `campaign` of their campaign twins (the
    /// same rows per campaign).
    static func verifyDay(_ day: Int64, campaign: Bool, on connection: PostgresConnection) throws -> (Int, [RollupDifference]) {
        let names = try RawRollupSource.allEventNames(on: connection)
        guard !names.isEmpty else { return (0, []) }
        let range: [PostgresParameter] = [
            PostgresBinaryArray.text(names), .timestamptz(unixMicros: day * 1_000_000), .timestamptz(unixMicros: (day + 86_400) * 1_000_000),
        ]
        var raw: [RollupTable: [RollupKey: Raw]] = [.hourly: [:], .daily: [:]]
        let sets =
            campaign
            ? "(event_name, g, channel, h), (event_name, g, h), (event_name, g, channel), (event_name, g)"
            : "(event_name, channel, h), (event_name, h), (event_name, channel), (event_name)"
        let rawRows = try connection.execute(
            """
            SELECT event_name, GROUPING(channel), coalesce(channel, ''), GROUPING(h), extract(epoch FROM coalesce(h, $2))::int8,
                   count(*), count(DISTINCT uid), array_agg(uid), \(campaign ? "g" : "''")
            FROM (SELECT event_name, channel, date_trunc('hour', ts) AS h, uid, \(campaign ? "coalesce(campaign_id, '')" : "''") AS g
                  FROM events WHERE event_name = ANY($1::text[]) AND ts >= $2 AND ts < $3) e
            GROUP BY GROUPING SETS (\(sets))
            """,
            parameters: range, resultFormat: .binary)
        for row in 0..<rawRows.rowCount {
            guard let name = rawRows.string(row, 0), let allChannels = rawRows.int64(row, 1), let channel = rawRows.string(row, 2),
                  let wholeDay = rawRows.int64(row, 3), let bucket = rawRows.int64(row, 4), let total = rawRows.int64(row, 5),
                  let distinct = rawRows.int64(row, 6), let array = rawRows.bytes(row, 7), let uids = PostgresBinaryArray.decodeInt4(array),
                  let campaign = rawRows.string(row, 8)
            else { throw RollupError("unexpected row from the verification aggregate") }
            let key = RollupKey(eventName: name, bucket: bucket, campaign: campaign, channel: allChannels == 1 ? RollupKey.allChannels : channel)
            raw[wholeDay == 1 ? .daily : .hourly]![key] = Raw(total: total, distinct: distinct, users: RoaringBitmap(uids))
        }

        var checked = 0
        var differences: [RollupDifference] = []
        for table in RollupTable.allCases {
            let name = campaign ? table.campaignName : table.name
            let storedRows = try connection.execute(
                """
                SELECT event_name, extract(epoch FROM \(table.bucketColumn))::int8, channel, total, uniques, users, \(campaign ? "campaign" : "''")
                FROM \(name) WHERE event_name = ANY($1::text[]) AND \(table.bucketColumn) >= $2 AND \(table.bucketColumn) < $3
                """,
                parameters: range, resultFormat: .binary)
            var stored: [RollupKey: Stored] = [:]
            for row in 0..<storedRows.rowCount {
                guard let eventName = storedRows.string(row, 0), let bucket = storedRows.int64(row, 1), let channel = storedRows.string(row, 2),
                      let total = storedRows.int64(row, 3), let uniques = storedRows.int64(row, 4), let bytes = storedRows.bytes(row, 5),
                      let campaign = storedRows.string(row, 6)
                else { throw RollupError("unexpected row from \(name)") }
                stored[RollupKey(eventName: eventName, bucket: bucket, campaign: campaign, channel: channel)] = Stored(total: total, uniques: uniques, bytes: Array(bytes))
            }
            let expected = raw[table]!
            for key in Set(expected.keys).union(stored.keys).sorted() {
                checked += 1
                if let problem = compare(expected[key], stored[key]) {
                    differences.append(RollupDifference(table: table, key: key, problem: problem, campaign: campaign))
                }
            }
        }
        return (checked, differences)
    }

    /// Nil when they agree, else what differs (down to example uids for a bitmap).
    private static func compare(_ raw: Raw?, _ stored: Stored?) -> String? {
        compare(expected: raw.map { ($0.total, $0.distinct) }, stored) { users in
            guard let raw, users != raw.users else { return nil }
            let have = Set(users.values)
            let want = Set(raw.users.values)
            let missing = want.subtracting(have).sorted()
            let extra = have.subtracting(want).sorted()
            var text = "users bitmap differs:"
            if !missing.isEmpty { text += " \(missing.count) missing (e.g. uid \(Int32(bitPattern: missing[0])))" }
            if !extra.isEmpty { text += " \(extra.count) extra (e.g. uid \(Int32(bitPattern: extra[0])))" }
            return text
        }
    }

    /// Nil when a stored row agrees with what the raw events say (its count and distinct users, a
    /// bitmap that reads and holds that many), else what differs; `checkUsers` adds the table's own
    /// test of the bitmap (the raw uids themselves, or the union of a block's children).
    static func compare(
        expected: (total: Int64, distinct: Int64)?, _ stored: Stored?, checkUsers: (RoaringBitmap) -> String?
    ) -> String? {
        guard let stored else {
            guard let expected else { return nil }
            return "row missing (events: \(expected.total) events, \(expected.distinct) users)"
        }
        guard let expected else {
            return "row without events (stored: total \(stored.total), uniques \(stored.uniques))"
        }
        var problems: [String] = []
        if stored.total != expected.total { problems.append("total \(stored.total), events \(expected.total)") }
        if stored.uniques != expected.distinct { problems.append("uniques \(stored.uniques), events \(expected.distinct) distinct uids") }
        do {
            let users = try RoaringBitmap(portable: stored.bytes)
            if users.cardinality != expected.distinct {
                problems.append("users bitmap holds \(users.cardinality) uids, events \(expected.distinct)")
            }
            if let problem = checkUsers(users) { problems.append(problem) }
        } catch {
            problems.append("users bitmap unreadable: \(error)")
        }
        return problems.isEmpty ? nil : problems.joined(separator: "; ")
    }
}
