import ArgumentParser
import Foundation
import Query
import Store
import Time

/// `bench metrics`: latency of the metrics computation from the rollups against plain SQL over
/// `events` (the metrics issue's plan), in the same run, on a database filled by `bench seed`.
///
/// For one event name, windows of 1, 7 and 30 days ending now (not aligned to hours, so every window
/// has raw edges) × group_by none/hour/day/channel, day in America/New_York and Asia/Kolkata, week,
/// month in Europe/Istanbul, and the event catalogue (`GET /event-names`). Each case runs a few warm-up rounds, checks that
/// both plans give the same answer, then times ``Query/MetricsComputation`` on one connection on a
/// thread of its own (the blocking libpq calls stay off the cooperative pool), so the figures are
/// the computation (SQL, transfer, bitmap unions), without HTTP.
struct MetricsBenchmarkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Metrics latency from rollups vs plain SQL (p50/p90), on a seeded database.",
        discussion: """
            Seed first: `bench seed --rows 20000000 --days 30`. Targets (issue 9): 30 days ≤ 20 ms and \
            ≥ 500× faster than plain SQL; 7 days by hour ≤ 10 ms; 180 days over 100M rows ≤ 50 ms.
            """
    )

    @Option(name: .singleOrDoubleDash("event-name"), help: "The event name to ask about.")
    var eventName = "product_view"

    @Option(name: .singleOrDoubleDash("days"), parsing: .upToNextOption, help: "Window lengths in days, ending now.")
    var days: [Int] = [1, 7, 30]

    @Option(name: .singleOrDoubleDash("iterations"), help: "Timed runs per case through the rollups.")
    var iterations = 50

    @Option(name: .singleOrDoubleDash("plain-iterations"), help: "Timed runs per case through plain SQL (each may take seconds).")
    var plainIterations = 3

    @Option(name: .singleOrDoubleDash("end"), help: "Where the windows end: now (to the second), or latest (a second after the newest event of the name: a service taking events, whose last hour is full up to now; a seed's data ends where it was loaded).")
    var end: MetricsBenchmarkRun.WindowEnd = .now

    @Option(name: .singleOrDoubleDash("cases"), parsing: .upToNextOption, help: "Only the cases whose label holds one of these texts (e.g. 'tz=America/New_York'); default all.")
    var cases: [String] = []

    @OptionGroup var database: BenchDatabaseOptions

    @Flag(name: .singleOrDoubleDash("json"), help: "Print the results as one JSON object on stdout.")
    var json = false

    func validate() throws {
        guard iterations >= 1, plainIterations >= 1 else { throw ValidationError("iterations must be ≥ 1") }
        guard !days.isEmpty, days.allSatisfy({ (1...400).contains($0) }) else { throw ValidationError("--days must be 1…400") }
    }

    func run() async throws {
        let settings = MetricsBenchmarkRun(
            url: database.databaseURL, eventName: eventName, days: days, iterations: iterations, plainIterations: plainIterations,
            end: end, only: cases)
        let cases = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[MetricsBenchmarkCase], any Error>) in
            let thread = Thread { continuation.resume(with: Result { try settings.measure() }) }
            thread.name = "bench-metrics"
            thread.start()
        }
        if json {
            print(MetricsBenchmarkCase.json(cases, eventName: eventName))
        } else {
            print(MetricsBenchmarkCase.table(cases, eventName: eventName))
        }
        if cases.contains(where: { !$0.equal }) { throw ExitCode(1) }
    }
}

/// The measurements, run on one thread with one connection.
struct MetricsBenchmarkRun: Sendable {
    var url: String
    var eventName: String
    var days: [Int]
    var iterations: Int
    var plainIterations: Int
    var end: WindowEnd = .now
    /// Label fragments selecting cases (`--cases`); empty: every case.
    var only: [String] = []

    /// Where the windows end (`--end`).
    enum WindowEnd: String, ExpressibleByArgument, Sendable {
        case now, latest
    }

    func selected(_ label: String) -> Bool { only.isEmpty || only.contains { label.contains($0) } }

