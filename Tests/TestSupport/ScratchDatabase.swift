import Foundation
import Logging
import Store

/// A throwaway database for tests and benchmarks: created with a random name next to the database
/// that `adminURL` names, and dropped (with `FORCE`, closing stray sessions) by ``drop()``.
///
/// Each test creates its own, so tests run in parallel and beside other people's work without
/// touching each other's tables.
public struct ScratchDatabase: Sendable {
    /// `DATABASE_URL`, or the project's local PostgreSQL (`scripts/postgres url`).
    public static var defaultURL: String { DatabaseURL.fromEnvironment }

    public let name: String
    /// Connects to the scratch database.
    public let url: String
    public let adminURL: String

    /// Creates `<prefix>_<random>`; with `migrate`, applies the bundled schema migrations to it.
    public static func create(adminURL: String = defaultURL, prefix: String = "scratch", migrate: Bool = false) throws -> ScratchDatabase {
        let suffix = (0..<12).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789".randomElement()! }
        let name = "\(prefix)_\(String(suffix))"
        let admin = try PostgresConnection(url: adminURL, applicationName: "scratch-database")
        defer { admin.close() }
        try admin.executeScript("CREATE DATABASE \(PostgresConnection.quoteIdentifier(name))")
        let database = ScratchDatabase(name: name, url: databaseURL(adminURL, name: name), adminURL: adminURL)
        if migrate {
            do {
                try SchemaMigrations.apply(url: database.url, logger: Logger(label: "scratch-database", factory: { _ in SwiftLogNoOpLogHandler() }))
            } catch {
                try? database.drop()
                throw error
            }
        }
        return database
    }

    /// Drops the database, ending any session still connected to it.
    public func drop() throws {
        let admin = try PostgresConnection(url: adminURL, applicationName: "scratch-database")
        defer { admin.close() }
        try admin.executeScript("DROP DATABASE IF EXISTS \(PostgresConnection.quoteIdentifier(name)) WITH (FORCE)")
    }

    /// Runs `body` with a fresh scratch database and drops it afterwards, also when `body` throws.
    public static func with<T>(
        adminURL: String = defaultURL, prefix: String = "scratch", migrate: Bool = false,
        _ body: (ScratchDatabase) async throws -> T
    ) async throws -> T {
        // CREATE/DROP DATABASE block for a while on a busy server: keep them off the cooperative pool.
        let database = try await offload { try create(adminURL: adminURL, prefix: prefix, migrate: migrate) }
        do {
            let value = try await body(database)
            try await offload { try database.drop() }
            return value
        } catch {
            _ = try? await offload { try database.drop() }
            throw error
        }
    }

    /// The same server and credentials as `url`, with another database name; works for libpq URIs
    /// and for `key=value` strings (where a later `dbname` wins).
    public static func databaseURL(_ url: String, name: String) -> String {
        if url.hasPrefix("postgresql://") || url.hasPrefix("postgres://"), var components = URLComponents(string: url) {
            components.path = "/" + name
            if let result = components.string { return result }
        }
        return url + " dbname='" + name.replacingOccurrences(of: "'", with: "\\'") + "'"
    }
}
