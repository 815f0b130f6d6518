import ArgumentParser
import Foundation
import Logging
import Query
import Rollups
import Store

/// `bench metrics-scale`: metrics at a real product's cardinality (issue 17). Builds (or reuses) a
/// data set of `--users` distinct users over `--days` whole days with about `--daily-active` users
/// a day, then measures the metrics computation over windows of 1, 7, 30 and `--days` days, warm
/// (query cache on), cold (no cache) and with the daily-only plan (the baseline, same data, same
/// run), and the peak RSS under `--concurrency` concurrent longest-window queries: of the `serve`
/// binary answering them over HTTP (``MetricsScaleService``), and of this process around an
/// in-process `MetricsService`.
///
/// The data set: 1B raw rows would not fit this disk, so the rollups are generated directly and
/// merged through ``Rollups/RollupWriter`` (the replayer's merge: daily rows and every block level;
/// hourly rows only for the last `--hourly-days` days, which `group_by=hour` and local days in a
/// zone (`tz=America/New_York&group_by=day`, issue 21) read). No raw events are written:
/// every window ends at the data set's last midnight and starts at a midnight, so the planner needs
/// no partial hour (raw rows) and no edge hour. Activity is heavy-tailed: user u (1-based) is active
/// on a day with probability min(1, a·u^-½), `a` chosen so the expected actives per day is
/// `--daily-active` (at 10M/2M: the first 100k users every day, the last ones one day in ten),
/// on one preferred channel (15 % also on a second); heavy users send more events. With
/// `--campaigns N` each active user is in one of N campaigns that day (`cmp_000`…, as the seed's mix)
/// or, 30 % of them, in none; the campaign rollups (issue 21) are written with the rest, so
/// `group_by=campaign` has a 10M-user case.
struct MetricsScaleBenchmarkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics-scale",
        abstract: "Metrics at 10M users: day blocks vs daily-only plan, warm/cold p50/p95, peak RSS under concurrency.",
        discussion: """
            Builds the data set once (progress on stderr; reused when the same parameters are found in \
            bench_metrics_scale), merging generated rollups through the replayer's RollupWriter. \
            Example: bench metrics-scale --users 10000000 --daily-active 2000000 --days 180 --database-url URL. \
            Targets (issue 17): 180 days p50 ≤ 50 ms warm, ≤ 150 ms cold, ≥ 20× the daily-only plan; \
            30 days ≤ 20 ms warm; one 180-day query adds ≤ 64 MiB to the service and 8 concurrent ones keep \
            it under 512 MiB. The service figures start the real event-metrics-service binary (next to \
            bench, or --service-binary) on the data set's database and read its /proc/<pid>/status.
            """
    )

    @OptionGroup var set: MetricsScaleDataSet

    @Option(name: .singleOrDoubleDash("iterations"), help: "Timed runs per case, warm and cold.")
    var iterations = 11

    @Option(name: .singleOrDoubleDash("baseline-iterations"), help: "Timed runs per case of the daily-only plan.")
    var baselineIterations = 3

    @Option(name: .singleOrDoubleDash("concurrency"), help: "Concurrent longest-window queries for the peak RSS.")
    var concurrency = 8

    @Option(name: .singleOrDoubleDash("service-binary"), help: "The event-metrics-service binary whose memory is measured over HTTP (default: next to bench; skipped if absent).")
    var serviceBinary: String?

    @Option(name: .singleOrDoubleDash("query-cache-bytes"), help: "The query cache's budget for the warm cases (serve's --query-cache-bytes; default its default).")
    var queryCacheBytes = BitmapCache.defaultBytes

    @Option(name: .singleOrDoubleDash("cases"), parsing: .upToNextOption, help: "Only the groupings whose label holds one of these texts (none, day, channel, hour, campaign, tz=); default all.")
    var cases: [String] = []

    @Flag(name: .singleOrDoubleDash("memory-only"), help: "Measure memory only (in-process and serve), no latency cases.")
    var memoryOnly = false

    @Flag(name: .singleOrDoubleDash("rebuild"), help: "Build the data set again even if it is there.")
    var rebuild = false

    @OptionGroup var database: BenchDatabaseOptions

    @Flag(name: .singleOrDoubleDash("json"), help: "Print the results as one JSON object on stdout.")
    var json = false

    func validate() throws {
        guard iterations >= 1, baselineIterations >= 1, concurrency >= 1 else { throw ValidationError("iterations and concurrency must be ≥ 1") }
        guard queryCacheBytes >= 0 else { throw ValidationError("--query-cache-bytes must be 0 or more") }
    }

    func run() async throws {
        let logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        _ = try SchemaMigrations.apply(url: database.databaseURL, logger: logger)
        let set = self.set, url = database.databaseURL, rebuild = self.rebuild
        let endDay = try await onThread { try set.prepare(url: url, rebuild: rebuild) }
        let pool = PostgresPool(url: database.databaseURL, size: max(concurrency, 1), statementTimeoutMilliseconds: 120_000, logger: logger)
        defer { Task { await pool.shutdown() } }
        let measure = MetricsScaleMeasurement(
            pool: pool, logger: logger, eventName: set.eventName, endDay: endDay,
            windows: Array(Set([1, 7, 30, set.days].filter { $0 <= set.days })).sorted(), hourlyDays: set.hourlyWindow, campaigns: set.campaigns,
            cacheBytes: queryCacheBytes, only: cases,
            iterations: iterations, baselineIterations: baselineIterations)
        // Memory first, so no earlier phase's allocations (the cases' warm cache) hide what queries add.
        let memory = try await measure.peakRSS(days: set.days, concurrency: concurrency)
        var service: MetricsScaleServiceMemory?
        if let binary = serviceBinary ?? MetricsScaleService.defaultBinary() {
            service = try await MetricsScaleService(
                binary: binary, databaseURL: database.databaseURL, eventName: set.eventName, endDay: endDay, days: set.days, concurrency: concurrency
            ).measure()
        } else {
            printToStandardError("  serve: skipped (no event-metrics-service next to bench; build it: swift build -c release --product event-metrics-service)")
        }
        let cases = memoryOnly ? [] : try await measure.cases()
        await pool.shutdown()
        if json {
            print(MetricsScaleCase.json(cases, memory: memory, service: service, set: set))
        } else {
            print(MetricsScaleCase.table(cases, memory: memory, service: service, set: set))
        }
        if cases.contains(where: { !$0.equal }) { throw ExitCode(1) }
    }
}