    func measure() throws -> [MetricsBenchmarkCase] {
        let connection = try PostgresConnection(url: url, applicationName: "bench metrics")
        defer { connection.close() }
        let rows = try connection.execute("SELECT count(*) FROM events WHERE event_name = $1", [eventName]).int64(0, 0) ?? 0
        let complete = try connection.execute("SELECT complete FROM rollup_status").bool(0, 0) ?? false
        printToStandardError("bench metrics: \(BenchFormat.count(rows)) \(eventName) events; rollups \(complete ? "complete" : "INCOMPLETE (answers fall back to plain SQL)")")
        // Now (or the newest event), to the second: not aligned to an hour, so every window has
        // partial hours at both ends.
        let seconds =
            end == .latest
            ? try connection.execute("SELECT floor(extract(epoch FROM max(ts)))::int8 + 1 FROM events WHERE event_name = $1", [eventName]).int64(0, 0) ?? 0
            : Int64(Date().timeIntervalSince1970)
        let now = seconds * 1_000_000
        printToStandardError("bench metrics: windows end at \(UTCTime.rfc3339(now)) (--end \(end.rawValue))")
        var cases: [MetricsBenchmarkCase] = []
        for days in days {
            // Issue 21: local days in a whole-hour zone (hourly rollups) and a half-hour one (raw rows at
            // every local midnight), ISO weeks and months.
            // `warm`: through the query cache (128 MiB), as the service runs; the other rows without it.
            // The campaign dimension (the seed's cmp_000…cmp_099): by campaign, and one campaign's days
            // in UTC and in New York (the local-bucket plan over the campaign tables).
            let variants: [(MetricsRequest.GroupBy, String, warm: Bool, campaign: String?)] =
                [(.none, "UTC", false, nil), (.hour, "UTC", false, nil), (.day, "UTC", false, nil), (.channel, "UTC", false, nil),
                 (.day, "America/New_York", false, nil), (.day, "America/New_York", true, nil), (.day, "Asia/Kolkata", false, nil),
                 (.day, "Asia/Kolkata", true, nil), (.week, "UTC", false, nil), (.month, "Europe/Istanbul", false, nil),
                 (.campaign, "UTC", false, nil), (.campaign, "UTC", true, nil), (.day, "UTC", false, "cmp_007"), (.day, "UTC", true, "cmp_007"),
                 (.day, "America/New_York", false, "cmp_007"), (.day, "America/New_York", true, "cmp_007")]
            for (groupBy, zone, warm, campaign) in variants {
                let label = groupBy.rawValue + (zone == "UTC" ? "" : " tz=\(zone)") + (warm ? " warm" : "") + (campaign.map { " campaign_id=\($0)" } ?? "")
                guard selected(label) else { continue }
                let request = MetricsRequest(
                    eventName: eventName, fromMicros: now - Int64(days) * 86_400_000_000, toMicros: now, campaignID: campaign, groupBy: groupBy,
                    timeZone: MetricsRequest.zone(named: zone)!)
                let fast = try MetricsTiming.time(request, .rollups, runs: iterations, warmUp: 3, cache: warm ? BitmapCache(budget: BitmapCache.defaultBytes) : nil, on: connection)
                let plain = try MetricsTiming.time(request, .plainSQL, runs: plainIterations, warmUp: 1, on: connection)
                let result = MetricsBenchmarkCase(
                    days: days, groupBy: label, rollups: fast.latencies, plain: plain.latencies,
                    equal: fast.answer == plain.answer, totalCount: plain.answer.totalCount, uniqueUsers: plain.answer.uniqueUserCount,
                    groups: plain.answer.groups.count)
                printToStandardError("  \(result.line)")
                cases.append(result)
            }
            // The event catalogue of the same window (`GET /event-names`).
            guard selected("event-names") else { continue }
            let from = now - Int64(days) * 86_400_000_000
            func catalogue(plainSQL: Bool, runs: Int) throws -> (latencies: [Double], answer: [EventNameCatalog.Entry]) {
                var answer = try EventNameCatalog.run(fromMicros: from, toMicros: now, plainSQL: plainSQL, on: connection)
                var latencies: [Double] = []
                for _ in 0..<runs {
                    let start = ContinuousClock.now
                    answer = try EventNameCatalog.run(fromMicros: from, toMicros: now, plainSQL: plainSQL, on: connection)
                    latencies.append(BenchClock.seconds(since: start) * 1_000)
                }
                return (latencies.sorted(), answer)
            }
            let fast = try catalogue(plainSQL: false, runs: iterations)
            let plain = try catalogue(plainSQL: true, runs: plainIterations)
            let result = MetricsBenchmarkCase(
                days: days, groupBy: "event-names", rollups: fast.latencies, plain: plain.latencies, equal: fast.answer == plain.answer,
                totalCount: plain.answer.reduce(0) { $0 + $1.totalCount }, uniqueUsers: 0, groups: plain.answer.count)
            printToStandardError("  \(result.line)")
            cases.append(result)
        }
        return cases
    }

}

