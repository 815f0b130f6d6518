import TestSupport
import Testing
@testable import Store

@Suite struct TransactionTests {
    struct Boom: Error {}

    @Test func commitsOrRollsBack() async throws {
        try await ScratchDatabase.with(prefix: "store_test") { database in
            let connection = try PostgresConnection(url: database.url)
            try connection.executeScript("CREATE TABLE t (k int PRIMARY KEY)")

            let value = try connection.transaction { tx in
                try tx.execute("INSERT INTO t VALUES (1)")
                return 42
            }
            #expect(value == 42)

            #expect(throws: Boom.self) {
                try connection.transaction { tx in
                    try tx.execute("INSERT INTO t VALUES (2)")
                    throw Boom()
                }
            }
            #expect(connection.transactionStatus == .idle)

            // A statement error inside the body rolls everything back.
            #expect(throws: PostgresError.self) {
                try connection.transaction { tx in
                    try tx.execute("INSERT INTO t VALUES (3)")
                    try tx.execute("INSERT INTO t VALUES (1)")
                }
            }

            // A body that swallows an error must not look committed.
            #expect {
                try connection.transaction { tx in
                    try tx.execute("INSERT INTO t VALUES (4)")
                    _ = try? tx.execute("INSERT INTO t VALUES (1)")
                }
            } throws: { ($0 as? PostgresError)?.message.contains("rolled back") == true }

            // Nested transactions are savepoints: the inner failure keeps the outer work.
            try connection.transaction { tx in
                try tx.execute("INSERT INTO t VALUES (5)")
                _ = try? tx.transaction { inner in
                    try inner.execute("INSERT INTO t VALUES (6)")
                    throw Boom()
                }
                try tx.transaction { inner in try inner.execute("INSERT INTO t VALUES (7)") }
            }
            let keys = try connection.execute("SELECT k FROM t ORDER BY k").rows.map { $0[0]! }
            #expect(keys == ["1", "5", "7"])
            #expect(connection.transactionStatus == .idle)
        }
    }
}