/// Runs blocking libpq work on a thread of its own.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.stackSize = 8 << 20
        thread.start()
    }
}

/// The generated rollups of one event name, built once and recorded in `bench_metrics_scale`; its
/// parameters are the command's options.
struct MetricsScaleDataSet: ParsableArguments, Sendable {
    @Option(name: .singleOrDoubleDash("users"), help: "Distinct users (uids 1…N).")
    var users = 10_000_000

    @Option(name: .singleOrDoubleDash("daily-active"), help: "Expected active users per day.")
    var dailyActive = 2_000_000

    @Option(name: .singleOrDoubleDash("days"), help: "Whole days of data, ending at the last midnight; also the longest window.")
    var days = 180

    @Option(name: .singleOrDoubleDash("channels"), help: "Channels.")
    var channels = 3

    @Option(name: .singleOrDoubleDash("hourly-days"), help: "The last days that also get hourly rows (group_by=hour, and local days in a zone: the 30-day tz case needs 30); at most --days.")
    var hourlyDays = 30

    @Option(name: .singleOrDoubleDash("campaigns"), help: "Campaigns an active user's day is spread over (30 % in none), written to the campaign rollups too, with a group_by=campaign case (issue 21: 100; the build then takes ~3× as long); 0: none.")
    var campaigns = 0

    @Option(name: .singleOrDoubleDash("event-name"), help: "The event name the data set is written under.")
    var eventName = "scale_view"

    /// The days with hourly rows.
    var hourlyWindow: Int { min(hourlyDays, days) }