/// One window × grouping: sorted latencies in milliseconds for both plans.
struct MetricsBenchmarkCase: Sendable {
    var days: Int
    var groupBy: String
    var rollups: [Double]
    var plain: [Double]
    var equal: Bool
    var totalCount: Int64
    var uniqueUsers: Int64
    var groups: Int

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let rank = Int((p * Double(sorted.count)).rounded(.up)) - 1
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }

    var rollupsP50: Double { Self.percentile(rollups, 0.5) }
    var rollupsP90: Double { Self.percentile(rollups, 0.9) }
    var plainP50: Double { Self.percentile(plain, 0.5) }
    var plainP90: Double { Self.percentile(plain, 0.9) }
    var speedup: Double { plainP50 / rollupsP50 }

    /// Which issue-9 target applies, and whether it is met.
    var target: (text: String, met: Bool)? {
        if days == 30 && groupBy == "event-names" { return ("≤ 10 ms", rollupsP50 <= 10) }
        if days == 30 { return ("≤ 20 ms, ≥ 500×", rollupsP50 <= 20 && speedup >= 500) }
        if days == 7 && groupBy == "hour" { return ("≤ 10 ms", rollupsP50 <= 10) }
        if days == 180 { return ("≤ 50 ms (over 100M rows)", rollupsP50 <= 50) }
        return nil
    }

    var line: String {
        let cells = [
            "\(days)d".padding(toLength: 5, withPad: " ", startingAt: 0),
            groupBy.padding(toLength: max(8, groupBy.count), withPad: " ", startingAt: 0),
            ms(rollupsP50), ms(rollupsP90), ms(plainP50), ms(plainP90),
            (BenchFormat.decimal(speedup, places: 0) + "×").leftPadded(8),
            (equal ? "yes" : "NO").leftPadded(6),
            target.map { ($0.met ? "met " : "MISSED ") + $0.text } ?? "",
        ]
        return cells.joined(separator: " ")
    }

    private func ms(_ value: Double) -> String {
        (value >= 100 ? BenchFormat.decimal(value, places: 0) : BenchFormat.decimal(value, places: 2)).leftPadded(10)
    }

    static func table(_ cases: [MetricsBenchmarkCase], eventName: String) -> String {
        let header = [
            "window", "group_by", "rollup p50".leftPadded(10), "rollup p90".leftPadded(10), " plain p50", " plain p90",
            "   ratio", " equal", "target",
        ].joined(separator: " ")
        return (["metrics latency for event_name=\(eventName), milliseconds (ratio = plain p50 / rollup p50)", header]
            + cases.map(\.line)).joined(separator: "\n")
    }

    static func json(_ cases: [MetricsBenchmarkCase], eventName: String) -> String {
        func number(_ value: Double) -> String { value.isFinite ? BenchFormat.decimal(value, places: 3) : "null" }
        let items = cases.map { c in
            """
            {"days":\(c.days),"group_by":"\(c.groupBy)","rollups_p50_ms":\(number(c.rollupsP50)),"rollups_p90_ms":\(number(c.rollupsP90)),\
            "plain_p50_ms":\(number(c.plainP50)),"plain_p90_ms":\(number(c.plainP90)),"speedup":\(number(c.speedup)),"equal":\(c.equal),\
            "total_count":\(c.totalCount),"unique_users":\(c.uniqueUsers),"groups":\(c.groups),"target_met":\(c.target.map { String($0.met) } ?? "null")}
            """
        }
        return #"{"event_name":"\#(eventName)","cases":[\#(items.joined(separator: ","))]}"#
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}

/// Timing one metrics computation, for both metrics benchmarks.
enum MetricsTiming {
    /// Milliseconds of `runs` timed computations (sorted) after `warmUp` untimed ones, and the last answer.
    static func time(
        _ request: MetricsRequest, _ strategy: MetricsStrategy, runs: Int, warmUp: Int, cache: BitmapCache? = nil, on connection: PostgresConnection
    ) throws -> (latencies: [Double], answer: MetricsResult) {
        var answer = try MetricsComputation.run(request, strategy: strategy, cache: cache, on: connection)
        for _ in 1..<max(warmUp, 1) { answer = try MetricsComputation.run(request, strategy: strategy, cache: cache, on: connection) }
        var latencies: [Double] = []
        for _ in 0..<runs {
            let start = ContinuousClock.now
            answer = try MetricsComputation.run(request, strategy: strategy, cache: cache, on: connection)
            latencies.append(BenchClock.seconds(since: start) * 1_000)
        }
        return (latencies.sorted(), answer)
    }
}
