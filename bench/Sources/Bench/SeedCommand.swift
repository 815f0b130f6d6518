import ArgumentParser
import Foundation
import Logging
import Store

/// `bench seed`: loads a large synthetic data set straight into PostgreSQL (20M events over 30 days
/// by default; the suite also uses 100M over 180 days), for the metrics benchmarks.
///
/// The whole load is one transaction: users first (committed on their own, idempotent), then the
/// indexes of `events` dropped (primary key and unique key included), the rows COPYed in binary, the
/// indexes and constraints rebuilt and any other after-load step run, then COMMIT. An interrupted or failed seed therefore leaves the table as it was, with its
/// indexes. While it runs it holds an exclusive lock on `events`, so run it with the service stopped
/// (or expect the replayer and metrics queries to wait).
struct SeedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed",
        abstract: "Load N synthetic events over the last D days into PostgreSQL with binary COPY.",
        discussion: """
            Rows follow bench load's mix (event names 60/25/10/5 %, channels, campaigns, user_0…user_99999) \
            with random uuid keys and node_id 'seed', spread evenly over the last D days in time order. \
            The schema migrations are applied first. Progress and an ETA go to stderr.
            """
    )

    @Option(name: .singleOrDoubleDash("rows"), help: "Events to load.")
    var rows = 20_000_000

    @Option(name: .singleOrDoubleDash("days"), help: "Spread them over this many days up to now.")
    var days = 30

    @OptionGroup var database: BenchDatabaseOptions

    @Option(name: .singleOrDoubleDash("batch-rows"), help: "Rows per COPY statement (the unit the generator hands to the loader).")
    var batchRows = 50_000

    @Option(name: .singleOrDoubleDash("generator-threads"), help: "Threads encoding rows while one connection COPYs them.")
    var generatorThreads = 1

    /// Whether to drop the indexes of `events` for the load and rebuild them after.
    enum IndexMode: String, ExpressibleByArgument, CaseIterable {
        /// Drop them when the load is large next to what the table holds: a rebuild covers the whole
        /// table, so adding a few rows to a big table is faster with the indexes kept.
        case auto
        case drop
        case keep
    }

    @Option(name: .singleOrDoubleDash("indexes"), help: "drop: drop the indexes (primary key, unique key, events_name_ts) for the load and rebuild them after; keep: maintain them row by row; auto: drop unless the table already holds over 4× the rows being loaded.")
    var indexes = IndexMode.auto

    @Flag(name: .singleOrDoubleDash("skip-vacuum"), help: "Only ANALYZE at the end, no VACUUM (index-only scans then visit the heap until autovacuum runs).")
    var skipVacuum = false

    @Flag(name: .singleOrDoubleDash("json"), help: "Print the summary as one JSON object on stdout.")
    var json = false

    func validate() throws {
        guard rows >= 1 else { throw ValidationError("--rows must be ≥ 1") }
        guard (1...3650).contains(days) else { throw ValidationError("--days must be 1…3650") }
        guard (100...5_000_000).contains(batchRows) else { throw ValidationError("--batch-rows must be 100…5000000") }
        guard (1...16).contains(generatorThreads) else { throw ValidationError("--generator-threads must be 1…16") }
    }

    func run() throws {
        let started = ContinuousClock.now
        let logger = Logger(label: "bench seed", factory: { StreamLogHandler.standardError(label: $0) })
        try seedPhase("applying schema migrations") {
            _ = try SchemaMigrations.apply(url: database.databaseURL, logger: logger)
        }
        let connection = try PostgresConnection(url: database.databaseURL, applicationName: "bench seed")
        defer { connection.close() }
        // Sorts for the index rebuild stay in memory; the machine has the RAM and the build is the long pole.
        try connection.executeScript("SET maintenance_work_mem = '1GB'")

        let uids = try seedPhase("users user_0…user_\(EventCatalog.userCount - 1)") {
            try SeedSteps.ensureUsers(connection, count: EventCatalog.userCount)
        }
        let window = SeedTimeWindow(
            endingAtUnixMicros: Int64(Date().timeIntervalSince1970 * 1_000_000), days: days, rows: rows)

        var loadSeconds = 0.0
        var loaded = SeedLoadInfo(rows: rows, window: window, idRange: nil, droppedIndexes: [])
        try connection.transaction { connection in
            let idBefore = try SeedSteps.lastEventID(connection)
            var dropped: [SeedRebuiltIndex] = []
            if try dropIndexes(connection) {
                dropped = try SeedRebuiltIndex.list(connection)
                if !dropped.isEmpty {
                    try seedPhase(
                        "dropping \(dropped.map(\.name).joined(separator: ", ")) for the load",
                        why: "rebuilt after the rows: building an index once is much faster than maintaining it per row"
                    ) {
                        // Fail rather than hang when a running service holds the table.
                        try connection.executeScript("SET LOCAL lock_timeout = '30s'")
                        for index in dropped { try index.drop(connection) }
                    }
                }
            }
            let loadStart = ContinuousClock.now
            printToStandardError("seed: loading \(BenchFormat.count(rows)) events over \(days) day\(days == 1 ? "" : "s") (binary COPY, \(generatorThreads) generator thread\(generatorThreads == 1 ? "" : "s"))")
            try load(connection, uids: uids, window: window)
            loadSeconds = BenchClock.seconds(since: loadStart)

            let idAfter = try SeedSteps.lastEventID(connection)
            let info = SeedLoadInfo(
                rows: rows, window: window, idRange: idAfter > idBefore ? (idBefore + 1)...idAfter : nil,
                droppedIndexes: dropped)
            for step in try SeedSteps.afterLoad(info, on: connection) {
                try seedPhase(step.title, why: step.why) { try step.run(connection, info) }
            }
            loaded = info
            printToStandardError("seed: committing")
        }
        for step in SeedSteps.maintenance(skipVacuum: skipVacuum) {
            try seedPhase(step.title, why: step.why) { try step.run(connection, loaded) }
        }

        let summary = SeedSummary(
            rows: rows, days: days, loadSeconds: loadSeconds, totalSeconds: BenchClock.seconds(since: started),
            generatorThreads: generatorThreads, batchRows: batchRows, indexesRebuilt: loaded.droppedIndexes.map(\.name))
        try summary.report(json: json)
    }

    /// Resolves `--indexes auto` from the table's estimated size (`reltuples`, −1 before the first ANALYZE).
    private func dropIndexes(_ connection: PostgresConnection) throws -> Bool {
        switch indexes {
        case .drop: return true
        case .keep: return false
        case .auto:
            let existing = try connection.execute("SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = 'events'::regclass").int(0, 0) ?? 0
            if existing <= rows * 4 { return true }
            printToStandardError("seed: keeping the indexes: events already holds ~\(BenchFormat.count(existing)) rows, and rebuilding them all would cost more than maintaining them for \(BenchFormat.count(rows)) new ones")
            return false
        }
    }

    /// Streams the rows through the pipeline, one COPY statement per chunk, with a progress bar.
    private func load(_ connection: PostgresConnection, uids: [Int32], window: SeedTimeWindow) throws {
        let rows = self.rows, batchRows = self.batchRows
        let seeds = (0..<generatorThreads).map { _ in UInt64.random(in: .min ... .max) }
        let pipeline = SeedPipeline(
            chunkCount: (rows + batchRows - 1) / batchRows, threads: generatorThreads, capacity: generatorThreads + 2
        ) { thread in
            var encoder = SeedRowEncoder(seed: seeds[thread], uids: uids, window: window)
            return { chunk in
                let range = (chunk * batchRows)..<min(rows, (chunk + 1) * batchRows)
                return SeedPipeline.Chunk(index: chunk, rows: range.count, bytes: encoder.encode(rows: range))
            }
        }
        var progress = SeedProgress(total: rows)
        var done = 0
        do {
            while let chunk = pipeline.take() {
                try connection.copyIn(SeedRowEncoder.copyStatement, chunk.bytes)
                done += chunk.rows
                progress.update(done: done, force: done == rows)
            }
        } catch {
            pipeline.cancel()
            if done < rows { printToStandardError("") }
            throw error
        }
    }
}

