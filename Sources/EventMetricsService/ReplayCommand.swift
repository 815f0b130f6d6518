import ArgumentParser
import Logging
import Replay
import WAL

/// Drains the WAL into PostgreSQL until it is empty, then exits: for a node taken out of service,
/// or to catch up after an outage without serving traffic.
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay the WAL into PostgreSQL until it is empty, then exit."
    )

    @Option(name: .customLong("node-id"), help: "The node whose checkpoint to use (env NODE_ID, default host name).")
    var nodeID: String = Environment.string("NODE_ID", default: Environment.hostName)

    @Option(help: "Give up when PostgreSQL stays unreachable this many seconds.")
    var timeout: Int = 300

    @OptionGroup var wal: WALOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var logging: LoggingOptions
    @OptionGroup var campaignRollups: CampaignRollupsOption

    func run() async throws {
        let logger = logging.bootstrap(label: "replay")
        let log = try WriteAheadLog.open(try wal.configuration(), logger: logger)
        let replayer = Replayer(
            wal: log,
            configuration: DatabaseSchema.replayerConfiguration(
                databaseURL: database.databaseURL, nodeID: nodeID, retainSegments: wal.retain, campaignRollups: campaignRollups.enabled),
            logger: logger
        )
        try await replayer.drain(timeout: .seconds(timeout))
        let status = replayer.status()
        print("replayed: \(status.insertedEvents) new, \(status.duplicateEvents) duplicates, \(status.deadLetters) dead letters")
        try await log.close()
    }
}
