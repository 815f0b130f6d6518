import ArgumentParser
import Foundation
import NIOCore

/// `bench load`: the load generator, and `bench`'s default subcommand, so the old Go tool's
/// invocations (`bench -endpoint events -total 100000 -concurrency 64`) keep working unchanged.
///
/// Every event carries an explicit `idempotency_key` `<run-id>-<n>`, and a duplicate re-sends an
/// earlier event byte for byte, key included. So the ack log (`--ack-log`) names exactly the rows
/// PostgreSQL must hold: `bench check` hashes each key as the service does and looks for it.
struct LoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Send synthetic events to the ingest API and report throughput and latency.",
        discussion: """
            Options take one dash or two (-total 1000, --total=1000). The run stops at whichever of \
            -total and --duration comes first, or at Ctrl-C, and sends only to the given endpoint.

            Each event has idempotency_key "<run-id>-<n>"; -duplication-percent re-sends that share of \
            events as exact copies of earlier ones (same key). With --ack-log, the key of every event the \
            service acknowledged is appended to the file: for POST /events a 202; for bulk, each event \
            not listed in the answer's "errors". With --format segment the key is the messageId and the \
            line is sdk:segment:<write key length>:<write key><messageId>, the text the service hashes. \
            `bench check --ack-log FILE` then verifies PostgreSQL.

            The live line (stderr, each second) shows events sent and acknowledged, failed requests by \
            kind, the last second's rate and its p50/p99 latency. --json prints the summary as one JSON \
            object on stdout.
            """
    )

    @Option(name: .singleOrDoubleDash("endpoint"), help: "A path on http://127.0.0.1:8080 (events), host:port/path, or a full URL.")
    var endpoint = "events"

    @Option(name: .singleOrDoubleDash("total"), help: "Events to send, duplicates included (0 = no count limit; needs --duration).")
    var total = 10_000

    @Option(name: .singleOrDoubleDash("rate"), help: "Events per second across all connections (0 = as fast as possible).")
    var rate: Double = 0

    @Option(name: .singleOrDoubleDash("concurrency"), help: "Keep-alive connections, each with one request in flight (or --pipeline of them).")
    var concurrency = 64

    @Option(name: .singleOrDoubleDash("pipeline"), help: "Requests in flight per connection (HTTP/1.1 pipelining; 1 = none, as wrk and browsers do).")
    var pipeline = 1

    @Option(name: .singleOrDoubleDash("threads"), help: "Event-loop threads for the connections (default: one per core, at most -concurrency).")
    var threads: Int?

    @Option(name: .singleOrDoubleDash("duplication-percent"), help: "Share of events (0–100) that re-send an earlier event exactly, key included.")
    var duplicationPercent: Double = 0

    @Option(name: .singleOrDoubleDash("batch"), help: "Send N events per request through /events/bulk as {\"events\":[…]}.")
    var batch: Int?

    @Option(name: .singleOrDoubleDash("format"), help: "ours (our event JSON) or segment (Segment track messages; give -endpoint v1/batch with --batch, v1/track without).")
    var format = "ours"

    @Option(name: .singleOrDoubleDash("write-key"), help: "With --format segment: the write key, sent as HTTP Basic auth (needed when the service sets INGEST_API_KEYS).")
    var writeKey: String?

    @Option(name: .singleOrDoubleDash("duration"), help: "Stop after this many seconds.")
    var duration: Double?

    @Option(name: .singleOrDoubleDash("ack-log"), help: "Append the idempotency key of every acknowledged event to this file.")
    var ackLog: String?

    @Flag(name: .singleOrDoubleDash("retry-503"), help: "Retry a 503 after its Retry-After (at most 5 s per wait, 120 s per request) instead of counting it and moving on.")
    var retry503 = false

    @Option(name: .singleOrDoubleDash("timeout"), help: "Seconds before a request counts as a transport error.")
    var timeout: Double = 30

    @Option(name: .singleOrDoubleDash("run-id"), help: "Key prefix (default: 16 random hex digits); reuse one only to re-send the same keys on purpose.")
    var runID: String?

    @Option(name: .singleOrDoubleDash("seed"), help: "PRNG seed for the event mix (default: random).")
    var seed: UInt64?

    @Flag(name: .singleOrDoubleDash("json"), help: "Print the final summary as one JSON object on stdout.")
    var json = false

    @Flag(name: .singleOrDoubleDash("quiet"), help: "No live line.")
    var quiet = false

    func validate() throws {
        guard total >= 0 else { throw ValidationError("-total must be ≥ 0") }
        guard total > 0 || duration != nil else { throw ValidationError("give -total > 0 or --duration: a run must be bounded") }
        if let duration, !(duration > 0) { throw ValidationError("--duration must be > 0 seconds") }
        guard rate >= 0, rate.isFinite else { throw ValidationError("-rate must be ≥ 0") }
        guard (1...10_000).contains(concurrency) else { throw ValidationError("-concurrency must be 1…10000") }
        guard (1...1_000).contains(pipeline) else { throw ValidationError("--pipeline must be 1…1000") }
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be 1…256") }
        guard (0...100).contains(duplicationPercent) else { throw ValidationError("-duplication-percent must be 0…100") }
        if let batch, !(1...100_000).contains(batch) { throw ValidationError("--batch must be 1…100000") }
        guard timeout > 0 else { throw ValidationError("--timeout must be > 0") }
        guard format == "ours" || format == "segment" else { throw ValidationError("--format must be ours or segment") }
        // Keys go into JSON bodies and the ack log unescaped: keep them to plain characters, and out
        // of the ack log's `sdk:` domain (Segment message ids), which `bench check` hashes differently.
        if let runID, runID.isEmpty || runID.count > 100 || !runID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.:".contains($0)) })
            || runID.hasPrefix(SDKAckKey.domain)
        {
            throw ValidationError("--run-id must be 1–100 characters of A–Z, a–z, 0–9, '-', '_', '.', ':', not starting with 'sdk:'")
        }
        if let writeKey {
            guard format == "segment" else { throw ValidationError("--write-key is for --format segment") }
            // It goes into a header and each ack log line: printable ASCII, no spaces.
            guard !writeKey.isEmpty, writeKey.utf8.count <= 200, writeKey.utf8.allSatisfy({ (33...126).contains($0) }) else {
                throw ValidationError("--write-key must be 1–200 printable ASCII characters without spaces")
            }
        }
        _ = try LoadTarget(endpoint: endpoint, bulk: batch != nil)
    }

    func run() async throws {
        var plan = LoadPlan(
            target: try LoadTarget(endpoint: endpoint, bulk: batch != nil),
            bulk: batch != nil,
            concurrency: concurrency,
            duplicationPercent: duplicationPercent,
            runID: runID ?? Self.randomRunID(),
            seed: seed ?? UInt64.random(in: .min ... .max),
            retry503: retry503,
            requestTimeout: .nanoseconds(Int64(timeout * 1e9)))
        plan.segment = format == "segment"
        plan.writeKey = writeKey
        plan.pipeline = pipeline
        plan.threads = threads ?? min(System.coreCount, concurrency)
        let log = try ackLog.map { try LoadAckLog(path: $0) }
        let start = ContinuousClock.now
        let schedule = LoadSchedule(
            start: start, totalEvents: total > 0 ? total : nil, duration: duration.map { .seconds($0) },
            eventsPerRequest: batch ?? 1, rate: rate > 0 ? rate : nil)
        let recorder = LoadRecorder(shards: plan.threads)
        let interrupt = Self.stopOnInterrupt(schedule)
        let runner = LoadRunner(plan: plan, schedule: schedule, recorder: recorder, ackLog: log)

        if !quiet {
            printToStandardError(
                "load \(plan.runID): \(plan.bulk ? "bulk ×\(batch!)" : "single") → \(plan.target.url), concurrency \(concurrency)"
                    + (pipeline > 1 ? ", pipeline \(pipeline)" : "") + ", \(plan.threads) thread\(plan.threads == 1 ? "" : "s")")
        }
        let ticker = Task { await Self.tick(schedule: schedule, recorder: recorder, ackLog: log, quiet: quiet) }
        try await runner.run()
        let elapsed = BenchClock.seconds(since: start)
        ticker.cancel()
        interrupt.cancel()
        try log?.flush()

        let (counters, latency) = recorder.final()
        let summary = LoadSummary(
            plan: plan, batch: batch ?? 1, rateLimit: rate, elapsed: elapsed, counters: counters, latency: latency, ackLog: ackLog)
        if json {
            printToStandardError(summary.text)
            print(try summary.json())
        } else {
            print(summary.text)
        }
        if counters.accepted == 0 {
            printToStandardError("load: no request was accepted (is the service running at \(plan.target.url)?)")
            throw ExitCode.failure
        }
    }

    /// One live line a second, and the ack log flushed with it.
    private static func tick(schedule: LoadSchedule, recorder: LoadRecorder, ackLog: LoadAckLog?, quiet: Bool) async {
        var second = 1
        while true {
            do {
                try await Task.sleep(until: schedule.start + .seconds(second), clock: .continuous)
            } catch {
                return  // cancelled: the run flushes and reports itself
            }
            second += 1
            let (total, interval, latency) = recorder.takeInterval()
            do {
                try ackLog?.flush()
            } catch {
                printToStandardError("load: \(error); stopping")
                schedule.stop()
            }
            if !quiet {
                printToStandardError(LoadReport.liveLine(elapsed: BenchClock.seconds(since: schedule.start), total: total, interval: interval, latency: latency))
            }
        }
    }

    /// 8 hex digits of time and 8 random: unique across runs, short enough for the ack log.
    static func randomRunID() -> String {
        let time = UInt32(truncatingIfNeeded: Int(Date().timeIntervalSince1970))
        let random = UInt32.random(in: .min ... .max)
        func hex(_ value: UInt32) -> String {
            let digits = String(value, radix: 16)
            return String(repeating: "0", count: 8 - digits.count) + digits
        }
        return hex(time) + hex(random)
    }

    /// The first Ctrl-C ends the run cleanly (summary and ack log written); a second one kills it.
    private static func stopOnInterrupt(_ schedule: LoadSchedule) -> DispatchSourceSignal {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler {
            printToStandardError("load: stopping; waiting for requests in flight (Ctrl-C again to quit at once)")
            schedule.stop()
            signal(SIGINT, SIG_DFL)
        }
        source.resume()
        return source
    }
}
