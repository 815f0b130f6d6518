import Foundation
import Logging
import TestSupport
import Testing
@testable import Store

@Suite struct PoolTests {
    let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    static func uniqueApplicationName() -> String { "pool-test-\(UInt32.random(in: 0...UInt32.max))" }

    static func backends(named applicationName: String) throws -> Int {
        let admin = try PostgresConnection(url: ScratchDatabase.defaultURL, applicationName: "pool-test-admin")
        return try admin.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", [applicationName]).int(0, 0) ?? -1
    }

    @Test func boundsConcurrency() async throws {
        let name = Self.uniqueApplicationName()
        let pool = PostgresPool(url: ScratchDatabase.defaultURL, size: 2, applicationName: name, logger: logger)
        let inFlight = Shared((now: 0, peak: 0))
        let seenBackends = Shared(0)
        try await withThrowingTaskGroup(of: Int32.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    try await pool.withConnection { connection in
                        inFlight.withLock { $0.now += 1; $0.peak = max($0.peak, $0.now) }
                        defer { inFlight.withLock { $0.now -= 1 } }
                        let result = try connection.execute(
                            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND pg_sleep(0.02) IS NOT NULL", [name])
                        seenBackends.withLock { $0 = max($0, result.int(0, 0) ?? 99) }
                        return connection.backendPID
                    }
                }
            }
            var pids = Set<Int32>()
            for try await pid in group { pids.insert(pid) }
            #expect(pids.count <= 2)
        }
        #expect(inFlight.withLock { $0.peak } <= 2)
        #expect(seenBackends.withLock { $0 } <= 2)
        #expect(pool.statistics.peakOpenConnections <= 2)
        #expect(pool.statistics.connectionsOpened <= 2)
        await pool.shutdown()
        #expect(pool.statistics.openConnections == 0)
    }

    @Test func appliesStatementTimeoutAndMapsIt() async throws {
        let pool = PostgresPool(url: ScratchDatabase.defaultURL, size: 1, statementTimeoutMilliseconds: 30, logger: logger)
        await #expect {
            try await pool.withConnection { try $0.execute("SELECT pg_sleep(2)") }
        } throws: { ($0 as? PostgresError)?.code == .queryTimeout }
        // The same connection is kept and still works.
        let setting = try await pool.withConnection { try $0.execute("SHOW statement_timeout").string(0, 0) }
        #expect(setting == "30ms")
        #expect(pool.statistics.connectionsOpened == 1)
        await pool.shutdown()
    }

    @Test func recoversAfterBackendsAreTerminated() async throws {
        let name = Self.uniqueApplicationName()
        let pool = PostgresPool(url: ScratchDatabase.defaultURL, size: 2, applicationName: name, logger: logger)
        // Open both connections.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 { group.addTask { _ = try await pool.withConnection { try $0.execute("SELECT pg_sleep(0.05)") } } }
            try await group.waitForAll()
        }
        #expect(pool.statistics.openConnections == 2)

        let admin = try PostgresConnection(url: ScratchDatabase.defaultURL, applicationName: "pool-test-admin")
        let killed = try admin.execute("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1) k", [name])
        #expect(killed.int(0, 0) == 2)
        for _ in 0..<200 where try Self.backends(named: name) > 0 { try await Task.sleep(for: .milliseconds(10)) }

        for _ in 0..<5 {
            let one = try await pool.withConnection { try $0.execute("SELECT 1").int(0, 0) }
            #expect(one == 1)
        }
        #expect(pool.statistics.connectionsDiscarded >= 1)
        #expect(pool.statistics.openConnections <= 2)
        await pool.shutdown()
    }

    @Test func terminatedWhileInUseFailsOnceThenHeals() async throws {
        let name = Self.uniqueApplicationName()
        let pool = PostgresPool(url: ScratchDatabase.defaultURL, size: 1, applicationName: name, logger: logger)
        await #expect {
            try await pool.withConnection { connection in
                let admin = try PostgresConnection(url: ScratchDatabase.defaultURL)
                try admin.execute("SELECT pg_terminate_backend($1)", [String(connection.backendPID)])
                // Wait for the backend to exit, then use the dead connection.
                for _ in 0..<200 where (try admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", [String(connection.backendPID)]).int(0, 0) ?? 0) > 0 {
                    usleep(10_000)
                }
                try connection.execute("SELECT 1")
            }
        } throws: { ($0 as? PostgresError)?.code == .connectionLost }
        #expect(try await pool.withConnection { try $0.execute("SELECT 2").int(0, 0) } == 2)
        await pool.shutdown()
    }

    @Test func unreachableServerFailsFast() async throws {
        // A refused connection fails at once; it must not wait for connect_timeout (60 s here). The
        // bound is loose because parallel tests on two cores delay the awaiting task, not the connect.
        let pool = PostgresPool(url: "postgresql://events@127.0.0.1:1/events", size: 2, connectTimeoutSeconds: 60, logger: logger)
        let started = ContinuousClock.now
        for _ in 0..<3 {
            await #expect {
                try await pool.withConnection { _ in 1 }
            } throws: { ($0 as? PostgresError)?.code == .connectionFailed && ($0 as? PostgresError)?.isUnavailable == true }
        }
        #expect(ContinuousClock.now - started < .seconds(30))
        #expect(pool.statistics.openConnections == 0)
        await pool.shutdown()
    }

    @Test func rollsBackWhatABodyLeftOpen() async throws {
        let pool = PostgresPool(url: ScratchDatabase.defaultURL, size: 1, logger: logger)
        try await pool.withConnection { try $0.executeScript("BEGIN; SELECT 1") }
        let status = try await pool.withConnection { "\($0.transactionStatus)" }
        #expect(status == "idle")
        #expect(pool.statistics.connectionsOpened == 1)
        await pool.shutdown()
    }

    @Test func waitingIsBoundedAndShutdownFailsCallers() async throws {
        let pool = PostgresPool(url: ScratchDatabase.defaultURL, size: 1, acquireTimeout: .milliseconds(100), logger: logger)
        let started = Shared(false)
        let finish = Shared(false)
        // Holds the only connection until the waiting caller has timed out.
        async let long: Void = pool.withConnection { connection in
            started.withLock { $0 = true }
            while !finish.withLock({ $0 }) { usleep(5_000) }
            _ = try connection.execute("SELECT 1")
        }
        while !started.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(5)) }
        await #expect {
            try await pool.withConnection { _ in 1 }
        } throws: { ($0 as? PostgresError)?.code == .poolTimeout }
        finish.withLock { $0 = true }
        try await long
        await pool.shutdown()
        await #expect {
            try await pool.withConnection { _ in 1 }
        } throws: { ($0 as? PostgresError)?.code == .closed }
    }
}
