import APISupport
import Hummingbird
import Replay
import Store
import WAL

/// Registers `GET /ready`: 200 only when the WAL accepts writes and PostgreSQL answers; the body shows
/// the replay lag either way, so a load balancer and an operator read the same thing. `replay.stopped`
/// names the file and offset when strict mode stopped replay on corrupt WAL bytes; ingestion (and so
/// readiness) is not affected by it.
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
            "duplicate_events":\(status.duplicateEvents),"dead_letters":\(status.deadLetters),\
            "stopped":\(stoppedJSON(status.walCorruption))}}
            """
        var response = Response.json(status: ready ? .ok : .serviceUnavailable, body)
        if !ready { response.headers[.retryAfter] = "5" }
        return response
    }
}

/// `null`, or where replay stopped on corrupt WAL bytes.
private func stoppedJSON(_ corruption: WALCorruption?) -> String {
    guard let corruption else { return "null" }
    return #"{"file":\#(jsonString(corruption.file)),"offset":\#(corruption.offset),"reason":\#(jsonString(corruption.reason))}"#
}

private func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
