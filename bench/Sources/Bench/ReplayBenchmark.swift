import ArgumentParser
import Events
import Foundation
import Logging
import Replay
import Store
import TestSupport
import WAL

/// `bench replay`: replay throughput from a pre-filled WAL into PostgreSQL, against plain COPY of the
/// same rows into the same indexed table, in the same run.
///
/// The WAL is filled once with generated events (the bench mix, timestamps rising evenly over the last
/// day: a WAL holds events in arrival order, so their timestamps rise with it; an earlier version cycled
/// through the day every 86,400 events, which made each replay batch touch ~6 hours of rollups where a
/// real one touches one or two). The
/// replayer then drains it into a fresh database; the baseline COPYs the same decoded rows straight
/// into `events` of another fresh database, in transactions of the replayer's batch size. With
/// `--template DB`, both databases start as copies of DB (e.g. one seeded with `bench seed`), to
/// measure replay into a table that already holds millions of rows. With `--rounds`, replay and COPY
/// alternate and the fastest run of each is compared.
struct ReplayBenchmarkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay throughput (WAL → PostgreSQL) against plain COPY of the same rows."
    )

    @Option(help: "Events to put in the WAL.")
    var events = 1_000_000

    @Option(help: "Rounds of replay and COPY, alternating which goes first; the best of each counts (noise only ever slows a run).")
    var rounds = 2

    @Option(help: "WAL directory to fill (default: a temporary directory, removed at the end).")
    var walDir: String?

    @OptionGroup var options: ReplayBenchmarkOptions

    func run() async throws {
        let logger = Logger(label: "bench-replay", factory: { _ in SwiftLogNoOpLogHandler() })
        let directory = walDir ?? NSTemporaryDirectory() + "bench-replay-\(UUID().uuidString)"
        defer { if walDir == nil { try? FileManager.default.removeItem(atPath: directory) } }
        let wal = try await ReplayBenchmarkData.filledWAL(in: directory, events: events, logger: logger)

        var replaySeconds = Double.infinity, copySeconds = Double.infinity
        for round in 1...max(1, rounds) {
            // Alternate which goes first, so neither always gets the fresher machine state.
            for replayFirst in round % 2 == 1 ? [true, false] : [false, true] {
                if replayFirst {
                    replaySeconds = min(replaySeconds, try await replayOnce(wal: wal, round: round, logger: logger))
                } else {
                    let copyDatabase = try ReplayBenchmarkDatabase.create(server: options.database.databaseURL, template: options.template, label: "copy")
                    defer { copyDatabase.drop() }
                    let seconds = try ReplayBenchmarkData.plainCopy(from: wal, into: copyDatabase.url)
                    printToStandardError("round \(round): plain COPY of the same rows in \(BenchFormat.decimal(seconds, places: 1)) s, \(BenchFormat.count(Double(events) / seconds)) rows/s")
                    copySeconds = min(copySeconds, seconds)
                }
            }
        }
        try await wal.close()

        let replayRate = Double(events) / replaySeconds
        let copyRate = Double(events) / copySeconds
        if options.json {
            print(#"{"events":\#(events),"template":"\#(options.template ?? "")","replay_seconds":\#(replaySeconds),"replay_events_per_second":\#(replayRate),"copy_seconds":\#(copySeconds),"copy_rows_per_second":\#(copyRate),"rounds":\#(rounds),"ratio":\#(replayRate / copyRate)}"#)
        } else {
            print("replay \(BenchFormat.count(replayRate)) events/s, plain COPY \(BenchFormat.count(copyRate)) rows/s, replay/COPY = \(BenchFormat.decimal(100 * replayRate / copyRate, places: 1)) %")
        }
    }

    /// Drains the whole WAL into a fresh database; returns seconds.
    private func replayOnce(wal: WriteAheadLog, round: Int, logger: Logger) async throws -> Double {
        let (seconds, status) = try await ReplayBenchmarkData.timedReplay(
            wal, events: events, server: options.database.databaseURL, template: options.template, label: "replay", logger: logger)
        printToStandardError(
            "round \(round): replayed \(BenchFormat.count(status.insertedEvents)) events in \(BenchFormat.decimal(seconds, places: 1)) s, "
                + "\(BenchFormat.count(Double(events) / seconds)) events/s (\(status.directSlices) batches by direct COPY, \(status.stagedSlices) staged)")
        return seconds
    }
}

/// `--template`, `--database-url` and `--json`, shared by `bench replay` and `bench replay-rollups`.
struct ReplayBenchmarkOptions: ParsableArguments {
    @Option(help: "Create the scratch databases from this template database (e.g. a seeded one).")
    var template: String?

    @OptionGroup var database: BenchDatabaseOptions

    @Flag(help: "Print the result as one JSON object on stdout.")
    var json = false
}

/// Generating the WAL and the baseline load.
enum ReplayBenchmarkData {
    /// Opens a WAL in `directory` with room for any backlog and fills it (``fill(_:events:)``).
    static func filledWAL(in directory: String, events: Int, campaigns: Int? = nil, logger: Logger) async throws -> WriteAheadLog {
        var configuration = WALConfiguration(directory: directory)
        configuration.maxUnreplayedBytes = 64 << 30
        let wal = try WriteAheadLog.open(configuration, logger: logger)
        let seconds = try await fill(wal, events: events, campaigns: campaigns)
        printToStandardError("filled the WAL with \(BenchFormat.count(events)) events in \(BenchFormat.decimal(seconds, places: 1)) s")
        return wal
    }

