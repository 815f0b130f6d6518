import Bitmaps
import Store

/// Recomputes and verifies the blocks of `rollup_blocks` (``RollupLevel``).
///
/// A block of level k is recomputed from its two children, the blocks of level k-1 (the daily rows
/// for level 1), which is exact when the children are: rebuilding bottom-up makes each level right
/// from the one below. The replayer never needs this; it adds events to every level itself
/// (``RollupWriter``). It serves `rollups rebuild` (after a day was rebuilt from events, and to fill
/// the levels of a database that predates them) and the verifier.
public enum RollupLevelRebuilder {
    /// Recomputes every block that contains `day` (Unix seconds of a day start), bottom-up, in the
    /// caller's transaction, which must hold the rollup tables locked against writers (as
    /// ``RollupRebuilder`` does); returns the block rows written.
    static func refreshBlocks(containing day: Int64, names: [String], campaigns: Bool = true, on connection: PostgresConnection) throws -> Int {
        var written = 0
        for campaign in campaigns ? [false, true] : [false] {
            for level in RollupLevel.all {
                written += try refresh(level, start: level.bucket(containing: day), names: names, campaign: campaign, on: connection)
            }
        }
        return written
    }

    /// Rebuilds every block overlapping `days` (Unix seconds, whole days) from the daily rows, level
    /// by level, one block per transaction (its campaign blocks in the same one); with `markComplete`,
    /// then records that the levels cover all daily rows (`rollup_status.levels_complete`), which lets
    /// /metrics read them.
    public static func rebuildLevels(days: Range<Int64>, markComplete: Bool, on connection: PostgresConnection, progress: (RollupLevel, Int) -> Void = { _, _ in }) throws -> Int {
        var written = 0
        if !days.isEmpty {
            for level in RollupLevel.all {
                var blocks = 0
                for start in stride(from: level.bucket(containing: days.lowerBound), to: days.upperBound, by: Int(level.seconds)) {
                    written += try connection.transaction { connection in
                        try connection.executeScript(RollupTable.lockAllForRebuild)
                        let names = try RawRollupSource.allEventNames(on: connection)
                        return try refresh(level, start: start, names: names, campaign: false, on: connection)
                            + refresh(level, start: start, names: names, campaign: true, on: connection)
                    }
                    blocks += 1
                }
                progress(level, blocks)
            }
        }
        if markComplete { try RollupStatus.setLevelsComplete(true, on: connection) }
        return written
    }

    /// Replaces the rows of one block (of `rollup_campaign_blocks` with `campaign`) by the union of
    /// its children's rows.
    static func refresh(_ level: RollupLevel, start: Int64, names: [String], campaign: Bool, on connection: PostgresConnection) throws -> Int {
        guard !names.isEmpty else { return 0 }
        let rows = try children(of: level, start: start, names: names, campaign: campaign, on: connection)
        try connection.execute(
            "DELETE FROM \(RollupLevel.tableName(campaign: campaign)) WHERE event_name = ANY($1::text[]) AND level = $2 AND start = $3",
            parameters: [PostgresBinaryArray.text(names), .int8(Int64(level.level)), .timestamptz(unixMicros: start * 1_000_000)])
        let merged = rows.map { key, parts in
            RollupRow(key: key, total: parts.total, users: RoaringBitmap.union(parts.users))
        }.sorted { $0.key < $1.key }
        try RollupWriter.insert(merged, into: level, campaign: campaign, on: connection)
        return merged.count
    }

