import ArgumentParser

/// `event-metrics-service`: the CLI that wires the WAL, ingest, replayer and metrics together.
@main
struct EventMetricsServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "event-metrics-service",
        abstract: "Durable analytics event ingestion with exact metrics from PostgreSQL.",
        subcommands: [ServeCommand.self, MigrateCommand.self, ReplayCommand.self, WALCommand.self, RollupsCommand.self],
        defaultSubcommand: ServeCommand.self
    )
}
