import Store

/// Whether the rollups cover every row of `events` (the `rollup_status` row of `0002_rollups.sql`).
///
/// False after migrating a database that already held events, or after a replayer ran with rollup
/// maintenance switched off; /metrics then answers from raw SQL, which is slow but exact, until a full
/// `rollups rebuild` sets it back to true.
public enum RollupStatus {
    public static func isComplete(on connection: PostgresConnection) throws -> Bool {
        try flag(.complete, on: connection)
    }

    /// Records the new state (a no-op write when it is already so).
    public static func setComplete(_ complete: Bool, on connection: PostgresConnection) throws {
        try setFlag(.complete, complete, on: connection)
    }

    /// The columns of `rollup_status` (fixed names, never input).
    enum Flag: String {
        case complete
        case levelsComplete = "levels_complete"
        case campaignsComplete = "campaigns_complete"
    }

    static func flag(_ flag: Flag, on connection: PostgresConnection) throws -> Bool {
        let result = try connection.execute("SELECT \(flag.rawValue) FROM rollup_status")
        return result.rowCount == 1 && result.bool(0, 0) == true
    }

    static func setFlag(_ flag: Flag, _ value: Bool, on connection: PostgresConnection) throws {
        let column = flag.rawValue
        try connection.execute(
            "UPDATE rollup_status SET \(column) = $1::boolean, updated_at = now() WHERE \(column) IS DISTINCT FROM $1::boolean",
            [value ? "true" : "false"])
    }
}
