import ArgumentParser
import Events
import Foundation
import TestSupport

/// `bench parse`: where the time of bulk ingest goes before the WAL. Measures, in one run and on the
/// same generated events, µs per event for parsing and validating (single bodies, `{"events":[...]}`
/// bodies and NDJSON), WAL record encoding and decoding, and, as the baseline, Foundation's
/// JSONDecoder decoding the same bodies into a Codable struct.
struct EventParseBenchmarkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parse",
        abstract: "Event JSON parsing, validation and WAL record codec, against Foundation's JSONDecoder."
    )

    @Option(help: "Distinct events in the generated corpus.")
    var events: Int = 20_000

    @Option(help: "Events per bulk body.")
    var bulkSize: Int = 1_000

    @Option(help: "Timed rounds per measurement; the best and the median are reported.")
    var rounds: Int = 9

    @Option(help: "Concurrent workers for the multi-core bulk measurement (default: active cores).")
    var workers: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(inversion: .prefixedNo, help: "Also measure Foundation's JSONDecoder as the baseline.")
    var baseline = true

    func validate() throws {
        guard events > 0, bulkSize > 0, rounds > 0, workers > 0 else {
            throw ValidationError("--events, --bulk-size, --rounds and --workers must be positive")
        }
    }

    func run() async throws {
        let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
        let corpus = BenchmarkCorpus(count: events, bulkSize: bulkSize, nowMicros: now)
        let parser = EventParser()
        print("event parse benchmark: \(events) events of \(corpus.averageBytes) bytes on average, bulk bodies of \(bulkSize), \(rounds) rounds")

        // Parsed once up front, for the codec measurements and to check the corpus is valid.
        let parsed = corpus.singles.map { body in
            switch parser.parseEvent(body, receivedAtMicros: now) {
            case .success(let event): return event
            case .failure(let error): fatalError("benchmark corpus rejected: \(error)")
            }
        }
        let records = parsed.map { EventRecordCodec.encode($0) }
        var sink: Int64 = 0

        print("  \("".padding(toLength: 44, withPad: " ", startingAt: 0))  µs/event: best  median  best CPU")
        /// Runs `body` (one pass over the corpus) `rounds` times. Reports the best and median wall time
        /// and the best thread CPU time per event (CPU time is what to compare when other work shares
        /// the machine); returns the best CPU time.
        func measure(_ name: String, perRound: Int, _ body: () -> Int64) -> Double {
            _ = body()  // warm-up
            var wall: [Double] = []
            var cpu: [Double] = []
            for _ in 0..<rounds {
                let cpuStart = eventBenchThreadCPUSeconds()
                let start = ContinuousClock.now
                sink &+= body()
                wall.append(eventBenchSeconds(ContinuousClock.now - start) / Double(perRound) * 1_000_000)
                cpu.append((eventBenchThreadCPUSeconds() - cpuStart) / Double(perRound) * 1_000_000)
            }
            wall.sort()
            cpu.sort()
            let columns = [wall[0], wall[wall.count / 2], cpu[0]].map { eventBenchFormat($0).eventBenchLeftPadded(8) }.joined()
            print("  \(name.padding(toLength: 44, withPad: " ", startingAt: 0))  \(columns)")
            return cpu[0]
        }

        let n = corpus.singles.count
        let parseSingle = measure("parse+validate, one body per event", perRound: n) {
            var acc: Int64 = 0
            for body in corpus.singles {
                if case .success(let e) = parser.parseEvent(body, receivedAtMicros: now) { acc &+= e.timestampMicros }
            }
            return acc
        }
        let parseBulk = measure("parse+validate, {\"events\":[...]} bodies", perRound: n) {
            var acc: Int64 = 0
            for body in corpus.bulkJSON {
                if case .success(let r) = parser.parseBulk(body, format: .json, receivedAtMicros: now) { acc &+= Int64(r.events.count) }
            }
            return acc
        }
        _ = measure("parse+validate, NDJSON bodies", perRound: n) {
            var acc: Int64 = 0
            for body in corpus.bulkNDJSON {
                if case .success(let r) = parser.parseBulk(body, format: .ndjson, receivedAtMicros: now) { acc &+= Int64(r.events.count) }
            }
            return acc
        }
        let encode = measure("WAL record encode", perRound: n) {
            var buffer: [UInt8] = []
            buffer.reserveCapacity(1 << 20)
            var acc: Int64 = 0
            for event in parsed {
                if buffer.count > (1 << 20) - 16_384 { buffer.removeAll(keepingCapacity: true) }
                EventRecordCodec.encode(event, into: &buffer)
                acc &+= Int64(buffer.count)
            }
            return acc
        }
        _ = measure("WAL record decode", perRound: n) {
            var acc: Int64 = 0
            for record in records {
                if let e = try? EventRecordCodec.decode(record) { acc &+= e.timestampMicros }
            }
            return acc
        }
        _ = measure("idempotency key derivation (SHA-256)", perRound: n) {
            var acc: Int64 = 0
            for event in parsed {
                let key = IdempotencyKey.derived(
                    userID: event.userID, eventName: event.eventName, channel: event.channel,
                    timestampMicros: event.timestampMicros, campaignID: event.campaignID
                )
                acc &+= Int64(truncatingIfNeeded: key.low)
            }
            return acc
        }
        let endToEnd = measure("parse+validate+encode, one body per event", perRound: n) {
            var buffer: [UInt8] = []
            buffer.reserveCapacity(1 << 20)
            var acc: Int64 = 0
            for body in corpus.singles {
                if case .success(let e) = parser.parseEvent(body, receivedAtMicros: now) {
                    if buffer.count > (1 << 20) - 16_384 { buffer.removeAll(keepingCapacity: true) }
                    EventRecordCodec.encode(e, into: &buffer)
                    acc &+= Int64(buffer.count)
                }
            }
            return acc
        }
        let bulkEndToEnd = measure("parse+validate+encode, bulk bodies", perRound: n) {
            Self.parseAndEncode(corpus.bulkJSON, parser: parser, now: now)
        }

        // Issue 18: the load generator's events (`bench load`, seed 42), 100 per body, as our bulk body
        // and as a Segment batch: what `/events/bulk` and `/v1/batch` parse for the same events.
        let (oursBodies, segmentBodies) = Self.loadGeneratorBodies(count: n, now: now)
        let oursLoad = measure("parse, bench load events x100: ours", perRound: n) {
            var acc: Int64 = 0
            for body in oursBodies {
                if case .success(let r) = parser.parseBulk(body, format: .json, receivedAtMicros: now) { acc &+= Int64(r.events.count) }
            }
            return acc
        }
        let segmentLoad = measure("parse+map, same events: Segment", perRound: n) {
            var acc: Int64 = 0
            for body in segmentBodies {
                let result = body.withUnsafeBytes { parser.parseSegment($0, call: nil, headerWriteKey: nil, receivedAtMicros: now) }
                if case .success(let batch) = result { acc &+= Int64(batch.parsed.events.count) }
            }
            return acc
        }

        var foundationSingle = Double.nan
        var foundationBulk = Double.nan
        if baseline {
            let decoder = JSONDecoder()
            // The baseline must decode successfully, or it would time error paths.
            for body in corpus.singlesData { _ = try decoder.decode(BenchmarkCodableEvent.self, from: body) }
            for body in corpus.bulkJSONData { _ = try decoder.decode(BenchmarkCodableBulk.self, from: body) }
            foundationSingle = measure("Foundation JSONDecoder, one body per event", perRound: n) {
                var acc: Int64 = 0
                for body in corpus.singlesData {
                    if let e = try? decoder.decode(BenchmarkCodableEvent.self, from: body) { acc &+= Int64(e.user_id.utf8.count) }
                }
                return acc
            }
            foundationBulk = measure("Foundation JSONDecoder, {\"events\":[...]}", perRound: n) {
                var acc: Int64 = 0
                for body in corpus.bulkJSONData {
                    if let b = try? decoder.decode(BenchmarkCodableBulk.self, from: body) { acc &+= Int64(b.events.count) }
                }
                return acc
            }
        }

        // Both cores (or --workers) at once, each on its own share of the bulk bodies.
        let bodies = corpus.bulkJSON
        let shares = (0..<workers).map { w in stride(from: w, to: bodies.count, by: workers).map { bodies[$0] } }
        var wall: [Double] = []
        for _ in 0..<max(3, rounds / 2) {
            let start = ContinuousClock.now
            let total = await withTaskGroup(of: Int64.self) { group in
                for share in shares {
                    group.addTask { Self.parseAndEncode(share, parser: parser, now: now) }
                }
                return await group.reduce(0, &+)
            }
            sink &+= total
            wall.append(eventBenchSeconds(ContinuousClock.now - start))
        }
        wall.sort()
        let parallelRate = Double(n) / wall[0]

        print("")
        if baseline {
            print("  JSONDecoder / parse+validate (single bodies): \(eventBenchFormat(foundationSingle / parseSingle, digits: 1))x")
            print("  JSONDecoder / parse+validate (bulk bodies):   \(eventBenchFormat(foundationBulk / parseBulk, digits: 1))x")
        }
        print("  parse+validate+encode per event (best CPU):   \(eventBenchFormat(endToEnd)) µs single, \(eventBenchFormat(bulkEndToEnd)) µs bulk (target ≤ 1.5 µs)")
        print("  Segment /v1/batch vs ours, same events (best CPU): \(eventBenchFormat(segmentLoad)) vs \(eventBenchFormat(oursLoad)) µs")
        print("  encode alone (best CPU):                      \(eventBenchFormat(encode)) µs")
        print("  bulk parse+validate+encode, \(workers) workers (best wall): \(Int(parallelRate)) events/s")
        print("  (checksum \(sink))")
    }

    /// `count` events of `bench load --seed 42` in bodies of 100: ours and Segment's, each event the same.
    private static func loadGeneratorBodies(count: Int, now: Int64) -> (ours: [[UInt8]], segment: [[UInt8]]) {
        var generator = EventGenerator(seed: 42)
        var ours: [[UInt8]] = [], segment: [[UInt8]] = []
        let prefix = Array("bench-parse-".utf8)
        for first in stride(from: 0, to: count, by: 100) {
            var o = Array(#"{"events":["#.utf8), s = Array(#"{"batch":["#.utf8)
            for i in first..<min(count, first + 100) {
                let event = generator.next(timestamp: now / 1_000_000 - Int64(generator.random.below(60)))
                if i > first { o.append(UInt8(ascii: ",")); s.append(UInt8(ascii: ",")) }
                event.appendJSON(to: &o, keyPrefix: prefix, keyNumber: i)
                event.appendSegmentJSON(to: &s, keyPrefix: prefix, keyNumber: i)
            }
            ours.append(o + Array("]}".utf8))
            segment.append(s + Array("]}".utf8))
        }
        return (ours, segment)
    }

    private static func parseAndEncode(_ bodies: [[UInt8]], parser: EventParser, now: Int64) -> Int64 {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 20)
        var acc: Int64 = 0
        for body in bodies {
            guard case .success(let result) = parser.parseBulk(body, format: .json, receivedAtMicros: now) else { continue }
            buffer.removeAll(keepingCapacity: true)
            for event in result.events { EventRecordCodec.encode(event, into: &buffer) }
            acc &+= Int64(buffer.count)
        }
        return acc
    }
}

