import Foundation
import TestSupport
import Testing
@testable import Store

@Suite struct CopyTests {
    @Test func headerAndTrailerFollowTheBinaryCopyFormat() {
        var writer = CopyBinaryWriter()
        let bytes = writer.finish()
        #expect(bytes == Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00] + [0, 0, 0, 0] + [0, 0, 0, 0] + [0xFF, 0xFF])
    }

    @Test func emptyTextArrayHasNoDimensions() {
        var writer = CopyBinaryWriter()
        _ = writer.takeBuffered()
        writer.textArray([])
        #expect(writer.takeBuffered() == [0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 25])
    }

    @Test func timestampsUsePostgresEpoch() {
        var writer = CopyBinaryWriter()
        _ = writer.takeBuffered()
        writer.timestamp(unixMicros: 946_684_800_000_001)
        #expect(writer.takeBuffered() == [0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1])
    }

    struct Row {
        var key: [UInt8]
        var name: String
        var campaign: String?
        var count: Int32
        var big: Int64
        var micros: Int64
        var tags: [String]
        var metadata: String?
        var payload: [UInt8]
    }

    @Test func everyFieldTypeRoundTrips() async throws {
        let rows: [Row] = [
            Row(key: Array(0..<16), name: "add_to_cart", campaign: "spring-25", count: -5, big: Int64.max,
                micros: 1_764_450_000_123_456, tags: ["a", "Ünïcødé 🚀", ""], metadata: #"{"a": {"b": [1, 2.5, null, "x"]}, "z": true}"#,
                payload: [0, 0xFF, 0x10]),
            Row(key: Array(repeating: 0xAB, count: 16), name: "名前 🛒", campaign: nil, count: Int32.min, big: Int64.min,
                micros: -1, tags: [], metadata: nil, payload: []),
            Row(key: Array(repeating: 0, count: 16), name: "", campaign: "", count: 0, big: 0,
                micros: 0, tags: ["with,comma", "with\"quote", "{brace}", "NULL"], metadata: "[]", payload: Array(repeating: 7, count: 3000)),
        ]
        try await ScratchDatabase.with(prefix: "store_test") { database in
            let connection = try PostgresConnection(url: database.url)
            try connection.executeScript("""
                CREATE TABLE t (k uuid, name text, campaign text, n int4, big int8, ts timestamptz,
                                tags text[], metadata jsonb, payload bytea, flag bool, d float8, s int2)
                """)
            var writer = CopyBinaryWriter()
            for row in rows {
                writer.beginRow(fieldCount: 12)
                writer.uuid(row.key)
                writer.text(row.name)
                writer.text(row.campaign)
                writer.int4(row.count)
                writer.int8(row.big)
                writer.timestamp(unixMicros: row.micros)
                writer.textArray(row.tags)
                if let metadata = row.metadata { writer.jsonb(Array(metadata.utf8)) } else { writer.null() }
                writer.bytea(row.payload)
                writer.bool(row.count < 0)
                writer.float8(Double(row.count) / 4)
                writer.int2(-2)
            }
            #expect(writer.rowCount == 3)
            let copied = try connection.copyIn("COPY t FROM STDIN (FORMAT binary)", writer.finish())
            #expect(copied == 3)

            let result = try connection.execute("""
                SELECT k::text, name, campaign, n, big, (extract(epoch FROM ts) * 1000000)::int8, tags,
                       metadata = $1::jsonb, metadata::text, payload, flag, d, s, cardinality(tags)
                FROM t ORDER BY big DESC
                """, [rows[0].metadata])
            #expect(result.rowCount == 3)
            #expect(result.string(0, 0) == "00010203-0405-0607-0809-0a0b0c0d0e0f")
            #expect(result.string(2, 0) == "abababab-abab-abab-abab-abababababab")
            for (index, row) in [(0, rows[0]), (1, rows[2]), (2, rows[1])] {
                #expect(result.string(index, 1) == row.name)
                #expect(result.string(index, 2) == row.campaign)
                #expect(result.int64(index, 3) == Int64(row.count))
                #expect(result.int64(index, 4) == row.big)
                #expect(result.int64(index, 5) == row.micros)
                #expect(result.bytea(index, 9) == row.payload)
                #expect(result.bool(index, 10) == (row.count < 0))
                #expect(result.double(index, 11) == Double(row.count) / 4)
                #expect(result.int64(index, 12) == -2)
                #expect(result.int(index, 13) == row.tags.count)
            }
            #expect(result.bool(0, 7) == true)
            #expect(result.isNull(2, 8))
            #expect(result.string(1, 8) == "[]")

            // Arrays element by element, and microsecond timestamps exactly, compared in SQL.
            let tags = try connection.execute("SELECT name, u.tag, u.ord FROM t, unnest(tags) WITH ORDINALITY AS u(tag, ord) ORDER BY name, u.ord")
            let expected = rows.sorted { $0.name < $1.name }.flatMap { row in row.tags.map { [row.name, $0] } }
            #expect(tags.rows.map { [$0[0]!, $0[1]!] } == expected)
            let exact = try connection.execute("SELECT count(*) FROM t WHERE ts = '2025-11-29 21:00:00.123456+00' OR ts = '1969-12-31 23:59:59.999999+00' OR ts = 'epoch'")
            #expect(exact.int(0, 0) == 3)
        }
    }

    @Test func streamedCopyAndAbortedCopy() async throws {
        try await ScratchDatabase.with(prefix: "store_test") { database in
            let connection = try PostgresConnection(url: database.url)
            try connection.executeScript("CREATE TABLE t (n int8, s text)")
            var writer = CopyBinaryWriter()
            let copied = try connection.copyIn("COPY t FROM STDIN (FORMAT binary)") { stream in
                for n in 0..<50_000 {
                    writer.beginRow(fieldCount: 2)
                    writer.int8(Int64(n))
                    writer.text("row \(n)")
                    if writer.bufferedByteCount > 100_000 { try stream.send(writer.takeBuffered()) }
                }
                try stream.send(writer.finish())
            }
            #expect(copied == 50_000)
            #expect(try connection.execute("SELECT sum(n) FROM t").int64(0, 0) == Int64(49_999 * 50_000 / 2))

            struct Stop: Error {}
            #expect(throws: Stop.self) {
                try connection.copyIn("COPY t FROM STDIN") { stream in
                    try stream.send(Array("1\tx\n".utf8))
                    throw Stop()
                }
            }
            #expect(try connection.execute("SELECT count(*) FROM t").int(0, 0) == 50_000)
            #expect(connection.transactionStatus == .idle)

            // Bad data: the server's error comes back as copyFailed, the connection stays usable.
            #expect {
                try connection.copyIn("COPY t FROM STDIN (FORMAT binary)", Array("not binary copy".utf8))
            } throws: { ($0 as? PostgresError)?.code == .copyFailed && ($0 as? PostgresError)?.sqlState != nil }
            #expect {
                try connection.copyIn("SELECT 1", [])
            } throws: { ($0 as? PostgresError)?.code == .copyFailed }
            #expect(try connection.execute("SELECT count(*) FROM t").int(0, 0) == 50_000)

            // Text COPY works too.
            #expect(try connection.copyIn("COPY t FROM STDIN", Array("1\tone\n2\t\\N\n".utf8)) == 2)
        }
    }
}
