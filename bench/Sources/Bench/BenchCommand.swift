import ArgumentParser

/// `bench`: the benchmark suite's tools. Each subcommand compares against a baseline in the same run.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks and load tools for event-metrics-service.",
        subcommands: [WALBenchmarkCommand.self, EventParseBenchmarkCommand.self, KeyTypeBenchmarkCommand.self]
    )
}
