import Store

/// How a ``MetricsRequest`` is computed.
public enum MetricsStrategy: String, Sendable, CaseIterable {
    /// Rollup bitmaps for whole days and hours, raw rows only for partial hours (what /metrics uses).
    case rollups
    /// One scan of `events` (``MetricsPlanner``): the reference the rollups must equal, and the
    /// benchmark baseline.
    case plainSQL = "plain-sql"
}

/// Runs a request on one connection (blocking; call it on a pool thread).
public enum MetricsComputation {
    /// With ``MetricsStrategy/rollups``, one statement (``RollupMetricsQuery``) reads the rollup rows,
    /// the raw partial hours and `rollup_status`, so the parts come from one snapshot. While
    /// `rollup_status.complete` is false (events that predate the rollups, not yet rebuilt) the answer
    /// comes from plain SQL instead: slow but never wrong.
    public static func run(_ request: MetricsRequest, strategy: MetricsStrategy, on connection: PostgresConnection) throws -> MetricsResult {
        if strategy == .rollups, let result = try fromRollups(request, on: connection) { return result }
        return try MetricsExecutor.run(MetricsPlanner.plan(request), on: connection)
    }

    /// Nil when the rollups are incomplete.
    static func fromRollups(_ request: MetricsRequest, on connection: PostgresConnection) throws -> MetricsResult? {
        let query = RollupMetricsQuery(request: request, split: MetricsWindowSplit(fromMicros: request.fromMicros, toMicros: request.toMicros))
        let rows = try query.fetch(on: connection)
        guard rows.complete else { return nil }
        var fold = RollupMetricsFold(groupBy: request.groupBy)
        do {
            for row in rows.days { try fold.add(row, isDay: true) }
            for row in rows.hours { try fold.add(row, isDay: false) }
        } catch {
            throw PostgresError(code: .queryFailed, message: "a rollup row holds an unreadable users bitmap (\(error)); run `rollups verify` and `rollups rebuild`")
        }
        for group in rows.raw { fold.add(group) }
        return fold.result()
    }
}