    func validate() throws {
        guard hourlyDays >= 0 else { throw ValidationError("--hourly-days must be ≥ 0") }
        guard users >= 1_000, users <= Int(Int32.max) else { throw ValidationError("--users must be 1,000…2^31-1") }
        guard dailyActive >= 1, dailyActive <= users else { throw ValidationError("--daily-active must be 1…--users") }
        guard (1...400).contains(days) else { throw ValidationError("--days must be 1…400") }
        guard (1...16).contains(channels) else { throw ValidationError("--channels must be 1…16") }
        guard (0...1_000).contains(campaigns) else { throw ValidationError("--campaigns must be 0…1000") }
    }

    /// Days merged per transaction: the blocks above level 3 are rewritten once per 8 days instead of
    /// once per day.
    static let daysPerBatch = 8

    var channelNames: [String] { (0..<channels).map { ["web", "app", "email", "push"][safe: $0] ?? "channel_\($0)" } }

    /// Builds the data set unless the same one is recorded; returns its end (Unix seconds of the
    /// midnight after its last day).
    func prepare(url: String, rebuild: Bool) throws -> Int64 {
        let connection = try PostgresConnection(url: url, applicationName: "bench metrics-scale")
        defer { connection.close() }
        try connection.executeScript("""
            CREATE TABLE IF NOT EXISTS bench_metrics_scale (
                event_name text PRIMARY KEY, users bigint NOT NULL, daily_active bigint NOT NULL, days int NOT NULL,
                channels int NOT NULL, end_day bigint NOT NULL, build_seconds float8 NOT NULL, built_at timestamptz NOT NULL DEFAULT now());
            ALTER TABLE bench_metrics_scale ADD COLUMN IF NOT EXISTS hourly_days int NOT NULL DEFAULT 7;
            ALTER TABLE bench_metrics_scale ADD COLUMN IF NOT EXISTS campaigns int NOT NULL DEFAULT 0
            """)
        let known = try connection.execute(
            "SELECT users, daily_active, days, channels, end_day, build_seconds, hourly_days, campaigns FROM bench_metrics_scale WHERE event_name = $1", [eventName])
        if !rebuild, known.rowCount == 1, known.int64(0, 0) == Int64(users), known.int64(0, 1) == Int64(dailyActive),
           known.int64(0, 2) == Int64(days), known.int64(0, 3) == Int64(channels),
           known.int64(0, 6) == Int64(hourlyWindow), known.int64(0, 7) == Int64(campaigns), let end = known.int64(0, 4) {
            printToStandardError("bench metrics-scale: reusing the data set of \(eventName) (built in \(BenchFormat.duration(seconds: known.double(0, 5) ?? 0)))")
            return end
        }
        let end = Int64(Date().timeIntervalSince1970) / 86_400 * 86_400
        let start = end - Int64(days) * 86_400
        let started = ContinuousClock.now
        try connection.transaction { tx in
            try tx.execute("DELETE FROM bench_metrics_scale WHERE event_name = $1", [eventName])
            for table in ["rollup_hourly", "rollup_daily", "rollup_blocks", "rollup_campaign_hourly", "rollup_campaign_daily", "rollup_campaign_blocks"] {
                try tx.execute("DELETE FROM \(table) WHERE event_name = $1", [eventName])
            }
        }
        let activity = MetricsScaleActivity(users: users, dailyActive: dailyActive)
        printToStandardError("bench metrics-scale: building \(days) days of \(BenchFormat.count(users)) users, ~\(BenchFormat.count(dailyActive)) a day (a = \(BenchFormat.decimal(activity.scale, places: 1))), \(campaigns) campaigns")
        var day = start
        var actives = 0
        while day < end {
            let batchEnd = min(day + Int64(Self.daysPerBatch) * 86_400, end)
            var deltas = RollupDeltas()
            var hourly = RollupDeltas()
            while day < batchEnd {
                let hours = day >= end - Int64(hourlyWindow) * 86_400
                if hours {
                    actives += addDay(day, activity: activity, into: &hourly, byHour: true)
                } else {
                    actives += addDay(day, activity: activity, into: &deltas, byHour: false)
                }
                day += 86_400
            }
            try connection.transaction { tx in
                try RollupWriter.merge(deltas, hourly: false, campaigns: campaigns > 0, on: tx)
                try RollupWriter.merge(hourly, campaigns: campaigns > 0, on: tx)
            }
            let done = Int((day - start) / 86_400)
            let elapsed = BenchClock.seconds(since: started)
            printToStandardError("  \(done)/\(days) days, \(BenchFormat.count(actives / max(done, 1))) active users a day, \(BenchFormat.duration(seconds: elapsed)) (eta \(BenchFormat.duration(seconds: elapsed / Double(done) * Double(days - done))))")
        }
        let tables = ["rollup_daily", "rollup_blocks", "rollup_hourly", "rollup_campaign_daily", "rollup_campaign_blocks", "rollup_campaign_hourly"]
        try connection.executeScript(tables.map { "ANALYZE \($0)" }.joined(separator: "; "))
        let seconds = BenchClock.seconds(since: started)
        try connection.execute(
            "INSERT INTO bench_metrics_scale (event_name, users, daily_active, days, channels, end_day, build_seconds, hourly_days, campaigns) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            [eventName, String(users), String(dailyActive), String(days), String(channels), String(end), String(seconds), String(hourlyWindow), String(campaigns)])
        let sizes = try connection.execute("SELECT " + tables.map { "pg_size_pretty(pg_total_relation_size('\($0)'))" }.joined(separator: ", "))
        let sizeList = tables.indices.map { "\(tables[$0]) \(sizes.string(0, $0) ?? "?")" }.joined(separator: ", ")
        printToStandardError("bench metrics-scale: built in \(BenchFormat.duration(seconds: seconds)); \(sizeList)")
        return end
    }

    /// One day's activity as groups per channel and campaign (in hour 0 of the day, or spread over
    /// its hours); returns the day's distinct active users.
    private func addDay(_ day: Int64, activity: MetricsScaleActivity, into deltas: inout RollupDeltas, byHour: Bool) -> Int {
        var random = ScaleRandom(seed: UInt64(bitPattern: day) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(users))
        // Group (channel, campaign slot, hour): slot 0 is "no campaign", slot k is campaign k - 1.
        let slots = campaigns + 1, hours = byHour ? 24 : 1
        func group(_ channel: Int, _ slot: Int, _ hour: Int) -> Int { (channel * slots + slot) * hours + hour }
        var uids = [[UInt32]](repeating: [], count: channels * slots * hours)
        var counts = [Int64](repeating: 0, count: uids.count)
        var active = 0
        for user in 1...users {
            guard random.next() < activity.threshold(user) else { continue }
            active += 1
            let uid = UInt32(user)
            let hash = UInt64(user) &* 0x9E37_79B9_7F4A_7C15
            let primary = Int(hash >> 40) % channels
            let second = random.next() % 100 < 15 && channels > 1 ? (primary + 1) % channels : nil
            let events: Int64 = user <= users / 100 ? 10 : (user <= users / 10 ? 3 : 1)
            let hour = byHour ? Int((hash >> 8 &+ UInt64(bitPattern: day / 86_400)) % 24) : 0
            var slot = 0
            if campaigns > 0 {
                let draw = random.next()
                slot = draw % 10 < 3 ? 0 : 1 + Int((draw >> 8) % UInt64(campaigns))
            }
            for channel in [primary] + (second.map { [$0] } ?? []) {
                uids[group(channel, slot, hour)].append(uid)
                counts[group(channel, slot, hour)] += events
            }
        }
        let names = channelNames
        for index in uids.indices where !uids[index].isEmpty {
            let slot = index / hours % slots
            deltas.add(
                eventName: eventName, channel: names[index / hours / slots], campaign: slot == 0 ? nil : Self.campaignName(slot - 1),
                hourStart: day + Int64(index % hours) * 3_600, count: counts[index], uids: uids[index])
        }
        return active
    }

    /// The seed's campaign names (`cmp_000`…).
    static func campaignName(_ index: Int) -> String {
        let digits = String(index)
        return "cmp_" + String(repeating: "0", count: max(0, 3 - digits.count)) + digits
    }
}

/// Heavy-tailed daily activity: P(user u active on a day) = min(1, a·u^-½).
struct MetricsScaleActivity: Sendable {
    let users: Int
    let scale: Double

