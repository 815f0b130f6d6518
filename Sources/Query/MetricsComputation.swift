import Bitmaps
import Rollups
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
    /// Every statement of one answer runs in one `REPEATABLE READ` snapshot: rollups and raw rows are
    /// committed together by the replayer, so the parts always add up to one moment's data.
    ///
    /// With ``MetricsStrategy/rollups``, while `rollup_status.complete` is false (events that predate
    /// the rollups, not yet rebuilt) the answer comes from plain SQL instead: slow but never wrong.
    public static func run(_ request: MetricsRequest, strategy: MetricsStrategy, on connection: PostgresConnection) throws -> MetricsResult {
        try connection.transaction { connection in
            let status = try connection.executeScript(
                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; \(RollupStatus.selectComplete)")
            let complete = status.rowCount == 1 && status.bool(0, 0) == true
            guard strategy == .rollups, complete else {
                return try MetricsExecutor.run(MetricsPlanner.plan(request), on: connection)
            }
            return try fromRollups(request, on: connection)
        }
    }

    static func fromRollups(_ request: MetricsRequest, on connection: PostgresConnection) throws -> MetricsResult {
        let query = RollupMetricsQuery(request: request, split: MetricsWindowSplit(fromMicros: request.fromMicros, toMicros: request.toMicros))
        var fold = RollupMetricsFold(groupBy: request.groupBy)
        do {
            for row in try query.daily(on: connection) { try fold.add(row, isDay: true) }
            for row in try query.hourly(on: connection) { try fold.add(row, isDay: false) }
        } catch let error as BitmapError {
            throw PostgresError(code: .queryFailed, message: "a rollup row holds an unreadable users bitmap (\(error)); run `rollups verify` and `rollups rebuild`")
        }
        for group in try query.raw(on: connection) { fold.add(group) }
        return fold.result()
    }
}
