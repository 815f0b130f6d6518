import AsyncHTTPClient
import Foundation
import NIOCore
import TestSupport

/// The `serve` binary's memory while it answers longest-window `GET /metrics` over HTTP (issue 17's
/// bound is on the service, not on an in-process computation): the real process with its real
/// configuration (query cache at its default budget), started on the data set's database, measured
/// from /proc/<pid>/status (VmRSS, VmHWM; the peak is reset through /proc/<pid>/clear_refs).
///
/// `--query-pool-size` is set to the concurrency, so that all concurrent queries really run at once
/// (the worst case; with the default pool of 4 the others wait in the admission queue).
struct MetricsScaleService {
    var binary: String
    var databaseURL: String
    var eventName: String
    var endDay: Int64
    var days: Int
    var concurrency: Int
    /// Timed sequential requests per group_by after the memory rounds (the cache is warm by then).
    var latencyRuns = 7

    /// `event-metrics-service` next to this bench executable (the same build), if it is there.
    static func defaultBinary() -> String? {
        guard let bench = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return nil }
        let path = URL(fileURLWithPath: bench).deletingLastPathComponent().appendingPathComponent("event-metrics-service").path
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    func url(port: Int, groupBy: String) -> String {
        let format = ISO8601DateFormatter()
        let from = format.string(from: Date(timeIntervalSince1970: TimeInterval(endDay - Int64(days) * 86_400)))
        let to = format.string(from: Date(timeIntervalSince1970: TimeInterval(endDay)))
        return "http://127.0.0.1:\(port)/metrics?event_name=\(eventName)&from=\(from)&to=\(to)&group_by=\(groupBy)"
    }

    func measure() async throws -> MetricsScaleServiceMemory {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-scale-serve-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let port = try ChildProcess.freePort()
        let pid = try ChildProcess.spawn(
            binary,
            arguments: [
                "serve", "--port", "\(port)", "--admin-port", "0", "--wal-dir", work + "/wal", "--database-url", databaseURL,
                "--node-id", "bench-metrics-scale", "--log-level", "warning", "--query-pool-size", "\(concurrency)",
                "--query-max-waiting", "\(concurrency)",
            ],
            environment: ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("QUERY_") }, stdoutPath: work + "/serve.log",
            stderrPath: work + "/serve.log")
        var exited = false
        defer {
            if !exited {
                kill(pid, SIGKILL)
                _ = ChildProcess.waitForExit(pid)
            }
        }
        let http = HTTPClient.shared
        var memory = MetricsScaleServiceMemory(binary: binary, concurrency: concurrency, days: days)
        try await waitUntilUp(http, port: port, pid: pid, log: work + "/serve.log")
        let status = ProcessStatus(pid: pid)
        memory.idle = status.rss()
        status.resetPeak()

        // One cold query (nothing cached yet): what a single longest window adds.
        memory.oneQueryMilliseconds = try await get(http, url(port: port, groupBy: "channel"))
        memory.oneQueryPeak = status.peak()

        // `concurrency` at once, 3 rounds over channel, none and day.
        let started = ContinuousClock.now
        for _ in 0..<3 {
            for groupBy in ["channel", "none", "day"] {
                let latencies = try await withThrowingTaskGroup(of: Double.self) { group in
                    for _ in 0..<concurrency { group.addTask { try await get(http, url(port: port, groupBy: groupBy)) } }
                    return try await group.reduce(into: [Double]()) { $0.append($1) }
                }
                memory.concurrentLatencies += latencies
                memory.queries += concurrency
            }
        }
        memory.seconds = BenchClock.seconds(since: started)
        memory.peak = status.peak()
        memory.after = status.rss()

        // Sequential warm requests over HTTP, for the end-to-end latency.
        for groupBy in ["none", "day", "channel"] {
            var runs: [Double] = []
            for _ in 0..<latencyRuns { runs.append(try await get(http, url(port: port, groupBy: groupBy))) }
            memory.warmHTTP.append((groupBy, MetricsBenchmarkCase.percentile(runs.sorted(), 0.5)))
        }