extension String {
    fileprivate func eventBenchLeftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}

private func eventBenchThreadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

private func eventBenchSeconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

private func eventBenchFormat(_ value: Double, digits: Int = 3) -> String {
    String(format: "%.\(digits)f", value)
}

/// Events shaped like the service's real traffic: the README example with varied values, a quarter
/// with RFC 3339 timestamps, some without campaign, tags or metadata.
private struct BenchmarkCorpus {
    var singles: [[UInt8]] = []
    var singlesData: [Data] = []
    var bulkJSON: [[UInt8]] = []
    var bulkJSONData: [Data] = []
    var bulkNDJSON: [[UInt8]] = []
    var averageBytes = 0

    init(count: Int, bulkSize: Int, nowMicros: Int64) {
        var rng = BenchmarkRandom(seed: 0x5EED)
        let names = ["product_view", "add_to_cart", "checkout_started", "purchase", "search", "page_view"]
        let channels = ["web", "ios", "android", "email"]
        let tagPool = ["electronics", "sale", "new", "home", "garden", "books", "summer", "clearance"]
        let currencies = ["TRY", "EUR", "USD"]
        let nowSeconds = nowMicros / 1_000_000
        let iso8601 = ISO8601DateFormatter()
        var texts: [String] = []
        for i in 0..<count {
            let ts = nowSeconds - Int64(rng.next() % (30 * 86_400))
            var fields = [
                "\"event_name\": \"\(names[Int(rng.next() % UInt64(names.count))])\"",
                "\"channel\": \"\(channels[Int(rng.next() % UInt64(channels.count))])\"",
            ]
            if rng.next() % 4 != 0 { fields.append("\"campaign_id\": \"cmp_\(rng.next() % 1000)\"") }
            fields.append("\"user_id\": \"user_\(rng.next() % 100_000)\"")
            if i % 4 == 0 {
                let date = Date(timeIntervalSince1970: TimeInterval(ts))
                fields.append("\"timestamp\": \"\(iso8601.string(from: date))\"")
            } else {
                fields.append("\"timestamp\": \(ts)")
            }
            let tagCount = Int(rng.next() % 4)
            if tagCount > 0 {
                let tags = (0..<tagCount).map { _ in "\"\(tagPool[Int(rng.next() % UInt64(tagPool.count))])\"" }
                fields.append("\"tags\": [\(tags.joined(separator: ", "))]")
            }
            if rng.next() % 5 != 0 {
                let price = Double(rng.next() % 100_000) / 100
                fields.append("\"metadata\": {\"price\": \(price), \"currency\": \"\(currencies[Int(rng.next() % 3)])\"}")
            }
            texts.append("{" + fields.joined(separator: ", ") + "}")
        }
        singles = texts.map { Array($0.utf8) }
        singlesData = texts.map { Data($0.utf8) }
        averageBytes = singles.reduce(0) { $0 + $1.count } / max(1, count)
        for start in stride(from: 0, to: count, by: bulkSize) {
            let chunk = texts[start..<min(count, start + bulkSize)]
            let json = "{\"events\": [" + chunk.joined(separator: ",\n") + "]}"
            bulkJSON.append(Array(json.utf8))
            bulkJSONData.append(Data(json.utf8))
            bulkNDJSON.append(Array((chunk.joined(separator: "\n") + "\n").utf8))
        }
    }
}