/// The seed's result; `--json` prints it as one object.
struct SeedSummary: BenchResult {
    var rows: Int
    var days: Int
    /// The COPY phase alone.
    var loadSeconds: Double
    /// Everything: migrations, users, load, index rebuild, commit, vacuum.
    var totalSeconds: Double
    var generatorThreads: Int
    var batchRows: Int
    var indexesRebuilt: [String]

    var loadRowsPerSecond: Double { loadSeconds > 0 ? (Double(rows) / loadSeconds).rounded() : 0 }
    var rowsPerSecond: Double { totalSeconds > 0 ? (Double(rows) / totalSeconds).rounded() : 0 }

    private enum CodingKeys: String, CodingKey {
        case rows, days, loadSeconds, totalSeconds, generatorThreads, batchRows, indexesRebuilt, loadRowsPerSecond, rowsPerSecond
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(rows, forKey: .rows)
        try c.encode(days, forKey: .days)
        try c.encode((loadSeconds * 10).rounded() / 10, forKey: .loadSeconds)
        try c.encode((totalSeconds * 10).rounded() / 10, forKey: .totalSeconds)
        try c.encode(generatorThreads, forKey: .generatorThreads)
        try c.encode(batchRows, forKey: .batchRows)
        try c.encode(indexesRebuilt, forKey: .indexesRebuilt)
        try c.encode(loadRowsPerSecond, forKey: .loadRowsPerSecond)
        try c.encode(rowsPerSecond, forKey: .rowsPerSecond)
    }

    var text: String {
        """
        seed: \(BenchFormat.count(rows)) events over \(days) day\(days == 1 ? "" : "s")
          load (COPY)   \(BenchFormat.duration(seconds: loadSeconds)), \(BenchFormat.count(loadRowsPerSecond)) rows/s
          total         \(BenchFormat.duration(seconds: totalSeconds)), \(BenchFormat.count(rowsPerSecond)) rows/s (with index rebuild and vacuum)
          indexes       \(indexesRebuilt.isEmpty ? "kept during the load" : "rebuilt: " + indexesRebuilt.joined(separator: ", "))
        """
    }
}
