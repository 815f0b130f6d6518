import AsyncHTTPClient
import Foundation
import Store
import TestSupport
import Testing

/// The real binary killed (SIGKILL) while its replay transaction sits between the day rollups and the
/// day blocks: a trigger on `rollup_blocks` holds the first block write in `pg_sleep`, after the
/// batch's events, hours and days were written. Nothing of that transaction may survive, and after a
/// restart on the same WAL every level must equal raw SQL (`rollups verify` of the same binary).
@Suite("serve killed before the block update (process)")
struct ReplayKillBeforeBlocksTests {
    @Test(.timeLimit(.minutes(3)))
    func killedMidTransactionThenRestartedLeavesEveryLevelExact() async throws {
        try await ScratchDatabase.with(prefix: "serve_kill", migrate: true) { database in
            let admin = try PostgresConnection(url: database.url)
            defer { admin.close() }
            // The first block write sleeps: the transaction holds the batch's events, hours and days.
            try installBlockFault(strike: "PERFORM pg_sleep(600)", times: 1, databaseURL: database.url)
            let work = FileManager.default.temporaryDirectory.appendingPathComponent("serve-kill-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: work) }
            let http = HTTPClient.shared
            func start(_ name: String) throws -> (ServiceProcess, String) {
                let port = try ChildProcess.freePort()
                let service = try ServiceProcess(
                    arguments: [
                        "serve", "--port", "\(port)", "--admin-port", "0", "--wal-dir", work + "/wal", "--database-url", database.url,
                        "--node-id", "kill-test", "--log-level", "warning",
                    ],
                    environment: ProcessInfo.processInfo.environment.filter { !$0.key.hasSuffix("API_KEYS") }, logPath: work + "/\(name).log")
                return (service, "http://127.0.0.1:\(port)")
            }

            // 600 late events over the last 200 days, in no time order.
            let now = Int64(Date().timeIntervalSince1970)
            var random = SplitMix64(seed: 17)
            let body = (0..<600).map { i in
                EventFactory.json(
                    user: "user_\(random.next() % 120)", name: "purchase", channel: ["web", "app", "api"][Int(random.next() % 3)],
                    timestamp: now - 3_600 - Int64(random.next() % (200 * 86_400)), key: "kill-\(i)")
            }.joined(separator: "\n")

            let (first, api) = try start("first")
            do {
                try await ServeProcessTests.waitUntilUp(http, api + "/health", service: first)
                let accepted = try await ServeProcessTests.send(http, "POST", api + "/events/bulk", body: Data(body.utf8), contentType: "application/x-ndjson")
                #expect(accepted.status == 202)
                // The replayer's first transaction reaches the blocks and waits in the trigger.
                let deadline = ContinuousClock.now + .seconds(60)
                var sleeping: String?
                while sleeping == nil, ContinuousClock.now < deadline {
                    sleeping = try admin.execute(
                        "SELECT pid::text FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'PgSleep'").rows.first?.first ?? nil
                    if sleeping == nil { try await Task.sleep(for: .milliseconds(50)) }
                }
                let pid = try #require(sleeping, "the replay transaction never reached the block update")
                first.signal(SIGKILL)
                #expect(try await first.waitForExit(timeout: .seconds(10)) == 128 + SIGKILL)
                // Its events, hours and days are written but not committed: none visible.
                #expect(try admin.execute("SELECT count(*) FROM events").int64(0, 0) == 0)
                #expect(try admin.execute("SELECT count(*) FROM rollup_daily").int64(0, 0) == 0)
                // PostgreSQL notices a dead client only when it next talks to it: end the orphan.
                _ = try admin.execute("SELECT pg_terminate_backend($1::int)", [pid])
            } catch {
                await first.kill()
                Issue.record("log:\n\(first.log)")
                throw error
            }

            // Restarted on the same WAL: the acknowledged events are replayed once, every level exact.
            let (second, api2) = try start("second")
            do {
                try await ServeProcessTests.waitUntilUp(http, api2 + "/health", service: second)
                try await ServeProcessTests.waitForReplay(http, api2 + "/ready", inserted: 600)
                second.signal(SIGTERM)
                #expect(try await second.waitForExit(timeout: .seconds(30)) == 0)
            } catch {
                await second.kill()
                Issue.record("log:\n\(second.log)")
                throw error
            }
            #expect(try admin.execute("SELECT count(*) FROM events").int64(0, 0) == 600)
            #expect(try admin.execute("SELECT count(DISTINCT level), sum(total) FILTER (WHERE level = 8 AND channel = '') FROM rollup_blocks").rows.first == ["8", "600"])
            let verify = try ChildProcess.spawn(
                try ServiceProcess.binary(), arguments: ["rollups", "verify", "--database-url", database.url],
                environment: ProcessInfo.processInfo.environment, stdoutPath: work + "/verify.log", stderrPath: work + "/verify.log")
            let status = try await offload { ChildProcess.waitForExit(verify) }
            #expect(status == 0, "rollups verify: \((try? String(contentsOfFile: work + "/verify.log", encoding: .utf8)) ?? "")")
        }
    }
}
