import Histogram
import Synchronization

/// What happened to one HTTP request.
enum LoadOutcome: Sendable {
    /// 202: `acknowledged` events are durable (all of them for a single POST; for bulk, those not
    /// listed in `errors`), `rejected` were refused one by one in a bulk answer.
    case accepted(acknowledged: Int, rejected: Int)
    /// Any other HTTP status; nothing was acknowledged.
    case status(Int)
    /// A 202 whose bulk body could not be read or did not add up: nothing is taken as acknowledged.
    case badResponse
    /// No HTTP answer: refused connection, reset, timeout.
    case transport
}

/// Counters for a whole run or for one second of it.
struct LoadCounters: Sendable {
    /// HTTP requests answered or failed, `--retry-503` retries included.
    var requests = 0
    var retries = 0
    /// Events the run sent (each counted once, however often a 503 made it retry), duplicates included.
    var eventsSent = 0
    var duplicatesSent = 0
    var eventsAcknowledged = 0
    /// Events a 202 bulk answer listed in `errors`.
    var eventsRejected = 0
    var accepted = 0
    var status4xx = 0
    var status503 = 0
    /// 5xx other than 503.
    var status5xx = 0
    /// 1xx–3xx other than 202.
    var statusOther = 0
    var badResponses = 0
    var transport = 0

    var failedRequests: Int { status4xx + status503 + status5xx + statusOther + badResponses + transport }

    /// Every counter: what `add` sums.
    static var counters: [WritableKeyPath<LoadCounters, Int>] { [
        \.requests, \.retries, \.eventsSent, \.duplicatesSent, \.eventsAcknowledged, \.eventsRejected, \.accepted,
        \.status4xx, \.status503, \.status5xx, \.statusOther, \.badResponses, \.transport,
    ] }

    /// Sums another shard's counters into these.
    mutating func add(_ other: LoadCounters) {
        for counter in Self.counters { self[keyPath: counter] += other[keyPath: counter] }
    }

    mutating func add(_ outcome: LoadOutcome, events: Int, duplicates: Int, retry: Bool) {
        requests += 1
        if retry { retries += 1 }
        eventsSent += events
        duplicatesSent += duplicates
        switch outcome {
        case .accepted(let acknowledged, let rejected):
            accepted += 1
            eventsAcknowledged += acknowledged
            eventsRejected += rejected
        case .status(let code):
            switch code {
            case 503: status503 += 1
            case 400..<500: status4xx += 1
            case 500..<600: status5xx += 1
            default: statusOther += 1
            }
        case .badResponse: badResponses += 1
        case .transport: transport += 1
        }
    }
}

/// Collects every request's outcome and latency: one histogram for the run, one for the current
/// second (the live line's p50/p99). One shard per event-loop thread, so the connections of one
/// loop record under a lock no other loop takes; only the once-a-second ticker visits every shard.
final class LoadRecorder: Sendable {
    /// Latency in microseconds; 3 significant digits; grows past 60 s if a request ever takes longer.
    typealias LatencyHistogram = Histogram<UInt64>

    struct Totals {
        var total = LoadCounters()
        var interval = LoadCounters()
        var totalLatency = LoadRecorder.makeHistogram()
        var intervalLatency = LoadRecorder.makeHistogram()
    }

    /// What the connections of one event loop record into.
    final class Shard: Sendable {
        fileprivate let state = Mutex(Totals())

        func record(_ outcome: LoadOutcome, events: Int, duplicates: Int, retry: Bool, latencyMicros: UInt64) {
            state.withLock { state in
                state.total.add(outcome, events: events, duplicates: duplicates, retry: retry)
                state.interval.add(outcome, events: events, duplicates: duplicates, retry: retry)
                // Latency of every answered request; a transport failure has no latency worth ranking.
                if case .transport = outcome { return }
                _ = state.totalLatency.record(max(latencyMicros, 1))
                _ = state.intervalLatency.record(max(latencyMicros, 1))
            }
        }
    }

    let shards: [Shard]

    init(shards: Int) {
        self.shards = (0..<max(1, shards)).map { _ in Shard() }
    }

    static func makeHistogram() -> LatencyHistogram {
        var histogram = LatencyHistogram(lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        histogram.autoResize = true
        return histogram
    }

    /// The run so far and the interval since the last call, which starts a new interval.
    func takeInterval() -> (total: LoadCounters, interval: LoadCounters, latency: LatencyHistogram) {
        var total = LoadCounters()
        var interval = LoadCounters()
        var latency = Self.makeHistogram()
        for shard in shards {
            shard.state.withLock { state in
                total.add(state.total)
                interval.add(state.interval)
                latency.add(state.intervalLatency)
                state.interval = LoadCounters()
                state.intervalLatency.reset()
            }
        }
        return (total, interval, latency)
    }

    func final() -> (counters: LoadCounters, latency: LatencyHistogram) {
        var total = LoadCounters()
        var latency = Self.makeHistogram()
        for shard in shards {
            shard.state.withLock { state in
                total.add(state.total)
                latency.add(state.totalLatency)
            }
        }
        return (total, latency)
    }
}
