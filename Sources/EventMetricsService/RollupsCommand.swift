import ArgumentParser
import Foundation
import Query
import Rollups
import Store
import Time

/// `rollups verify` and `rollups rebuild`: prove the rollups equal raw SQL, and recompute them.
struct RollupsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollups",
        abstract: "Verify or rebuild the metrics rollups (hourly, daily and the coarser day blocks, and their campaign twins).",
        subcommands: [RollupsVerifyCommand.self, RollupsRebuildCommand.self]
    )
}

/// The time range both subcommands take; both ends are widened to whole UTC days.
struct RollupRangeOptions: ParsableArguments {
    @Option(help: "Start (Unix seconds or RFC 3339); default: the earliest event or rollup row.")
    var from: String?

    @Option(help: "End, exclusive (Unix seconds or RFC 3339); default: after the latest event or rollup row.")
    var to: String?

    func micros() throws -> (from: Int64?, to: Int64?) {
        let range = (from: try from.map { try Self.parse($0, "--from") }, to: try to.map { try Self.parse($0, "--to") })
        if let start = range.from, let end = range.to, start >= end { throw ValidationError("--from must be before --to") }
        return range
    }

    static func parse(_ text: String, _ flag: String) throws -> Int64 {
        if let seconds = Int64(text), seconds >= 0, seconds < UTCTime.maxMicros / UTCTime.microsPerSecond {
            return seconds * UTCTime.microsPerSecond
        }
        guard let micros = UTCTime.parseRFC3339(text) else {
            throw ValidationError("\(flag) must be Unix seconds or RFC 3339 (e.g. 2025-11-29T00:00:00Z)")
        }
        return micros
    }
}

struct RollupsVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Compare every rollup row in range with raw SQL over events.",
        discussion: """
            Checks each row's total against count(*), its uniques and bitmap cardinality against \
            count(DISTINCT uid), and the bitmap's members against the uids themselves; rows missing on \
            either side count too. Prints every difference and exits 1 if there is any, 0 otherwise. \
            Progress goes to stderr.
            """
    )

    @OptionGroup var range: RollupRangeOptions
    @OptionGroup var database: DatabaseOptions

    func run() throws {
        let (from, to) = try range.micros()
        let connection = try connect(database.databaseURL, "rollups verify")
        defer { connection.close() }
        let started = ContinuousClock.now
        let report = try RollupVerifier.verify(fromMicros: from, toMicros: to, on: connection) { progress in
            RollupProgress.line("verify", progress.day, progress.daysDone, progress.daysTotal, "\(progress.differences) differences")
        }
        for difference in report.differences {
            print("DIFFERENT \(RollupProgress.describe(difference)): \(difference.problem)")
        }
        print("checked \(report.rowsChecked) rollup rows over \(RollupProgress.days(report.days)) in \(RollupProgress.seconds(since: started)): \(report.differences.isEmpty ? "all equal raw SQL" : "\(report.differences.count) differ")")
        if !report.complete {
            print("note: rollup_status.complete is false: /metrics uses raw SQL until a full `rollups rebuild`")
        }
        if !report.campaignsComplete {
            print("note: rollup_status.campaigns_complete is false: the campaign tables were not checked; campaign_id= and group_by=campaign use raw SQL until a full `rollups rebuild --campaign-rollups` (with the replayers' --campaign-rollups on)")
        }
        if !report.levelsComplete {
            print("note: rollup_status.levels_complete is false: the day blocks were not checked, and /metrics reads daily rows only until `rollups rebuild` (or `rollups rebuild --levels-only`)")
        }
        if !report.differences.isEmpty { throw ExitCode(1) }
    }
}

