import ArgumentParser
import Logging

/// Settings shared by every subcommand that touches PostgreSQL.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: "libpq URI or conninfo (env DATABASE_URL).")
    var databaseURL: String = Environment.string("DATABASE_URL", default: Environment.localDatabaseURL)
}

/// Logging settings; only the executable bootstraps logging (libraries take a Logger).
struct LoggingOptions: ParsableArguments {
    @Option(name: .customLong("log-level"), help: "trace|debug|info|notice|warning|error|critical (env LOG_LEVEL).")
    var logLevel: String = Environment.string("LOG_LEVEL", default: "info")

    func makeLogger(label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = Logger.Level(rawValue: logLevel.lowercased()) ?? .info
        return logger
    }
}