    init(users: Int, dailyActive: Int) {
        self.users = users
        // Expected actives for a given a, from a sample of users (every 97th), found by bisection.
        func expected(_ a: Double) -> Double {
            var sum = 0.0
            var user = 1
            while user <= users {
                sum += min(1, a / Double(user).squareRoot()) * Double(min(97, users - user + 1))
                user += 97
            }
            return sum
        }
        var low = 0.0, high = Double(users)
        for _ in 0..<60 {
            let mid = (low + high) / 2
            if expected(mid) < Double(dailyActive) { low = mid } else { high = mid }
        }
        self.scale = (low + high) / 2
    }

    /// The probability as a threshold on a uniform UInt64.
    @inline(__always) func threshold(_ user: Int) -> UInt64 {
        let p = scale / Double(user).squareRoot()
        return p >= 1 ? .max : UInt64(p * 18_446_744_073_709_551_615.0)
    }
}

/// A small fast generator (ScaleRandom), reproducible from its seed.
struct ScaleRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    @inline(__always) mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension Array {
    fileprivate subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}

/// The timed part: warm, cold and daily-only per window × group_by, and the memory under load.
struct MetricsScaleMeasurement: Sendable {
    var pool: PostgresPool
    var logger: Logger
    var eventName: String
    var endDay: Int64
    var windows: [Int]
    /// Windows up to this many days also run `tz=America/New_York&group_by=day` (local days: hourly rows).
    var hourlyDays: Int
    /// The data set's campaigns: when any, every window also runs `group_by=campaign` (the campaign rollups).
    var campaigns: Int
    /// The warm cases' query cache budget.
    var cacheBytes: Int
    /// Label fragments selecting groupings (`--cases`); empty: every one.
    var only: [String]
    var iterations: Int
    var baselineIterations: Int