private typealias BenchmarkRandom = SplitMix64

/// The baseline: what a straightforward Codable model of the same JSON looks like.
private struct BenchmarkCodableEvent: Decodable {
    var event_name: String
    var channel: String
    var campaign_id: String?
    var user_id: String
    var timestamp: BenchmarkCodableTimestamp
    var tags: [String]?
    var metadata: [String: BenchmarkJSONValue]?
    var idempotency_key: String?
}

private struct BenchmarkCodableBulk: Decodable {
    var events: [BenchmarkCodableEvent]
}

private enum BenchmarkCodableTimestamp: Decodable {
    case seconds(Int64)
    case text(String)

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let seconds = try? container.decode(Int64.self) {
            self = .seconds(seconds)
        } else {
            self = .text(try container.decode(String.self))
        }
    }
}

private indirect enum BenchmarkJSONValue: Decodable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([BenchmarkJSONValue])
    case object([String: BenchmarkJSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let b = try? container.decode(Bool.self) {
            self = .bool(b)
        } else if let n = try? container.decode(Double.self) {
            self = .number(n)
        } else if let s = try? container.decode(String.self) {
            self = .string(s)
        } else if let a = try? container.decode([BenchmarkJSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try container.decode([String: BenchmarkJSONValue].self))
        }
    }
}
