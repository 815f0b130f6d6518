import Store

/// Whether the rollups cover every row of `events` (the `rollup_status` row of `0002_rollups.sql`).
///
/// False after migrating a database that already held events, or after a replayer ran with rollup
/// maintenance switched off; /metrics then answers from raw SQL, which is slow but exact, until a full
/// `rollups rebuild` sets it back to true.
public enum RollupStatus {
    public static let selectComplete = "SELECT complete FROM rollup_status"

    public static func isComplete(on connection: PostgresConnection) throws -> Bool {
        let result = try connection.execute(selectComplete)
        return result.rowCount == 1 && result.bool(0, 0) == true
    }

    /// Records the new state (a no-op write when it is already so).
    public static func setComplete(_ complete: Bool, on connection: PostgresConnection) throws {
        try connection.execute(
            "UPDATE rollup_status SET complete = $1::boolean, updated_at = now() WHERE complete IS DISTINCT FROM $1::boolean",
            [complete ? "true" : "false"])
    }
}