    /// Appends `events` generated events in groups of 10,000 (one WAL batch each), timestamps rising
    /// evenly over the last day; returns seconds. With `campaigns`, each event's campaign is redrawn
    /// uniformly from that many (`cmp_0`…; 0: every event without one) instead of the mix's 100.
    static func fill(_ wal: WriteAheadLog, events: Int, campaigns: Int? = nil) async throws -> Double {
        let start = ContinuousClock.now
        var generator = EventGenerator(seed: 20_251_125)
        let parser = EventParser()
        let now = Int64(Date().timeIntervalSince1970)
        var written = 0
        var json: [UInt8] = []
        while written < events {
            let count = min(10_000, events - written)
            var records: [[UInt8]] = []
            records.reserveCapacity(count)
            for i in 0..<count {
                let event = generator.next(timestamp: now - 86_400 + Int64(written + i) * 86_400 / Int64(events))
                json.removeAll(keepingCapacity: true)
                event.appendJSON(to: &json, idempotencyKey: "replay-bench-\(written + i)")
                guard case .success(var parsed) = parser.parseEvent(json, receivedAtMicros: now * 1_000_000) else {
                    throw ValidationError("generated event did not parse")
                }
                if let campaigns {
                    parsed.campaignID = campaigns == 0 ? nil : "cmp_\(generator.random.below(campaigns))"
                }
                records.append(EventRecordCodec.encode(parsed))
            }
            _ = try await wal.append(contentsOf: records)
            written += count
        }
        return BenchClock.seconds(since: start)
    }

    /// Drains the whole WAL into a fresh database (a copy of `template`, if given) and checks that
    /// every event went in; returns seconds and the replayer's status.
    static func timedReplay(
        _ wal: WriteAheadLog, events: Int, server: String, template: String?, label: String, maintainRollups: Bool = true,
        campaignRollups: Bool = false,
        logger: Logger, inspect: ((PostgresConnection) throws -> Void)? = nil
    ) async throws -> (seconds: Double, status: ReplayStatus) {
        let target = try ReplayBenchmarkDatabase.create(server: server, template: template, label: label)
        defer { target.drop() }
        var configuration = ReplayerConfiguration(databaseURL: target.url, nodeID: "bench-replay", retainSegments: true)
        configuration.maintainRollups = maintainRollups
        configuration.campaignRollups = campaignRollups
        let replayer = Replayer(wal: wal, configuration: configuration, logger: logger)
        let start = ContinuousClock.now
        try await replayer.drain(timeout: .seconds(3_600))
        let seconds = BenchClock.seconds(since: start)
        let status = replayer.status()
        guard status.insertedEvents == UInt64(events) else {
            throw ValidationError("replayed \(status.insertedEvents) of \(events) events")
        }
        if let inspect {
            let connection = try PostgresConnection(url: target.url)
            defer { connection.close() }
            try inspect(connection)
        }
        return (seconds, status)
    }

    /// COPYs every event in the WAL straight into `events` (uids from a dictionary built up front), in
    /// transactions of 20,000 rows like the replayer's; returns seconds spent in PostgreSQL.
    static func plainCopy(from wal: WriteAheadLog, into url: String) throws -> Double {
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        let uids = try SeedSteps.ensureUsers(connection, count: EventCatalog.userCount)
        let reader = wal.reader(from: wal.stats.oldestPosition)
        var pending: [Event] = []
        var seconds = 0.0
        func flush() throws {
            guard !pending.isEmpty else { return }
            var copy = CopyBinaryWriter()
            for event in pending {
                let user = Int(event.userID.dropFirst(5)) ?? 0
                copy.beginRow(fieldCount: 11)
                copy.uuid(event.idempotencyKey.bytes)
                copy.text(event.eventName)
                copy.text(event.channel)
                copy.text(event.campaignID)
                copy.text(event.userID)
                copy.int4(uids[user])
                copy.timestamp(unixMicros: event.timestampMicros)
                copy.textArray(event.tags)
                if let metadata = event.metadataJSON { copy.jsonb(metadata) } else { copy.null() }
                copy.timestamp(unixMicros: event.receivedAtMicros)
                copy.text("bench-copy")
            }
            let bytes = copy.finish()
            let start = ContinuousClock.now
            try connection.transaction { connection in
                try connection.copyIn(EventsTable.copyStatement, bytes)
            }
            seconds += BenchClock.seconds(since: start)
            pending.removeAll(keepingCapacity: true)
        }
        while let batch = try reader.next() {
            for record in batch.records { pending.append(try EventRecordCodec.decode(record)) }
            if pending.count >= 20_000 { try flush() }
        }
        try flush()
        return seconds
    }
}

/// A scratch database, optionally cloned from a template, migrated, dropped at the end.
struct ReplayBenchmarkDatabase {
    let url: String
    let name: String
    let server: String

    static func create(server: String, template: String?, label: String) throws -> ReplayBenchmarkDatabase {
        let name = "bench_\(label)_\(UInt32.random(in: 0 ... .max))"
        let admin = try PostgresConnection(url: server)
        defer { admin.close() }
        let templateClause = template.map { " TEMPLATE " + PostgresConnection.quoteIdentifier($0) } ?? ""
        try admin.executeScript("CREATE DATABASE \(name)\(templateClause)")
        let url = ScratchDatabase.databaseURL(server, name: name)
        try SchemaMigrations.apply(url: url, logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
        return ReplayBenchmarkDatabase(url: url, name: name, server: server)
    }

    func drop() {
        guard let admin = try? PostgresConnection(url: server) else { return }
        defer { admin.close() }
        _ = try? admin.executeScript("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }
}
