import Foundation
import Store

/// Each test gets its own migrated scratch database (Store's `ScratchDatabase`), so tests run in
/// parallel without seeing each other's rows.
typealias TestDatabase = ScratchDatabase

extension ScratchDatabase {
    static func create(prefix: String = "ingest", serverURL: String = ScratchDatabase.defaultURL) throws -> ScratchDatabase {
        try create(adminURL: serverURL, prefix: prefix, migrate: true)
    }

    func dropQuietly() { try? drop() }

    func scalar(_ sql: String, _ params: [String?] = []) throws -> String? {
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        return try connection.execute(sql, params).rows.first?.first ?? nil
    }

    func int(_ sql: String, _ params: [String?] = []) throws -> Int {
        Int(try scalar(sql, params) ?? "") ?? -1
    }
}

/// A temporary directory removed when the test ends.
struct TemporaryDirectory {
    let path: String

    init(_ prefix: String = "ingest-test") throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    func appending(_ component: String) -> String { path + "/" + component }
}
