import Foundation
import Testing
@testable import WAL

/// Simulated power cuts (`PowerCutFileSystem`, `PowerCutRun`): thousands of seeded cuts in every
/// `swift test` run; `POWER_CUTS=N` runs N per shard instead (the long mode, also
/// `scripts/crash-test --power-cuts N`), `POWER_CUT_SEED=S` replays one seed.
@Suite struct PowerCutTests {
    /// Seeds are split in shards so the two cores of a small machine both work.
    static let shards = 4
    static let cutsPerShard = ProcessInfo.processInfo.environment["POWER_CUTS"].flatMap { Int($0) }.map { max(1, $0 / shards) } ?? 600
    /// Set POWER_CUT_FIRST_SEED to explore seeds other than the default ones.
    static let firstSeed = ProcessInfo.processInfo.environment["POWER_CUT_FIRST_SEED"].flatMap { UInt64($0) } ?? 1

    @Test(arguments: 0..<shards)
    func seededPowerCuts(shard: Int) async throws {
        var total = PowerCutRun.Outcome()
        let start = Self.firstSeed + UInt64(shard * Self.cutsPerShard)
        for seed in start..<(start + UInt64(Self.cutsPerShard)) {
            let outcome = try await PowerCutRun(seed: seed).run()
            total.acknowledged += outcome.acknowledged
            total.recovered += outcome.recovered
            total.lost += outcome.lost
        }
        #expect(total.lost == 0)
        #expect(total.acknowledged > Self.cutsPerShard)  // the runs do acknowledge records before their cuts
        print("power cuts: shard \(shard): \(Self.cutsPerShard) cuts, \(total.acknowledged) records acknowledged, \(total.recovered) recovered, lost \(total.lost)")
    }

    /// Seeds that found bugs, replayed in every run.
    /// 814, 1269, 2075: retention unlinked several segments and fsynced the directory once, so a cut
    /// could keep the unlink of a newer segment and lose that of an older one; recovery then saw
    /// "segments 2 to 2 are missing" and refused to start. Now each unlink is fsynced in turn.
    @Test(arguments: [814, 1269, 2075] as [UInt64])
    func regressionSeed(_ seed: UInt64) async throws {
        _ = try await PowerCutRun(seed: seed).run()
    }

    /// `POWER_CUT_SEED=S swift test --filter PowerCutTests/replaySeed` replays one failing seed.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["POWER_CUT_SEED"] != nil))
    func replaySeed() async throws {
        let seed = UInt64(ProcessInfo.processInfo.environment["POWER_CUT_SEED"]!)!
        let outcome = try await PowerCutRun(seed: seed).run()
        print("power cut seed \(seed): \(outcome.operations) operations, \(outcome.acknowledged) acknowledged, \(outcome.recovered) recovered")
    }
}
