import ArgumentParser

/// `bench`: the load generator (default subcommand, so the old tool's `bench -endpoint events
/// -total 100000` still works), the acknowledgement checker, the data seeder, and the benchmarks,
/// each of which compares against a baseline in the same run.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Load generator, checker, seeder and benchmarks for event-metrics-service.",
        subcommands: [
            LoadCommand.self, CheckCommand.self, SeedCommand.self, BareServerCommand.self, ReplayBenchmarkCommand.self,
            WALBenchmarkCommand.self, EventParseBenchmarkCommand.self, KeyTypeBenchmarkCommand.self,
            MetricsBenchmarkCommand.self, RollupReplayBenchmarkCommand.self,  // issue 9 (rollups); registered by the rollups helper
            MetricsScaleBenchmarkCommand.self,  // issue 17 (10M users)
            RestartBenchmarkCommand.self,  // issue 20 (restart with a backlog)
            CampaignReplayBenchmarkCommand.self,  // issue 21 (the campaign rollups' cost)
        ],
        defaultSubcommand: LoadCommand.self
    )
}
