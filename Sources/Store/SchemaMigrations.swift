import Foundation
import Logging

/// One versioned schema change: a file `Migrations/NNNN_name.sql`; its version is the file name
/// without `.sql` (e.g. `0001_initial`), and versions apply in lexical order.
public struct Migration: Sendable, Hashable {
    public let version: String
    public let sql: String

    public init(version: String, sql: String) {
        self.version = version
        self.sql = sql
    }
}

/// Applies the schema migrations that ship in this module's `Migrations/` folder.
///
/// Each pending migration runs in its own transaction together with its row in
/// `schema_migrations(version, applied_at)`, so a failed file leaves no trace and is retried on the
/// next start. The whole run holds a session-level advisory lock, so processes starting together
/// apply each file once: the second waits, then finds nothing left to do. Statements that cannot run
/// inside a transaction (`CREATE INDEX CONCURRENTLY`) do not belong in these files.
public enum SchemaMigrations {
    /// `pg_advisory_lock` key for migrations ("EMSMIGR" in ASCII), shared by every process of the service.
    public static let advisoryLockKey: Int64 = 0x45_4D_53_4D_49_47_52

    /// The migrations bundled with the module, in order.
    public static func bundled() throws -> [Migration] {
        guard let directory = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw PostgresError(code: .migrationFailed, message: "the Migrations resource folder is missing from the Store bundle")
        }
        return try load(from: directory)
    }

    /// Reads `NNNN_name.sql` files from a folder, sorted by version; other files are ignored, and a
    /// `.sql` file with a malformed name is an error (a typo must not silently skip a migration).
    public static func load(from directory: URL) throws -> [Migration] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw PostgresError(code: .migrationFailed, message: "cannot list migrations in \(directory.path): \(error)")
        }
        var migrations: [Migration] = []
        for name in names where name.hasSuffix(".sql") {
            let version = String(name.dropLast(4))
            guard isValidVersion(version) else {
                throw PostgresError(code: .migrationFailed, message: "migration file \(name) is not named NNNN_name.sql")
            }
            let sql: String
            do {
                sql = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            } catch {
                throw PostgresError(code: .migrationFailed, message: "cannot read migration \(name): \(error)")
            }
            migrations.append(Migration(version: version, sql: sql))
        }
        return migrations.sorted { $0.version < $1.version }
    }

    static func isValidVersion(_ version: String) -> Bool {
        let parts = version.split(separator: "_", maxSplits: 1)
        guard parts.count == 2, parts[0].count == 4, parts[0].allSatisfy(\.isASCII), parts[0].allSatisfy(\.isNumber) else { return false }
        return !parts[1].isEmpty && parts[1].allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }

    /// Connects to `url`, applies the bundled migrations not yet applied, and returns their versions.
    @discardableResult
    public static func apply(url: String, logger: Logger) throws -> [String] {
        let connection = try PostgresConnection(url: url, applicationName: "event-metrics-service migrate")
        defer { connection.close() }
        return try apply(connection: connection, logger: logger)
    }

    /// Applies `migrations` (the bundled ones by default) not yet recorded, on an idle connection.
    @discardableResult
    public static func apply(connection: PostgresConnection, migrations: [Migration]? = nil, logger: Logger) throws -> [String] {
        let migrations = try migrations ?? bundled()
        // Session-level lock: held across the per-migration transactions, released on unlock or when
        // the connection ends.
        try connection.execute("SELECT pg_advisory_lock($1)", [String(advisoryLockKey)])
        defer { _ = try? connection.execute("SELECT pg_advisory_unlock($1)", [String(advisoryLockKey)]) }

        try connection.executeScript("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version text PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now())
            """)
        let done = Set(try appliedVersions(connection: connection))
        let known = Set(migrations.map(\.version))
        let unknown = done.subtracting(known).sorted()
        if !unknown.isEmpty {
            // A newer release already migrated this database; carry on, the schema only grows.
            logger.warning("database has migrations this build does not know", metadata: ["versions": "\(unknown.joined(separator: ","))"])
        }

        var applied: [String] = []
        for migration in migrations where !done.contains(migration.version) {
            let started = ContinuousClock.now
            do {
                try connection.transaction { connection in
                    try connection.executeScript(migration.sql)
                    try connection.execute("INSERT INTO schema_migrations (version) VALUES ($1)", [migration.version])
                }
            } catch let error as PostgresError {
                throw PostgresError(
                    code: error.isUnavailable ? error.code : .migrationFailed,
                    message: "migration \(migration.version) failed: \(error.message)", sqlState: error.sqlState, query: error.query)
            }
            logger.info("applied schema migration", metadata: [
                "version": "\(migration.version)", "duration": "\(ContinuousClock.now - started)",
            ])
            applied.append(migration.version)
        }
        return applied
    }

    /// Versions recorded in `schema_migrations`, sorted; empty when the table does not exist yet.
    public static func appliedVersions(connection: PostgresConnection) throws -> [String] {
        let exists = try connection.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
        guard exists.bool(0, 0) == true else { return [] }
        let result = try connection.execute("SELECT version FROM schema_migrations ORDER BY version")
        return (0..<result.rowCount).compactMap { result.string($0, 0) }
    }
}
