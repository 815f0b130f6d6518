import ArgumentParser
import Foundation
import Logging
import Store
import WAL

/// `bench replay-campaigns`: what the campaign rollups (`rollup_campaign_hourly`, `_daily`,
/// `_blocks`; issue 21) cost the replayer and the disk, by number of campaigns. One WAL per campaign
/// count (the bench mix over the last day, each event's campaign drawn uniformly from N; 0: no event
/// has one, so the campaign tables hold one row per channel and bucket, the least they can), replayed
/// into fresh databases in alternating rounds of the same run. Prints replay time and rate against
/// the 0-campaign baseline, and the size of the rollup tables (with their indexes and TOAST) after
/// the replay.
struct CampaignReplayBenchmarkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay-campaigns",
        abstract: "Replay time and rollup storage with 0, 100 and 10,000 campaigns, same mix, same run."
    )

    @Option(help: "Events per WAL.")
    var events = 200_000

    @Option(parsing: .upToNextOption, help: "Campaign counts to compare (the first is the baseline).")
    var campaigns = [0, 100, 10_000]

    @Option(help: "Replays of each count, alternating (the machine is noisy); the fastest counts.")
    var rounds = 2

    @OptionGroup var options: ReplayBenchmarkOptions

    static let tables = [
        "rollup_hourly", "rollup_daily", "rollup_blocks", "rollup_campaign_hourly", "rollup_campaign_daily", "rollup_campaign_blocks",
    ]

    func run() async throws {
        let logger = Logger(label: "bench-replay-campaigns", factory: { _ in SwiftLogNoOpLogHandler() })
        let root = NSTemporaryDirectory() + "bench-replay-campaigns-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        var wals: [Int: WriteAheadLog] = [:]
        for count in campaigns {
            wals[count] = try await ReplayBenchmarkData.filledWAL(in: root + "/\(count)", events: events, campaigns: count, logger: logger)
        }
        var seconds: [Int: [Double]] = [:]
        var sizes: [Int: [String: (bytes: Int64, rows: Int64)]] = [:]
        for round in 0..<rounds {
            for count in round % 2 == 0 ? campaigns : campaigns.reversed() {
                let (elapsed, _) = try await ReplayBenchmarkData.timedReplay(
                    wals[count]!, events: events, server: options.database.databaseURL, template: options.template,
                    label: "campaigns\(count)", campaignRollups: true, logger: logger
                ) { connection in
                    var measured: [String: (Int64, Int64)] = [:]
                    for table in Self.tables {
                        let result = try connection.execute("SELECT pg_total_relation_size($1::regclass), (SELECT count(*) FROM \(table))", [table])
                        measured[table] = (result.int64(0, 0) ?? 0, result.int64(0, 1) ?? 0)
                    }
                    sizes[count] = measured
                }
                seconds[count, default: []].append(elapsed)
                printToStandardError("round \(round + 1): \(count) campaigns \(BenchFormat.decimal(elapsed, places: 1)) s, \(BenchFormat.count(Double(events) / elapsed)) events/s")
            }
        }
        for wal in wals.values { try await wal.close() }

        let baseline = seconds[campaigns[0]]!.min()!
        var json: [String] = []
        for count in campaigns {
            let best = seconds[count]!.min()!
            let size = sizes[count]!
            let plain = ["rollup_hourly", "rollup_daily", "rollup_blocks"].map { size[$0]!.bytes }.reduce(0, +)
            let campaign = ["rollup_campaign_hourly", "rollup_campaign_daily", "rollup_campaign_blocks"].map { size[$0]!.bytes }.reduce(0, +)
            let rows = ["rollup_campaign_hourly", "rollup_campaign_daily", "rollup_campaign_blocks"].map { size[$0]!.rows }.reduce(0, +)
            let rowsText = "\(rows) campaign rollup rows, \(BenchFormat.decimal(Double(campaign) / 1_048_576, places: 1)) MiB (main rollups \(BenchFormat.decimal(Double(plain) / 1_048_576, places: 1)) MiB)"
            print("\(count) campaigns: replay \(BenchFormat.decimal(best, places: 1)) s, \(BenchFormat.count(Double(events) / best)) events/s, \(BenchFormat.decimal(best / baseline, places: 2))× the \(campaigns[0])-campaign time; \(rowsText)")
            json.append(#"{"campaigns":\#(count),"replay_seconds":\#(best),"time_ratio":\#(BenchFormat.decimal(best / baseline, places: 3)),"campaign_rollup_bytes":\#(campaign),"campaign_rollup_rows":\#(rows),"main_rollup_bytes":\#(plain)}"#)
        }
        if options.json { print(#"{"events":\#(events),"rounds":\#(rounds),"results":[\#(json.joined(separator: ","))]}"#) }
    }
}
