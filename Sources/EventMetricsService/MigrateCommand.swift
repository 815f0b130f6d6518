import ArgumentParser
import Store

/// Applies the schema migrations kept in the repository (also done at `serve` start).
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending schema migrations to PostgreSQL."
    )

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        let logger = logging.bootstrap(label: "migrate")
        do {
            let applied = try SchemaMigrations.apply(url: database.databaseURL, logger: logger)
            print(applied.isEmpty ? "schema is up to date" : "applied: \(applied.joined(separator: ", "))")
        } catch let error as PostgresError {
            throw ValidationError("migration failed: \(error). Is PostgreSQL running? Try scripts/postgres start.")
        }
    }
}
