import Foundation
import Histogram

/// The live line (stderr, every second) and the final summary (text, or one JSON object with
/// `--json`, which the integrator's scripts parse: keep field names stable).
enum LoadReport {
    static func liveLine(elapsed: Double, total: LoadCounters, interval: LoadCounters, latency: LoadRecorder.LatencyHistogram) -> String {
        let seconds = BenchFormat.decimal(elapsed, places: 0)
        var line = "[\(String(repeating: " ", count: max(0, 4 - seconds.count)))\(seconds)s]"
        line += " sent \(BenchFormat.count(total.eventsSent)) ok \(BenchFormat.count(total.eventsAcknowledged))"
        line += " | err 4xx \(total.status4xx) 5xx \(total.status5xx) 503 \(total.status503) transport \(total.transport)"
        if total.statusOther + total.badResponses > 0 { line += " other \(total.statusOther + total.badResponses)" }
        line += " | \(BenchFormat.count(interval.eventsAcknowledged)) ok ev/s, \(BenchFormat.count(interval.requests)) req/s"
        if latency.totalCount > 0 {
            line += " | p50 \(BenchFormat.millis(micros: latency.valueAtPercentile(50))) p99 \(BenchFormat.millis(micros: latency.valueAtPercentile(99)))"
        }
        return line
    }
}

/// The final summary; `--json` prints it as one object on stdout.
struct LoadSummary: Encodable {
    struct Errors: Encodable {
        var status4xx: Int
        var status503: Int
        var status5xx: Int
        /// 1xx–3xx other than 202.
        var statusOther: Int
        /// A 202 whose bulk body did not parse or add up (nothing from it went into the ack log).
        var badResponse: Int
        var transport: Int
    }

    struct Latency: Encodable {
        var p50: Double
        var p90: Double
        var p99: Double
        var p99_9: Double
        var max: Double
        var mean: Double
    }

    var runId: String
    var url: String
    var mode: String
    var batch: Int
    var concurrency: Int
    /// Requests in flight per connection (1 = no pipelining).
    var pipeline: Int
    var threads: Int
    /// Events per second asked for; 0 = unlimited.
    var rateLimit: Double
    var durationSeconds: Double
    var requests: Int
    var acceptedRequests: Int
    var retries: Int
    var eventsSent: Int
    var duplicatesSent: Int
    var eventsAcknowledged: Int
    var eventsRejected: Int
    var errors: Errors
    /// Acknowledged events per second over the whole run.
    var eventsPerSecond: Double
    /// Requests completed (any outcome) per second.
    var requestsPerSecond: Double
    /// Milliseconds, of answered requests (transport failures excluded).
    var latencyMs: Latency
    var ackLog: String?

    init(plan: LoadPlan, batch: Int, rateLimit: Double, elapsed: Double, counters c: LoadCounters, latency h: LoadRecorder.LatencyHistogram, ackLog: String?) {
        func ms(_ micros: UInt64) -> Double { (Double(micros) / 10).rounded() / 100 }
        runId = plan.runID
        url = plan.target.url
        mode = plan.bulk ? "bulk" : "single"
        self.batch = plan.bulk ? batch : 1
        concurrency = plan.concurrency
        pipeline = plan.pipeline
        threads = plan.threads
        self.rateLimit = rateLimit
        durationSeconds = (elapsed * 1000).rounded() / 1000
        requests = c.requests
        acceptedRequests = c.accepted
        retries = c.retries
        eventsSent = c.eventsSent
        duplicatesSent = c.duplicatesSent
        eventsAcknowledged = c.eventsAcknowledged
        eventsRejected = c.eventsRejected
        errors = Errors(
            status4xx: c.status4xx, status503: c.status503, status5xx: c.status5xx, statusOther: c.statusOther,
            badResponse: c.badResponses, transport: c.transport)
        eventsPerSecond = elapsed > 0 ? (Double(c.eventsAcknowledged) / elapsed).rounded() : 0
        requestsPerSecond = elapsed > 0 ? (Double(c.requests) / elapsed).rounded() : 0
        let empty = h.totalCount == 0
        latencyMs = Latency(
            p50: empty ? 0 : ms(h.valueAtPercentile(50)), p90: empty ? 0 : ms(h.valueAtPercentile(90)),
            p99: empty ? 0 : ms(h.valueAtPercentile(99)), p99_9: empty ? 0 : ms(h.valueAtPercentile(99.9)),
            max: empty ? 0 : ms(h.max), mean: empty ? 0 : (h.mean / 10).rounded() / 100)
        self.ackLog = ackLog
    }

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    var text: String {
        func n(_ value: Int) -> String { BenchFormat.count(value) }
        func d(_ value: Double) -> String { BenchFormat.decimal(value, places: 2) }
        var lines = [
            "load \(runId): \(mode)\(mode == "bulk" ? " ×\(batch)" : "") → \(url), concurrency \(concurrency)\(pipeline > 1 ? ", pipeline \(pipeline)" : ""), rate \(rateLimit > 0 ? BenchFormat.count(rateLimit) + " ev/s" : "unlimited")",
            "  duration        \(d(durationSeconds)) s",
            "  events          sent \(n(eventsSent)) (duplicates \(n(duplicatesSent))), acknowledged \(n(eventsAcknowledged)), rejected \(n(eventsRejected))",
            "  requests        \(n(requests)), accepted \(n(acceptedRequests)), retries \(n(retries))",
            "  errors          4xx \(n(errors.status4xx)), 503 \(n(errors.status503)), 5xx \(n(errors.status5xx)), transport \(n(errors.transport)), other \(n(errors.statusOther + errors.badResponse))",
            "  throughput      \(BenchFormat.count(eventsPerSecond)) events/s acknowledged, \(BenchFormat.count(requestsPerSecond)) requests/s",
            "  latency (ms)    p50 \(d(latencyMs.p50))  p90 \(d(latencyMs.p90))  p99 \(d(latencyMs.p99))  p99.9 \(d(latencyMs.p99_9))  max \(d(latencyMs.max))  mean \(d(latencyMs.mean))",
        ]
        if let ackLog { lines.append("  ack log         \(ackLog)") }
        return lines.joined(separator: "\n")
    }
}
