import ArgumentParser
import Events
import Foundation
import Logging
import Replay
import Store
import WAL

/// `bench replay-rollups`: what maintaining the rollups costs the replayer. One WAL (the bench mix,
/// timestamps over the last day, as `bench replay` fills it) is replayed into fresh databases with
/// and without rollup maintenance, alternating, in the same run. Issue 9's target: with rollups
/// ≥ 80 % of the throughput without. With `--campaign-rollups`, a third kind keeps the campaign
/// rollups too (the WAL's events carry the mix's 100 campaigns), against the same baseline.
struct RollupReplayBenchmarkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay-rollups",
        abstract: "Replay throughput with rollup maintenance against without, same WAL, same run."
    )

    @Option(help: "Events to put in the WAL.")
    var events = 500_000

    @Option(help: "Replays of each kind, alternating (the machine is noisy).")
    var rounds = 2

    @Flag(help: "Also replay with the campaign rollups on (--campaign-rollups; off in the other kinds, as the service's default) and compare that too.")
    var campaignRollups = false

    @OptionGroup var options: ReplayBenchmarkOptions

    /// What one replay maintains.
    enum Kind: String, CaseIterable {
        case none = "without rollups"
        case rollups = "with rollups"
        case campaigns = "with rollups and campaign rollups"
    }

    func run() async throws {
        let logger = Logger(label: "bench-replay-rollups", factory: { _ in SwiftLogNoOpLogHandler() })
        let directory = NSTemporaryDirectory() + "bench-replay-rollups-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let wal = try await ReplayBenchmarkData.filledWAL(in: directory, events: events, logger: logger)

        let kinds: [Kind] = campaignRollups ? Kind.allCases : [.none, .rollups]
        var seconds: [Kind: [Double]] = [:]
        for round in 0..<rounds {
            for kind in round % 2 == 0 ? kinds : kinds.reversed() {
                let (elapsed, _) = try await ReplayBenchmarkData.timedReplay(
                    wal, events: events, server: options.database.databaseURL, template: options.template,
                    label: "replay_\(kind)", maintainRollups: kind != .none, campaignRollups: kind == .campaigns, logger: logger)
                seconds[kind, default: []].append(elapsed)
                printToStandardError("round \(round + 1): \(kind.rawValue) \(BenchFormat.decimal(elapsed, places: 1)) s, \(BenchFormat.count(Double(events) / elapsed)) events/s")
            }
        }
        try await wal.close()

        // The best of each kind: noise only ever makes a run slower.
        let rate = seconds.mapValues { Double(events) / $0.min()! }
        let without = rate[.none]!
        let with = rate[.rollups]!
        let ratio = with / without
        if options.json {
            let campaigns = rate[.campaigns].map { #","with_campaign_rollups_events_per_second":\#($0.rounded()),"campaign_ratio":\#(BenchFormat.decimal($0 / without, places: 3))"# } ?? ""
            print(#"{"events":\#(events),"rounds":\#(rounds),"with_rollups_events_per_second":\#(with.rounded()),"without_rollups_events_per_second":\#(without.rounded()),"ratio":\#(BenchFormat.decimal(ratio, places: 3)),"target_met":\#(ratio >= 0.8)\#(campaigns)}"#)
        } else {
            print("replay with rollups \(BenchFormat.count(with)) events/s, without \(BenchFormat.count(without)) events/s: \(BenchFormat.decimal(100 * ratio, places: 1)) % (target ≥ 80 %: \(ratio >= 0.8 ? "met" : "MISSED"))")
            if let campaigns = rate[.campaigns] {
                print("replay with rollups and campaign rollups \(BenchFormat.count(campaigns)) events/s: \(BenchFormat.decimal(100 * campaigns / without, places: 1)) % of without (target ≥ 80 %: \(campaigns / without >= 0.8 ? "met" : "MISSED"))")
            }
        }
    }
}
