import Foundation
import Store

/// Each test gets its own migrated scratch database (Store's `ScratchDatabase`), so tests run in
/// parallel without seeing each other's rows.
public typealias TestDatabase = ScratchDatabase

extension ScratchDatabase {
    public static func create(prefix: String = "ingest", serverURL: String = ScratchDatabase.defaultURL) throws -> ScratchDatabase {
        try create(adminURL: serverURL, prefix: prefix, migrate: true)
    }

    public func dropQuietly() { try? drop() }

    public func scalar(_ sql: String, _ params: [String?] = []) throws -> String? {
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        return try connection.execute(sql, params).rows.first?.first ?? nil
    }

    public func int(_ sql: String, _ params: [String?] = []) throws -> Int {
        Int(try scalar(sql, params) ?? "") ?? -1
    }

    /// Runs `body` with a connection of its own to this database, off the cooperative pool (libpq
    /// blocks), and closes it afterwards.
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        let url = url
        return try await offload {
            let connection = try PostgresConnection(url: url)
            defer { connection.close() }
            return try body(connection)
        }
    }
}

/// A temporary directory removed when the test ends.
public struct TemporaryDirectory: Sendable {
    public let path: String

    public init(_ prefix: String = "ingest-test") throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }

    public func remove() { try? FileManager.default.removeItem(atPath: path) }

    public func appending(_ component: String) -> String { path + "/" + component }
}