    static let localZone = "America/New_York"

    func request(days: Int, groupBy: MetricsRequest.GroupBy, zone: String = "UTC") -> MetricsRequest {
        MetricsRequest(
            eventName: eventName, fromMicros: (endDay - Int64(days) * 86_400) * 1_000_000, toMicros: endDay * 1_000_000, groupBy: groupBy,
            timeZone: MetricsRequest.zone(named: zone)!)
    }

    func cases() async throws -> [MetricsScaleCase] {
        let warmCache = BitmapCache(budget: cacheBytes)
        func selected(_ label: String) -> Bool { only.isEmpty || only.contains { label.contains($0) } }
        var cases: [MetricsScaleCase] = []
        for days in windows {
            for groupBy in [MetricsRequest.GroupBy.none, .day, .channel] + (days <= 7 ? [.hour] : []) + (campaigns > 0 ? [.campaign] : [])
            where selected(groupBy.rawValue) {
                let request = request(days: days, groupBy: groupBy)
                let cold = try await time(request, .rollups, cache: nil, runs: iterations)
                _ = try await time(request, .rollups, cache: warmCache, runs: 2)
                let warm = try await time(request, .rollups, cache: warmCache, runs: iterations)
                let baseline = try await time(request, .dailyRollups, cache: nil, runs: baselineIterations)
                let result = MetricsScaleCase(
                    days: days, groupBy: groupBy.rawValue, warm: warm.latencies, cold: cold.latencies, baseline: baseline.latencies,
                    equal: warm.answer == baseline.answer && cold.answer == baseline.answer, uniqueUsers: baseline.answer.uniqueUserCount)
                printToStandardError("  \(result.line)")
                cases.append(result)
            }
            // Issue 21: local days in a zone read hourly rows (24 a day); no daily-only plan
            // exists for them, so the check is warm = cold, and their overall figures = the UTC window's.
            if days <= hourlyDays, selected("day tz=\(Self.localZone)") {
                let request = request(days: days, groupBy: .day, zone: Self.localZone)
                let cold = try await time(request, .rollups, cache: nil, runs: iterations)
                _ = try await time(request, .rollups, cache: warmCache, runs: 2)
                let warm = try await time(request, .rollups, cache: warmCache, runs: iterations)
                let utc = try await time(self.request(days: days, groupBy: .none), .dailyRollups, cache: nil, runs: 1).answer
                let result = MetricsScaleCase(
                    days: days, groupBy: "day tz=\(Self.localZone)", warm: warm.latencies, cold: cold.latencies, baseline: [],
                    equal: warm.answer == cold.answer && cold.answer.totalCount == utc.totalCount && cold.answer.uniqueUserCount == utc.uniqueUserCount
                        && cold.answer.groups.reduce(0) { $0 + $1.totalCount } == utc.totalCount,
                    uniqueUsers: cold.answer.uniqueUserCount)
                printToStandardError("  \(result.line)")
                cases.append(result)
            }
        }
        return cases
    }