struct RollupsRebuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild",
        abstract: "Recompute rollup rows in range from raw events.",
        discussion: """
            One UTC day per transaction, with the day blocks (rollup_blocks) that hold it; replay may \
            keep running (it waits for each day's lock). Without --from and --to every day is rebuilt and \
            /metrics is switched to the rollups (rollup_status.complete and levels_complete). With \
            --levels-only only the day blocks are rebuilt, from the daily rows (no events are read): what a \
            database that predates the blocks needs. With --campaign-rollups the campaign tables are \
            rebuilt too, and a full rebuild lets /metrics use them (rollup_status.campaigns_complete) unless \
            a replayer without --campaign-rollups committed events meanwhile. Progress goes to stderr.
            """
    )

    @OptionGroup var range: RollupRangeOptions
    @OptionGroup var database: DatabaseOptions

    @Flag(help: "Rebuild only the day blocks from the daily rows; without --from/--to, then let /metrics use them.")
    var levelsOnly = false

    @OptionGroup var campaignRollups: CampaignRollupsOption

    func run() throws {
        let (from, to) = try range.micros()
        let connection = try connect(database.databaseURL, "rollups rebuild")
        defer { connection.close() }
        let started = ContinuousClock.now
        if levelsOnly {
            let everything = from == nil && to == nil
            let span = try RollupRange.days(fromMicros: from, toMicros: to, on: connection)
            let rows = try RollupLevelRebuilder.rebuildLevels(days: span, markComplete: everything, on: connection) { level, blocks in
                FileHandle.standardError.write(Data("rollups rebuild: \(level): \(blocks) blocks\n".utf8))
            }
            print("rebuilt the day blocks over \(RollupProgress.days(Int(span.count / 86_400))): \(rows) block rows in \(RollupProgress.seconds(since: started))\(everything ? "; levels marked complete" : "")")
            return
        }
        let summary = try RollupRebuilder.rebuild(fromMicros: from, toMicros: to, campaigns: campaignRollups.enabled, on: connection) { progress in
            RollupProgress.line("rebuild", progress.day, progress.daysDone, progress.daysTotal, "\(progress.events) events")
        }
        print("rebuilt \(RollupProgress.days(summary.days)) from \(summary.events) events: \(summary.hourlyRows) hourly and \(summary.dailyRows) daily rows in \(RollupProgress.seconds(since: started))\(summary.markedComplete ? "; rollups marked complete" : "")")
        if summary.markedComplete && campaignRollups.enabled && !summary.campaignsMarkedComplete {
            print("note: a replayer without --campaign-rollups committed events during the rebuild: the campaign tables stay incomplete (campaign questions use plain SQL); rebuild again once every node runs with it")
        }
    }
}

private func connect(_ url: String, _ name: String) throws -> PostgresConnection {
    do {
        let connection = try PostgresConnection(url: url, applicationName: "event-metrics-service \(name)")
        if try SchemaMigrations.appliedVersions(connection: connection).contains("0002_rollups") == false {
            throw ValidationError("the database has no rollup tables yet; run `event-metrics-service migrate` first")
        }
        return connection
    } catch let error as PostgresError {
        throw ValidationError("cannot use PostgreSQL: \(error). Is it running? Try scripts/postgres start.")
    }
}

enum RollupProgress {
    /// One line per day on stderr (stdout carries only the result).
    static func line(_ verb: String, _ day: Int64, _ done: Int, _ total: Int, _ detail: String) {
        FileHandle.standardError.write(Data("rollups \(verb): \(UTCTime.dayKey(seconds: day)) (\(done)/\(total) days), \(detail)\n".utf8))
    }

    static func days(_ count: Int) -> String { count == 1 ? "1 day" : "\(count) days" }

    static func seconds(since start: ContinuousClock.Instant) -> String {
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return String(format: "%.1f s", seconds)
    }

    static func describe(_ difference: RollupDifference) -> String {
        let key = difference.key
        // The campaign tables' rows name their campaign ("(none)": events without one).
        let campaign = difference.campaign ? " campaign=\(key.campaign.isEmpty ? "(none)" : key.campaign)" : ""
        let channel = "channel=\(key.isAllChannels ? "(all)" : key.channel)"
        if let level = difference.level {
            let table = RollupLevel.tableName(campaign: difference.campaign)
            return "\(table) event_name=\(key.eventName) level=\(level.level) start=\(UTCTime.dayKey(seconds: key.bucket))\(campaign) \(channel)"
        }
        let table = difference.table
        let bucket = table == .hourly ? UTCTime.hourKey(seconds: key.bucket) : UTCTime.dayKey(seconds: key.bucket)
        return "\(difference.campaign ? table.campaignName : table.name) event_name=\(key.eventName) \(table.bucketColumn)=\(bucket)\(campaign) \(channel)"
    }
}
