import ArgumentParser
import Logging
import Operations
import Store

/// Settings shared by every subcommand that touches PostgreSQL.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: "libpq URI or conninfo (env DATABASE_URL).")
    var databaseURL: String = DatabaseURL.fromEnvironment
}

/// Logging settings; only the executable bootstraps logging (libraries take a Logger).
struct LoggingOptions: ParsableArguments {
    @Option(name: .customLong("log-level"), help: "trace|debug|info|notice|warning|error|critical (env LOG_LEVEL).")
    var logLevel: String = Environment.string("LOG_LEVEL", default: "info")

    @Option(name: .customLong("log-format"), help: "logfmt|json, one line per event on standard error (env LOG_FORMAT).")
    var logFormat: String = Environment.string("LOG_FORMAT", default: "logfmt")

    var level: Logger.Level { Logger.Level(rawValue: logLevel.lowercased()) ?? .info }

    func validate() throws {
        guard LogFormat(rawValue: logFormat.lowercased()) != nil else {
            throw ValidationError("--log-format must be logfmt or json, not \(logFormat)")
        }
        guard Logger.Level(rawValue: logLevel.lowercased()) != nil else {
            throw ValidationError("--log-level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: "|")), not \(logLevel)")
        }
    }

    /// Routes every logger of the process (ours and the libraries') to the chosen format and level,
    /// then returns the command's logger. Call once per process, first thing in `run()`.
    func bootstrap(label: String) -> Logger {
        let format = LogFormat(rawValue: logFormat.lowercased()) ?? .logfmt
        LoggingSystem.bootstrap(format.handlerFactory(level: level))
        return makeLogger(label: label)
    }

    func makeLogger(label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}
