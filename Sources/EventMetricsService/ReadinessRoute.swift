import APISupport
import Hummingbird
import Replay
import Store
import WAL

/// Registers `GET /ready`: 200 only when the WAL accepts writes and PostgreSQL answers; the body shows
/// the replay lag either way, so a load balancer and an operator read the same thing.
public func addReadinessRoute<Context: RequestContext>(
    to router: Router<Context>,
    wal: WriteAheadLog,
    replayer: Replayer,
    pool: PostgresPool
) {
    router.get("/ready") { _, _ in
        let walWritable = !wal.isFailed
        let postgresReachable: Bool
        do {
            _ = try await pool.withConnection { try $0.execute("SELECT 1") }
            postgresReachable = true
        } catch {
            postgresReachable = false
        }
        let status = replayer.status()
        let ready = walWritable && postgresReachable
        let body = """
            {"status":"\(ready ? "ready" : "not_ready")",\
            "wal":{"writable":\(walWritable),"unreplayed_bytes":\(status.unreplayedBytes),"unreplayed_records":\(status.unreplayedRecords)},\
            "postgres":{"reachable":\(postgresReachable)},\
            "replay":{"lag_seconds":\(status.lagSeconds),"inserted_events":\(status.insertedEvents),\
            "duplicate_events":\(status.duplicateEvents),"dead_letters":\(status.deadLetters)}}
            """
        var response = Response.json(status: ready ? .ok : .serviceUnavailable, body)
        if !ready { response.headers[.retryAfter] = "5" }
        return response
    }
}
