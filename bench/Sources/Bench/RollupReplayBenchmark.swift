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
/// ≥ 80 % of the throughput without.
struct RollupReplayBenchmarkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay-rollups",
        abstract: "Replay throughput with rollup maintenance against without, same WAL, same run."
    )

    @Option(help: "Events to put in the WAL.")
    var events = 500_000

    @Option(help: "Replays of each kind, alternating (the machine is noisy).")
    var rounds = 2

    @OptionGroup var options: ReplayBenchmarkOptions

    func run() async throws {
        let logger = Logger(label: "bench-replay-rollups", factory: { _ in SwiftLogNoOpLogHandler() })
        let directory = NSTemporaryDirectory() + "bench-replay-rollups-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let wal = try await ReplayBenchmarkData.filledWAL(in: directory, events: events, logger: logger)

        var seconds: [Bool: [Double]] = [true: [], false: []]
        for round in 0..<rounds {
            for rollups in round % 2 == 0 ? [false, true] : [true, false] {
                let (elapsed, _) = try await ReplayBenchmarkData.timedReplay(
                    wal, events: events, server: options.database.databaseURL, template: options.template,
                    label: rollups ? "rollups" : "norollups", maintainRollups: rollups, logger: logger)
                seconds[rollups]!.append(elapsed)
                printToStandardError("round \(round + 1): \(rollups ? "with" : "without") rollups \(BenchFormat.decimal(elapsed, places: 1)) s, \(BenchFormat.count(Double(events) / elapsed)) events/s")
            }
        }
        try await wal.close()

        // The best of each kind: noise only ever makes a run slower.
        let with = Double(events) / seconds[true]!.min()!
        let without = Double(events) / seconds[false]!.min()!
        let ratio = with / without
        if options.json {
            print(#"{"events":\#(events),"rounds":\#(rounds),"with_rollups_events_per_second":\#(with.rounded()),"without_rollups_events_per_second":\#(without.rounded()),"ratio":\#(BenchFormat.decimal(ratio, places: 3)),"target_met":\#(ratio >= 0.8)}"#)
        } else {
            print("replay with rollups \(BenchFormat.count(with)) events/s, without \(BenchFormat.count(without)) events/s: \(BenchFormat.decimal(100 * ratio, places: 1)) % (target ≥ 80 %: \(ratio >= 0.8 ? "met" : "MISSED"))")
        }
    }
}