    /// The stored rows of a block's two children, grouped under the block's keys.
    static func children(
        of level: RollupLevel, start: Int64, names: [String], campaign: Bool, on connection: PostgresConnection
    ) throws -> [RollupKey: (total: Int64, users: [RoaringBitmap])] {
        let end = start + level.seconds
        let range: [PostgresParameter] = [
            PostgresBinaryArray.text(names), .timestamptz(unixMicros: start * 1_000_000), .timestamptz(unixMicros: end * 1_000_000),
        ]
        let result: PostgresResult
        let columns = "event_name, channel, total, users, \(campaign ? "campaign" : "''")"
        if level.level == 1 {
            let daily = campaign ? RollupTable.daily.campaignName : RollupTable.daily.name
            result = try connection.execute(
                "SELECT \(columns) FROM \(daily) WHERE event_name = ANY($1::text[]) AND day >= $2 AND day < $3",
                parameters: range, resultFormat: .binary)
        } else {
            result = try connection.execute(
                "SELECT \(columns) FROM \(RollupLevel.tableName(campaign: campaign)) WHERE event_name = ANY($1::text[]) AND level = $4 AND start >= $2 AND start < $3",
                parameters: range + [.int8(Int64(level.level - 1))], resultFormat: .binary)
        }
        var groups: [RollupKey: (total: Int64, users: [RoaringBitmap])] = [:]
        for row in 0..<result.rowCount {
            guard let name = result.string(row, 0), let channel = result.string(row, 1), let total = result.int64(row, 2),
                  let bytes = result.bytes(row, 3), let campaign = result.string(row, 4)
            else { throw RollupError("unexpected row from the children of a \(level) block") }
            let users: RoaringBitmap
            do { users = try RoaringBitmap(portable: bytes) } catch {
                throw RollupError("a child row of \(level) block \(start) holds an unreadable bitmap (\(error)); run `rollups rebuild`")
            }
            let key = RollupKey(eventName: name, bucket: start, campaign: campaign, channel: channel)
            groups[key, default: (0, [])].total += total
            groups[key, default: (0, [])].users.append(users)
        }
        return groups
    }
}

/// Compares every block with independent SQL over `events` (total with `count(*)`, `uniques` and
/// the bitmap's cardinality with `count(DISTINCT uid)`) and its members with the union of its
/// children (which the day verification compares with the uids themselves): together, each level is
/// checked against raw rows. One `REPEATABLE READ` snapshot per block.
public enum RollupLevelVerifier {
    public static func verify(days: Range<Int64>, campaigns: Bool = true, on connection: PostgresConnection, progress: (RollupLevel, Int, Int) -> Void = { _, _, _ in }) throws -> (checked: Int, differences: [RollupDifference]) {
        var checked = 0
        var differences: [RollupDifference] = []
        guard !days.isEmpty else { return (0, []) }
        for level in RollupLevel.all {
            for start in stride(from: level.bucket(containing: days.lowerBound), to: days.upperBound, by: Int(level.seconds)) {
                let (count, found) = try connection.transaction { connection in
                    try connection.executeScript("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET LOCAL work_mem = '256MB'")
                    let plain = try verifyBlock(level, start: start, campaign: false, on: connection)
                    guard campaigns else { return plain }
                    let campaign = try verifyBlock(level, start: start, campaign: true, on: connection)
                    return (plain.0 + campaign.0, plain.1 + campaign.1)
                }
                checked += count
                differences += found
            }
            progress(level, checked, differences.count)
        }
        return (checked, differences)
    }