    /// One untimed computation, then `runs` timed ones on one pooled connection.
    private func time(
        _ request: MetricsRequest, _ strategy: MetricsStrategy, cache: BitmapCache?, runs: Int
    ) async throws -> (latencies: [Double], answer: MetricsResult) {
        try await pool.withConnection { connection in
            try MetricsTiming.time(request, strategy, runs: runs, warmUp: 1, cache: cache, on: connection)
        }
    }

    /// Resident memory of this process: before, after one longest-window query without cache, and
    /// at peak under `concurrency` concurrent longest-window queries (3 rounds per group_by), first
    /// with the query cache off (every bitmap streamed from PostgreSQL: the worst case for the fold),
    /// then with it at its default budget, as `serve` runs. Linux only (/proc/self/status; the peak
    /// is reset through /proc/self/clear_refs).
    func peakRSS(days: Int, concurrency: Int) async throws -> MetricsScaleMemory {
        var memory = MetricsScaleMemory(concurrency: concurrency, days: days)
        ProcessMemory.resetPeak()
        memory.before = ProcessMemory.current()
        for budget in [0, BitmapCache.defaultBytes] {
            let service = MetricsService(
                pool: pool, logger: logger, freshness: { MetricsFreshness(replayLagSeconds: 0, asOfMicros: 0) },
                admission: MetricsAdmission(running: pool.size, waiting: concurrency), cache: BitmapCache(budget: budget))
            if budget == 0 {
                _ = try await service.metrics(for: request(days: days, groupBy: .channel))
                memory.oneQueryPeak = ProcessMemory.peak()
            }
            let started = ContinuousClock.now
            var queries = 0
            for _ in 0..<3 {
                for groupBy in [MetricsRequest.GroupBy.channel, .none, .day] {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for _ in 0..<concurrency {
                            group.addTask { _ = try await service.metrics(for: request(days: days, groupBy: groupBy)) }
                        }
                        try await group.waitForAll()
                    }
                    queries += concurrency
                }
            }
            let seconds = BenchClock.seconds(since: started)
            if budget == 0 {
                memory.peakWithoutCache = ProcessMemory.peak()
                memory.secondsWithoutCache = seconds
            } else {
                memory.peak = ProcessMemory.peak()
                memory.seconds = seconds
                memory.cacheBytes = service.cache.currentBytes
            }
            memory.queries = queries
        }
        printToStandardError("  memory: \(memory.line)")
        return memory
    }
}

enum ProcessMemory {
    /// VmRSS and VmHWM of this process, in bytes.
    static func field(_ name: String, path: String = "/proc/self/status") -> Int {
        guard let status = try? String(contentsOfFile: path, encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
            let digits = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
            return digits * 1024
        }
        return 0
    }

    static func current() -> Int { field("VmRSS") }
    static func peak() -> Int { field("VmHWM") }

    /// Resets VmHWM to the current RSS (Linux ≥ 4.0).
    static func resetPeak() {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }
}

struct MetricsScaleMemory: Sendable {
    var concurrency: Int
    var days: Int
    var before = 0
    var oneQueryPeak = 0
    /// Peak RSS after the concurrent rounds without cache, then after those with it (VmHWM only
    /// grows, so `peak` is the peak of the whole measurement).
    var peakWithoutCache = 0
    var peak = 0
    var queries = 0
    var secondsWithoutCache = 0.0
    var seconds = 0.0
    var cacheBytes = 0

