import Rollups
import Store

/// The seed's rollup step: adds the rows it just loaded to `rollup_hourly` and `rollup_daily`, inside
/// the load's transaction, so a seeded database answers /metrics from rollups at once.
///
/// The rows are read back by id range (the load's ids are contiguous and in time order), a million at
/// a time: PostgreSQL groups each chunk by (event name, channel, hour) with `array_agg(uid)`
/// (``RawRollupSource``), and ``RollupWriter`` merges the groups into whatever the tables already
/// hold, the same code the replayer uses, so loading into a database with data keeps it exact.
/// Reading the rows back costs a fraction of the load (measured: see the rollups issue); building
/// bitmaps in the generator threads would save that but couple the generator to the rollup format.
enum SeedRollups {
    static let idsPerChunk: Int64 = 1_000_000

    /// Nil when the database has no rollup tables (a schema older than 0002).
    static func step(on connection: PostgresConnection) throws -> SeedStep? {
        guard try connection.execute("SELECT to_regclass('rollup_status') IS NOT NULL").bool(0, 0) == true else { return nil }
        return SeedStep(
            title: "adding the loaded rows to the rollups",
            why: "so /metrics answers from rollup bitmaps, as it would after the replayer",
            run: { connection, info in try fill(info, on: connection) })
    }

    static func fill(_ info: SeedLoadInfo, on connection: PostgresConnection) throws {
        guard let ids = info.idRange else { return }
        try connection.executeScript("SET LOCAL work_mem = '256MB'")
        var progress = SeedProgress(total: Int(ids.upperBound - ids.lowerBound + 1))
        var start = ids.lowerBound
        while start <= ids.upperBound {
            let end = min(start + idsPerChunk - 1, ids.upperBound)
            var deltas = RollupDeltas()
            try RawRollupSource.fold(ids: start...end, into: &deltas, on: connection)
            try RollupWriter.merge(deltas, on: connection)
            progress.update(done: Int(end - ids.lowerBound + 1), force: end == ids.upperBound)
            start = end + 1
        }
        try connection.executeScript("ANALYZE rollup_hourly, rollup_daily")
    }
}
