import TestSupport
import Testing
@testable import Store

/// `executePrepared`: prepared once per connection, then executed with new values; binary arrays.
@Suite struct PreparedStatementTests {
    @Test func preparesOnceAndRunsWithNewValues() throws {
        let connection = try PostgresConnection(url: ScratchDatabase.defaultURL)
        defer { connection.close() }
        let sql = "SELECT $1::int8 + 1, $2::text || '!'"
        for value in [1, 41, -7] as [Int64] {
            let result = try connection.executePrepared(sql, parameters: [.int8(value), .text("v\(value)")], resultFormat: .binary)
            #expect(result.int64(0, 0) == value + 1)
            #expect(result.string(0, 1) == "v\(value)!")
        }
        let count = try connection.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement = $1", [sql]).int(0, 0)
        #expect(count == 1)
    }

    @Test func aStatementThatFailsToPrepareIsNotCached() throws {
        let connection = try PostgresConnection(url: ScratchDatabase.defaultURL)
        defer { connection.close() }
        let sql = "SELECT missing_column FROM pg_class WHERE oid = $1::oid"
        for _ in 0..<2 {
            #expect(throws: PostgresError.self) { try connection.executePrepared(sql, parameters: [.text("1")]) }
        }
        #expect(try connection.executePrepared("SELECT 1", parameters: []).int(0, 0) == 1)
    }

    @Test func binaryArraysRoundTrip() throws {
        let connection = try PostgresConnection(url: ScratchDatabase.defaultURL)
        defer { connection.close() }
        let result = try connection.execute(
            """
            SELECT (SELECT array_agg(u ORDER BY o) FROM unnest($1::int4[]) WITH ORDINALITY AS x(u, o)),
                   array_to_string($2::text[], '|'),
                   (SELECT string_agg(extract(epoch FROM t)::int8::text, ',') FROM unnest($3::timestamptz[]) t)
            """,
            parameters: [PostgresBinaryArray.int4([3, -1, 70_000]), PostgresBinaryArray.text(["a", "é", ""]), PostgresBinaryArray.timestamptz(seconds: [0, 1_764_374_400])],
            resultFormat: .binary)
        #expect(result.bytes(0, 0).flatMap(PostgresBinaryArray.decodeInt4) == [3, UInt32(bitPattern: -1), 70_000])
        #expect(result.string(0, 1) == "a|é|")
        #expect(result.string(0, 2) == "0,1764374400")
        #expect(PostgresBinaryArray.decodeInt4([1, 2, 3]) == nil)
    }
}