    var line: String {
        "RSS before \(mib(before)); one \(days)-day query without cache: peak \(mib(oneQueryPeak)) (+\(mib(oneQueryPeak - before))); "
            + "\(concurrency) concurrent \(days)-day queries × \(queries / concurrency) rounds: peak \(mib(peakWithoutCache)) without cache "
            + "(\(BenchFormat.decimal(secondsWithoutCache, places: 1)) s), \(mib(peak)) with the cache (\(BenchFormat.decimal(seconds, places: 1)) s, \(mib(cacheBytes)) cached)"
    }

    func mib(_ bytes: Int) -> String { BenchFormat.decimal(Double(bytes) / 1_048_576, places: 1) + " MiB" }
}

struct MetricsScaleCase: Sendable {
    var days: Int
    var groupBy: String
    var warm: [Double]
    var cold: [Double]
    var baseline: [Double]
    var equal: Bool
    var uniqueUsers: Int64

    var p50: Double { MetricsBenchmarkCase.percentile(warm, 0.5) }
    var p95: Double { MetricsBenchmarkCase.percentile(warm, 0.95) }
    var coldP50: Double { MetricsBenchmarkCase.percentile(cold, 0.5) }
    var coldP95: Double { MetricsBenchmarkCase.percentile(cold, 0.95) }
    var baselineP50: Double { MetricsBenchmarkCase.percentile(baseline, 0.5) }

    var line: String {
        func ms(_ value: Double) -> String {
            let text = value >= 100 ? BenchFormat.decimal(value, places: 0) : BenchFormat.decimal(value, places: 2)
            return String(repeating: " ", count: max(0, 9 - text.count)) + text
        }
        return "\(String(days).padding(toLength: 4, withPad: " ", startingAt: 0))d \(groupBy.padding(toLength: 8, withPad: " ", startingAt: 0))"
            + "\(ms(p50))\(ms(p95))\(ms(coldP50))\(ms(coldP95))\(ms(baselineP50))  \(BenchFormat.decimal(baselineP50 / coldP50, places: 1))×"
            + "  \(equal ? "equal" : "DIFFERENT")  \(uniqueUsers) users"
    }

    static func table(_ cases: [MetricsScaleCase], memory: MetricsScaleMemory, service: MetricsScaleServiceMemory?, set: MetricsScaleDataSet) -> String {
        (["metrics-scale: \(set.users) users, ~\(set.dailyActive) daily active, \(set.days) days, \(set.channels) channels; ms (cold ratio = daily-only p50 / cold p50)",
          "window   group     warm p50  warm p95  cold p50  cold p95 daily-only"]
            + cases.map(\.line) + ["memory (in-process MetricsService): " + memory.line, "memory (serve over HTTP): " + (service?.line ?? "not measured")])
            .joined(separator: "\n")
    }

    /// `peak_rss_bytes` is the `serve` process's peak under the concurrent queries when it was
    /// measured (`service` holds the rest), else the in-process figure.
    static func json(_ cases: [MetricsScaleCase], memory: MetricsScaleMemory, service: MetricsScaleServiceMemory?, set: MetricsScaleDataSet) -> String {
        func number(_ value: Double) -> String { value.isFinite ? BenchFormat.decimal(value, places: 3) : "null" }
        let items = cases.map { c in
            """
            {"days":\(c.days),"group_by":"\(c.groupBy)","p50_ms":\(number(c.p50)),"p95_ms":\(number(c.p95)),\
            "cold_p50_ms":\(number(c.coldP50)),"cold_p95_ms":\(number(c.coldP95)),"baseline_p50_ms":\(number(c.baselineP50)),\
            "equal":\(c.equal),"unique_users":\(c.uniqueUsers)}
            """
        }
        return """
            {"users":\(set.users),"daily_active":\(set.dailyActive),"days":\(set.days),"channels":\(set.channels),\
            "cases":[\(items.joined(separator: ","))],"peak_rss_bytes":\(service?.peak ?? memory.peak),"service":\(service?.json ?? "null"),\
            "in_process":{"peak_rss_bytes":\(memory.peak),"rss_before_bytes":\(memory.before),\
            "one_query_peak_rss_bytes":\(memory.oneQueryPeak),"peak_rss_without_cache_bytes":\(memory.peakWithoutCache),\
            "cache_bytes":\(memory.cacheBytes)},"concurrency":\(memory.concurrency)}
            """
    }
}
