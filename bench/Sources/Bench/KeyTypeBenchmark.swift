import ArgumentParser
import Foundation
import Store
import TestSupport

/// Measures the idempotency key as `uuid` (16 bytes taken from a SHA-256) against `text` (the 64-char
/// hex SHA-256, and the 36-char uuid spelling) in a table with a unique index: bulk COPY time, the
/// replayer's dedupe merge (`INSERT … SELECT … ON CONFLICT DO NOTHING` with half the keys already
/// present), and table and index size. Runs in a scratch database that it drops afterwards.
///
///     bench key-type --rows 1000000
struct KeyTypeBenchmarkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key-type",
        abstract: "Compare uuid and text idempotency keys: COPY throughput, merge time, index size.")

    @Option(help: "PostgreSQL URL of an existing database; the benchmark creates and drops its own next to it.")
    var databaseURL: String = ScratchDatabase.defaultURL

    @Option(help: "Rows to COPY into each table.")
    var rows: Int = 1_000_000

    @Option(help: "Rows per COPY statement (each COPY is its own transaction).")
    var batchRows: Int = 100_000

    @Option(help: "Rows in the dedupe merge (half of them already stored).")
    var mergeRows: Int = 100_000

    func run() async throws {
        let database = try ScratchDatabase.create(adminURL: databaseURL, prefix: "bench_key_type")
        defer { try? database.drop() }
        let connection = try PostgresConnection(url: database.url, applicationName: "bench key-type")
        defer { connection.close() }

        var random = SplitMix64(seed: 0x5EED)
        let keys = (0..<rows).map { _ in (0..<4).flatMap { _ in random.next().bigEndianBytes } }  // 32 bytes = a SHA-256
        let fresh = (0..<(mergeRows / 2)).map { _ in (0..<4).flatMap { _ in random.next().bigEndianBytes } }

        print("key-type benchmark: \(rows) rows, COPY batches of \(batchRows), merge of \(mergeRows) rows (50% duplicates)")
        print("PostgreSQL \(connection.serverVersion), database \(database.name)")
        print("")
        print("key          COPY s   rows/s    merge ms  table MiB  index MiB  bytes/key(index)")
        for variant in Variant.allCases {
            let figures = try measure(variant, keys: keys, fresh: fresh, on: connection)
            print(variant.label.padding(toLength: 11, withPad: " ", startingAt: 0) + String(
                format: " %7.2f %9.0f %10.1f %10.1f %10.1f %10.1f",
                figures.copySeconds, Double(rows) / figures.copySeconds, figures.mergeMilliseconds,
                Double(figures.tableBytes) / 1_048_576, Double(figures.indexBytes) / 1_048_576,
                Double(figures.indexBytes) / Double(rows)))
        }
    }

    enum Variant: CaseIterable {
        case uuid, text64, text36

        var label: String {
            switch self {
            case .uuid: "uuid"
            case .text64: "text(64hex)"
            case .text36: "text(36)"
            }
        }

        var sqlType: String { self == .uuid ? "uuid" : "text" }

        func write(_ key: [UInt8], into writer: inout CopyBinaryWriter) {
            switch self {
            case .uuid: writer.uuid(key[0..<16])
            case .text64: writer.text(hex(key))
            case .text36: writer.text(uuidText(key))
            }
        }
    }

    struct Figures {
        var copySeconds: Double
        var mergeMilliseconds: Double
        var tableBytes: Int64
        var indexBytes: Int64
    }

    func measure(_ variant: Variant, keys: [[UInt8]], fresh: [[UInt8]], on connection: PostgresConnection) throws -> Figures {
        let table = "keys_\(variant)"
        try connection.executeScript("""
            DROP TABLE IF EXISTS \(table);
            CREATE TABLE \(table) (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, k \(variant.sqlType) NOT NULL UNIQUE, n int8 NOT NULL);
            CHECKPOINT;
            """)
        // Encode outside the timed section: the encoding cost is the replayer's either way.
        var batches: [[UInt8]] = []
        var index = 0
        while index < keys.count {
            var writer = CopyBinaryWriter(reservingCapacity: batchRows * 90)
            for row in index..<min(index + batchRows, keys.count) {
                writer.beginRow(fieldCount: 2)
                variant.write(keys[row], into: &writer)
                writer.int8(Int64(row))
            }
            batches.append(writer.finish())
            index += batchRows
        }
        let copyStart = ContinuousClock.now
        for batch in batches {
            try connection.copyIn("COPY \(table) (k, n) FROM STDIN (FORMAT binary)", batch)
        }
        let copyDuration = ContinuousClock.now - copyStart

        // The replayer's shape: a batch with duplicates COPYed into a temp table, then merged.
        var merge = CopyBinaryWriter()
        for (offset, key) in (Array(keys.prefix(fresh.count)) + fresh).enumerated() {
            merge.beginRow(fieldCount: 2)
            variant.write(key, into: &merge)
            merge.int8(Int64(keys.count + offset))
        }
        let mergeBytes = merge.finish()
        let mergeStart = ContinuousClock.now
        let inserted = try connection.transaction { tx in
            try tx.executeScript("CREATE TEMP TABLE incoming (k \(variant.sqlType), n int8) ON COMMIT DROP")
            try tx.copyIn("COPY incoming FROM STDIN (FORMAT binary)", mergeBytes)
            return try tx.execute("INSERT INTO \(table) (k, n) SELECT k, n FROM incoming ON CONFLICT (k) DO NOTHING").affectedRows
        }
        let mergeDuration = ContinuousClock.now - mergeStart
        precondition(inserted == fresh.count, "merge inserted \(inserted), expected \(fresh.count)")

        let sizes = try connection.execute("""
            SELECT pg_table_size($1::regclass), pg_relation_size(($1 || '_k_key')::regclass)
            """, [table])
        return Figures(
            copySeconds: copyDuration.seconds, mergeMilliseconds: mergeDuration.seconds * 1000,
            tableBytes: sizes.int64(0, 0) ?? 0, indexBytes: sizes.int64(0, 1) ?? 0)
    }
}

private extension UInt64 {
    var bigEndianBytes: [UInt8] { withUnsafeBytes(of: bigEndian, Array.init) }
}

private extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

private let hexDigits = Array("0123456789abcdef".utf8)

private func hex(_ bytes: some Collection<UInt8>) -> String {
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count * 2)
    for byte in bytes {
        out.append(hexDigits[Int(byte >> 4)])
        out.append(hexDigits[Int(byte & 0x0F)])
    }
    return String(decoding: out, as: UTF8.self)
}

private func uuidText(_ bytes: [UInt8]) -> String {
    let h = hex(bytes[0..<16])
    let u = Array(h.utf8)
    return String(decoding: u[0..<8], as: UTF8.self) + "-" + String(decoding: u[8..<12], as: UTF8.self) + "-"
        + String(decoding: u[12..<16], as: UTF8.self) + "-" + String(decoding: u[16..<20], as: UTF8.self) + "-"
        + String(decoding: u[20..<32], as: UTF8.self)
}
