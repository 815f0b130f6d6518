import Logging
import Replay
import Store

/// Migrate-at-start: `serve` applies the schema migrations before it listens, and the replayer applies
/// them again before its first transaction (when PostgreSQL was unreachable at start, that is when it
/// answers). Both use the same bundled migrations as `migrate`.
enum DatabaseSchema {
    /// Migrates now; when PostgreSQL does not answer, says so and lets the replayer migrate later.
    static func migrateAtStart(url: String, logger: Logger) {
        do {
            let applied = try SchemaMigrations.apply(url: url, logger: logger)
            if !applied.isEmpty { logger.info("schema migrated", metadata: ["applied": "\(applied)"]) }
        } catch {
            logger.warning(
                "PostgreSQL unreachable at start; ingestion goes on into the WAL and the replayer applies the schema when it answers",
                metadata: ["error": "\(error)"]
            )
        }
    }

    /// The replayer's configuration with the migrations as its ``ReplayerConfiguration/prepareDatabase``.
    static func replayerConfiguration(databaseURL: String, nodeID: String, retainSegments: Bool, campaignRollups: Bool = false) -> ReplayerConfiguration {
        var configuration = ReplayerConfiguration(databaseURL: databaseURL, nodeID: nodeID, retainSegments: retainSegments)
        configuration.campaignRollups = campaignRollups
        configuration.prepareDatabase = { url, logger in _ = try SchemaMigrations.apply(url: url, logger: logger) }
        return configuration
    }
}
