import Foundation
import TestSupport
import Testing
@testable import Store

@Suite struct ConnectionTests {
    @Test func connectFailureIsConnectionFailedAndFast() throws {
        let started = ContinuousClock.now
        let error = try #require(throws: PostgresError.self, "connected to a closed port") {
            try PostgresConnection(url: "postgresql://events@127.0.0.1:1/events", connectTimeoutSeconds: 2)
        }
        #expect(error.code == .connectionFailed)
        #expect(error.message.contains("could not connect to PostgreSQL"))
        #expect(error.message.contains("127.0.0.1"))
        #expect(error.isUnavailable)
        #expect(ContinuousClock.now - started < .seconds(3))
    }

    @Test func malformedURLIsConnectionFailed() {
        #expect(throws: PostgresError.self) { try PostgresConnection(url: "postgresql://[bad") }
    }

    @Test func parametersCarryUnicodeQuotesAndNull() throws {
        let connection = try PostgresConnection(url: ScratchDatabase.defaultURL)
        let text = "héllo 🌍 'quoted' \"double\" \\ back; DROP TABLE x; --"
        let result = try connection.execute("SELECT $1::text AS a, $2::text AS b, $3::int8 AS c, length($1) AS n", [text, nil, "-42"])
        #expect(result.columns == ["a", "b", "c", "n"])
        #expect(result.rowCount == 1)
        #expect(result.string(0, 0) == text)
        #expect(result.isNull(0, 1))
        #expect(result.string(0, 1) == nil)
        #expect(result.int64(0, 2) == -42)
        #expect(result.int(0, 3) == text.count)
        #expect(result.rows == [[text, nil, "-42", String(text.count)]])
    }

    @Test func nulCharacterInParameterIsRejectedClearly() throws {
        let connection = try PostgresConnection(url: ScratchDatabase.defaultURL)
        #expect(throws: PostgresError.self) { try connection.execute("SELECT $1::text", ["a\u{0}b"]) }
        #expect(try connection.execute("SELECT 1").int(0, 0) == 1)
    }

    @Test func syntaxErrorIsQueryFailedWithSQLState() throws {
        let connection = try PostgresConnection(url: ScratchDatabase.defaultURL)
        let error = try #require(throws: PostgresError.self) { try connection.execute("SELEC 1") }
        #expect(error.code == .queryFailed)
        #expect(error.sqlState == "42601")
        #expect(error.message.contains("syntax error"))
        #expect(error.query == "SELEC 1")
        #expect(!error.isUnavailable)
        // The connection stays usable.
        #expect(connection.isHealthy)
        #expect(try connection.execute("SELECT 2").int(0, 0) == 2)
    }

    @Test func statementTimeoutIsQueryTimeout() throws {
        let connection = try PostgresConnection(url: ScratchDatabase.defaultURL)
        try connection.setStatementTimeout(milliseconds: 50)
        let error = try #require(throws: PostgresError.self, "no timeout") { try connection.execute("SELECT pg_sleep(5)") }
        #expect(error.code == .queryTimeout)
        #expect(error.sqlState == "57014")
        #expect(error.message.contains("statement timeout"))
        try connection.setStatementTimeout(milliseconds: nil)
        #expect(try connection.execute("SHOW statement_timeout").string(0, 0) == "0")
    }

    @Test func uniqueViolationHasItsOwnCode() async throws {
        try await ScratchDatabase.with(prefix: "store_test") { database in
            let connection = try PostgresConnection(url: database.url)
            try connection.executeScript("CREATE TABLE t (k int PRIMARY KEY)")
            try connection.execute("INSERT INTO t VALUES ($1)", ["1"])
            #expect {
                try connection.execute("INSERT INTO t VALUES ($1)", ["1"])
            } throws: { ($0 as? PostgresError)?.code == .uniqueViolation && ($0 as? PostgresError)?.sqlState == "23505" }
        }
    }

    @Test func closedConnectionThrowsClosed() throws {
        let connection = try PostgresConnection(url: ScratchDatabase.defaultURL)
        connection.close()
        connection.close()
        #expect(!connection.isHealthy)
        #expect { try connection.execute("SELECT 1") } throws: { ($0 as? PostgresError)?.code == .closed }
    }

    @Test func terminatedBackendIsConnectionLost() throws {
        let victim = try PostgresConnection(url: ScratchDatabase.defaultURL)
        let killer = try PostgresConnection(url: ScratchDatabase.defaultURL)
        try killer.execute("SELECT pg_terminate_backend($1)", [String(victim.backendPID)])
        // Termination is asynchronous; wait until the backend is gone.
        for _ in 0..<100 {
            let left = try killer.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", [String(victim.backendPID)])
            if left.int(0, 0) == 0 { break }
            usleep(10_000)
        }
        #expect { try victim.execute("SELECT 1") } throws: { ($0 as? PostgresError)?.code == .connectionLost }
        #expect(!victim.isHealthy)
    }

    @Test func refreshHealthNoticesATerminatedIdleConnection() throws {
        let victim = try PostgresConnection(url: ScratchDatabase.defaultURL)
        #expect(victim.refreshHealth())
        let killer = try PostgresConnection(url: ScratchDatabase.defaultURL)
        try killer.execute("SELECT pg_terminate_backend($1)", [String(victim.backendPID)])
        var healthy = true
        for _ in 0..<200 where healthy {
            healthy = victim.refreshHealth()
            if healthy { usleep(10_000) }
        }
        #expect(!healthy)
    }

    @Test func byteaReadsAsRawBytesInBothFormats() throws {
        let connection = try PostgresConnection(url: ScratchDatabase.defaultURL)
        let bytes: [UInt8] = [0, 1, 0x7F, 0x80, 0xFF, 0x5C, 0x78]
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        let sql = "SELECT decode($1, 'hex') AS b, $2::int4 AS i4, $3::int8 AS i8, $4::int2 AS i2, true AS t, 1.5::float8 AS d, NULL::bytea AS n"
        let text = try connection.execute(sql, [hex, "-7", "-9000000000", "-3"])
        #expect(text.bytea(0, 0) == bytes)
        #expect(text.int64(0, 1) == -7)
        #expect(text.int64(0, 2) == -9_000_000_000)
        #expect(text.bool(0, 4) == true)
        #expect(text.double(0, 5) == 1.5)
        let binary = try connection.executeBinary(sql, [hex, "-7", "-9000000000", "-3"])
        #expect(binary.format == .binary)
        #expect(binary.bytea(0, 0) == bytes)
        #expect(binary.int64(0, 1) == -7)
        #expect(binary.int64(0, 2) == -9_000_000_000)
        #expect(binary.int64(0, 3) == -3)
        #expect(binary.bool(0, 4) == true)
        #expect(binary.double(0, 5) == 1.5)
        #expect(binary.bytea(0, 6) == nil)
        #expect(binary.columnTypes[0] == PostgresType.bytea)
        // A binary parameter goes in unchanged.
        let echoed = try connection.execute("SELECT $1::bytea", parameters: [.bytea(bytes)], resultFormat: .binary)
        #expect(echoed.bytea(0, 0) == bytes)
    }

    @Test func scriptRunsSeveralStatementsAndReportsAffectedRows() async throws {
        try await ScratchDatabase.with(prefix: "store_test") { database in
            let connection = try PostgresConnection(url: database.url)
            try connection.executeScript("CREATE TABLE t (k int); INSERT INTO t VALUES (1), (2), (3);")
            let update = try connection.execute("UPDATE t SET k = k + 1 WHERE k >= $1", ["2"])
            #expect(update.affectedRows == 2)
            #expect(update.commandTag == "UPDATE 2")
            #expect(try connection.execute("SELECT current_setting('TimeZone')").string(0, 0) == "UTC")
        }
    }

    @Test func sessionTimeZoneIsAlwaysUTC() throws {
        // Even when the URL asks for another zone: hour and day buckets rely on it.
        let connection = try PostgresConnection(url: ScratchDatabase.defaultURL + "?options=-c%20TimeZone%3DAsia%2FTokyo")
        #expect(try connection.execute("SHOW TimeZone").string(0, 0) == "UTC")
        #expect(try connection.execute("SELECT date_trunc('day', '2025-11-29T20:00:00-05:00'::timestamptz)::text").string(0, 0) == "2025-11-30 00:00:00+00")
    }

    @Test func scratchURLReplacesTheDatabaseName() {
        #expect(ScratchDatabase.databaseURL("postgresql://u@h:5432/events?sslmode=disable", name: "x_1") == "postgresql://u@h:5432/x_1?sslmode=disable")
        #expect(ScratchDatabase.databaseURL("host=h dbname=events", name: "x_1") == "host=h dbname=events dbname='x_1'")
    }
}