    /// One block's rows of `rollup_blocks`, or of `rollup_campaign_blocks` with `campaign` (the same
    /// rows per campaign).
    static func verifyBlock(_ level: RollupLevel, start: Int64, campaign: Bool, on connection: PostgresConnection) throws -> (Int, [RollupDifference]) {
        let names = try RawRollupSource.allEventNames(on: connection)
        guard !names.isEmpty else { return (0, []) }
        let parameters: [PostgresParameter] = [
            PostgresBinaryArray.text(names), .timestamptz(unixMicros: start * 1_000_000), .timestamptz(unixMicros: (start + level.seconds) * 1_000_000),
        ]
        var raw: [RollupKey: (total: Int64, distinct: Int64)] = [:]
        let sets = campaign ? "(event_name, g, channel), (event_name, g)" : "(event_name, channel), (event_name)"
        let rawRows = try connection.execute(
            """
            SELECT event_name, GROUPING(channel), coalesce(channel, ''), count(*), count(DISTINCT uid), \(campaign ? "g" : "''")
            FROM (SELECT event_name, channel, uid, \(campaign ? "coalesce(campaign_id, '')" : "''") AS g
                  FROM events WHERE event_name = ANY($1::text[]) AND ts >= $2 AND ts < $3) e
            GROUP BY GROUPING SETS (\(sets))
            """,
            parameters: parameters, resultFormat: .binary)
        for row in 0..<rawRows.rowCount {
            guard let name = rawRows.string(row, 0), let allChannels = rawRows.int64(row, 1), let channel = rawRows.string(row, 2),
                  let total = rawRows.int64(row, 3), let distinct = rawRows.int64(row, 4), let campaign = rawRows.string(row, 5)
            else { throw RollupError("unexpected row from the block verification aggregate") }
            raw[RollupKey(eventName: name, bucket: start, campaign: campaign, channel: allChannels == 1 ? RollupKey.allChannels : channel)] = (total, distinct)
        }
        // A child with an unreadable bitmap is reported by its own check (the day's, or the level below).
        let children = try? RollupLevelRebuilder.children(of: level, start: start, names: names, campaign: campaign, on: connection)
        let table = RollupLevel.tableName(campaign: campaign)
        let storedRows = try connection.execute(
            """
            SELECT event_name, channel, total, uniques, users, \(campaign ? "campaign" : "''") FROM \(table)
            WHERE event_name = ANY($1::text[]) AND level = $2 AND start = $3
            """,
            parameters: [parameters[0], .int8(Int64(level.level)), parameters[1]], resultFormat: .binary)
        var stored: [RollupKey: RollupVerifier.Stored] = [:]
        for row in 0..<storedRows.rowCount {
            guard let name = storedRows.string(row, 0), let channel = storedRows.string(row, 1), let total = storedRows.int64(row, 2),
                  let uniques = storedRows.int64(row, 3), let bytes = storedRows.bytes(row, 4), let campaign = storedRows.string(row, 5)
            else { throw RollupError("unexpected row from \(table)") }
            stored[RollupKey(eventName: name, bucket: start, campaign: campaign, channel: channel)] = .init(total: total, uniques: uniques, bytes: Array(bytes))
        }
        var differences: [RollupDifference] = []
        let keys = Set(raw.keys).union(stored.keys).sorted()
        for key in keys {
            let problem = RollupVerifier.compare(expected: raw[key], stored[key]) { users in
                guard let children, users != RoaringBitmap.union(children[key]?.users ?? []) else { return nil }
                return "users bitmap differs from the union of its two children"
            }
            if let problem {
                differences.append(RollupDifference(table: .daily, key: key, problem: problem, level: level, campaign: campaign))
            }
        }
        return (keys.count, differences)
    }
}

extension RollupStatus {
    /// Whether `rollup_blocks` covers every daily row (`0004_rollup_levels.sql`).
    public static func levelsComplete(on connection: PostgresConnection) throws -> Bool {
        try flag(.levelsComplete, on: connection)
    }

    public static func setLevelsComplete(_ complete: Bool, on connection: PostgresConnection) throws {
        try setFlag(.levelsComplete, complete, on: connection)
    }

    /// Whether the campaign tables cover every row of `events` (`0005_campaign_rollups.sql`).
    public static func campaignsComplete(on connection: PostgresConnection) throws -> Bool {
        try flag(.campaignsComplete, on: connection)
    }

    public static func setCampaignsComplete(_ complete: Bool, on connection: PostgresConnection) throws {
        try setFlag(.campaignsComplete, complete, on: connection)
    }

    /// Records, in the caller's transaction, that it inserts events without campaign rows (a replayer
    /// with the campaign rollups off): the campaign tables stop covering `events`, and a full rebuild
    /// running meanwhile will not claim they do (`campaign_gaps`, `0005_campaign_rollups.sql`).
    public static func recordCampaignGap(on connection: PostgresConnection) throws {
        try connection.execute("UPDATE rollup_status SET campaigns_complete = false, campaign_gaps = campaign_gaps + 1, updated_at = now()")
    }

    /// How many transactions inserted events without campaign rows so far (committed ones).
    public static func campaignGaps(on connection: PostgresConnection) throws -> Int64 {
        try connection.execute("SELECT campaign_gaps FROM rollup_status").int64(0, 0) ?? 0
    }

    /// Sets `campaigns_complete` unless a transaction without campaign rows committed since
    /// ``campaignGaps(on:)`` read `gaps`; returns whether it was set.
    static func markCampaignsComplete(ifGapsAre gaps: Int64, on connection: PostgresConnection) throws -> Bool {
        let result = try connection.execute(
            "UPDATE rollup_status SET campaigns_complete = (campaign_gaps = $1::int8), updated_at = now() RETURNING campaigns_complete",
            [String(gaps)])
        return result.bool(0, 0) == true
    }
}