        kill(pid, SIGTERM)
        _ = ChildProcess.waitForExit(pid)
        exited = true
        printToStandardError("  serve: \(memory.line)")
        return memory
    }

    /// One GET; its wall time in ms. Anything but 200 is an error (with the body).
    private func get(_ http: HTTPClient, _ url: String) async throws -> Double {
        let start = ContinuousClock.now
        let response = try await http.execute(HTTPClientRequest(url: url), timeout: .seconds(120))
        let body = try await response.body.collect(upTo: 16 << 20)
        let milliseconds = BenchClock.seconds(since: start) * 1_000
        guard response.status == .ok else {
            throw ChildProcess.Failure("GET \(url): \(response.status.code) \(String(buffer: body))")
        }
        return milliseconds
    }

    private func waitUntilUp(_ http: HTTPClient, port: Int, pid: pid_t, log: String) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                throw ChildProcess.Failure("serve exited with \(ChildProcess.exitStatus(status)):\n\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
            }
            if let response = try? await http.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/ready"), timeout: .seconds(2)),
               response.status == .ok {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ChildProcess.Failure("serve did not become ready within 60 s")
    }
}

/// VmRSS and VmHWM of another process, in bytes.
struct ProcessStatus {
    var pid: pid_t

    func field(_ name: String) -> Int { ProcessMemory.field(name, path: "/proc/\(pid)/status") }
    func rss() -> Int { field("VmRSS") }
    func peak() -> Int { field("VmHWM") }

    /// Resets VmHWM to the current RSS (Linux ≥ 4.0; needs the right to write the process's files).
    func resetPeak() { try? "5".write(toFile: "/proc/\(pid)/clear_refs", atomically: false, encoding: .utf8) }
}

struct MetricsScaleServiceMemory: Sendable {
    var binary: String
    var concurrency: Int
    var days: Int
    var idle = 0
    var oneQueryPeak = 0
    var oneQueryMilliseconds = 0.0
    var peak = 0
    var after = 0
    var queries = 0
    var seconds = 0.0
    var concurrentLatencies: [Double] = []
    var warmHTTP: [(groupBy: String, p50: Double)] = []

    var line: String {
        let sorted = concurrentLatencies.sorted()
        return "RSS idle \(mib(idle)); one cold \(days)-day query (channel, \(BenchFormat.decimal(oneQueryMilliseconds, places: 0)) ms): peak \(mib(oneQueryPeak)) "
            + "(+\(mib(oneQueryPeak - idle))); \(concurrency) concurrent \(days)-day queries × \(queries / max(concurrency, 1)) rounds "
            + "(\(BenchFormat.decimal(seconds, places: 1)) s, p50 \(BenchFormat.decimal(MetricsBenchmarkCase.percentile(sorted, 0.5), places: 1)) ms, "
            + "max \(BenchFormat.decimal(sorted.last ?? 0, places: 1)) ms): peak \(mib(peak)), \(mib(after)) after; warm over HTTP p50 "
            + warmHTTP.map { "\($0.groupBy) \(BenchFormat.decimal($0.p50, places: 1)) ms" }.joined(separator: ", ")
    }

    var json: String {
        let warm = warmHTTP.map { "\"\($0.groupBy)\":\(BenchFormat.decimal($0.p50, places: 3))" }.joined(separator: ",")
        return """
            {"idle_rss_bytes":\(idle),"one_query_peak_rss_bytes":\(oneQueryPeak),"peak_rss_bytes":\(peak),"rss_after_bytes":\(after),\
            "concurrency":\(concurrency),"queries":\(queries),"warm_http_p50_ms":{\(warm)}}
            """
    }

    func mib(_ bytes: Int) -> String { BenchFormat.decimal(Double(bytes) / 1_048_576, places: 1) + " MiB" }
}
