import ArgumentParser
import Foundation
import Logging
import TestSupport
import WAL

#if canImport(Glibc)
import Glibc
#endif

/// `bench wal`: WAL append throughput under group commit with 1, 16 and 256 concurrent appenders of
/// ~200-byte analytics events, against one write + fdatasync per record in the same run, plus the
/// compression ratio LZ4 gets on those events. Run it on the disk the service will use (`--dir`).
struct WALBenchmarkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wal",
        abstract: "WAL appends/s and MB/s (group commit) against one fdatasync per record."
    )

    @Option(help: "Directory for the benchmark's WAL files (default: a fresh temporary directory, removed afterwards).")
    var dir: String?

    @Option(help: "At most this many records per case.")
    var records: Int = 2_000_000

    @Option(help: "At most this many seconds per case.")
    var seconds: Double = 3

    @Option(help: "Comma-separated numbers of concurrent appenders.")
    var appenders: String = "1,16,256"

    @Option(help: "Seconds for the one-fdatasync-per-record baseline.")
    var baselineSeconds: Double = 2

    @Option(help: "Also run the largest appender count with fsync every N ms (not durable per ack; shows the CPU ceiling). 0 skips it.")
    var intervalMs: Int = 10

    @Flag(help: "Keep the benchmark's files.")
    var keep = false

    func run() async throws {
        let counts = appenders.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }.filter { $0 > 0 }
        guard !counts.isEmpty else { throw ValidationError("--appenders needs at least one positive number") }
        let settings = WALBenchmarkSettings(
            directory: dir, maxRecords: records, seconds: seconds, appenderCounts: counts,
            baselineSeconds: baselineSeconds, intervalMilliseconds: intervalMs, keepFiles: keep)
        try await runWALBenchmark(settings)
    }
}

struct WALBenchmarkSettings: Sendable {
    var directory: String?
    var maxRecords: Int
    var seconds: Double
    var appenderCounts: [Int]
    var baselineSeconds: Double
    var intervalMilliseconds: Int
    var keepFiles: Bool
}

/// The whole benchmark: makes the records, runs the baseline and every case, prints the table.
func runWALBenchmark(_ settings: WALBenchmarkSettings) async throws {
    let root = settings.directory ?? NSTemporaryDirectory() + "wal-bench-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    defer { if !settings.keepFiles { try? FileManager.default.removeItem(atPath: root) } }
    var logger = Logger(label: "bench.wal")
    logger.logLevel = .warning
    let pool = WALBenchmarkEvents.make(count: 20_000)
    let averageSize = Double(pool.reduce(0) { $0 + $1.count }) / Double(pool.count)
    print("WAL benchmark in \(root)")
    print(String(format: "records: %d distinct JSON events, %.0f bytes on average; up to %d records or %.1f s per case",
                 pool.count, averageSize, settings.maxRecords, settings.seconds))
    if let sample = pool.first { print("sample: \(String(decoding: sample, as: UTF8.self))") }
    print("")

    // Baseline: one pwrite + one fdatasync per record, one writer.
    let baselinePath = root + "/baseline.dat"
    let baseline = try fdatasyncPerRecord(pool: pool, path: baselinePath, seconds: settings.baselineSeconds, maxRecords: settings.maxRecords)
    unlink(baselinePath)

    var results: [WALBenchmarkResult] = [baseline]
    for count in settings.appenderCounts {
        results.append(try await measureWAL(
            name: "WAL, \(count) appender\(count == 1 ? "" : "s")", appenders: count, policy: .always,
            pool: pool, directory: root + "/always-\(count)", settings: settings, logger: logger))
    }
    // The same without zero-filling ahead (`--wal-preallocate-bytes 0`): every fdatasync grows the file.
    for count in settings.appenderCounts {
        results.append(try await measureWAL(
            name: "WAL, \(count) appender\(count == 1 ? "" : "s"), no zero-fill", appenders: count, policy: .always,
            pool: pool, directory: root + "/append-\(count)", settings: settings, logger: logger, preallocationBytes: 0))
    }
    if settings.intervalMilliseconds > 0, let most = settings.appenderCounts.max() {
        results.append(try await measureWAL(
            name: "WAL, \(most) appenders, fsync every \(settings.intervalMilliseconds) ms*", appenders: most,
            policy: .interval(.milliseconds(settings.intervalMilliseconds)),
            pool: pool, directory: root + "/interval-\(most)", settings: settings, logger: logger))
    }

    print("case                                           records   seconds    records/s      MB/s  records/batch  vs baseline")
    let baselineRate = Double(baseline.records) / baseline.seconds
    for result in results {
        let rate = Double(result.records) / result.seconds
        let perBatch = Double(result.records) / Double(max(1, result.batches))
        print(
            result.name.padding(toLength: 45, withPad: " ", startingAt: 0)
                + String(format: " %9d %9.2f %12.0f %9.2f %14.1f %11.1fx",
                         result.records, result.seconds, rate, Double(result.bytes) / result.seconds / 1e6, perBatch, rate / baselineRate))
    }
    let fsyncMillis = baseline.seconds / Double(max(1, baseline.records)) * 1000
    print(String(format: "\nfdatasync + write per record: %.2f ms; with N appenders waiting on each group, group commit tops out near N / %.2f ms.",
                 fsyncMillis, fsyncMillis))
    if settings.intervalMilliseconds > 0 { print("* acknowledged before fdatasync: accepts a window of loss; shown only as the CPU ceiling.") }
    if let compressed = results.filter({ $0.storedBytes > 0 }).max(by: { $0.rawBytes < $1.rawBytes }) {
        print(String(format: "compression (%@): %d raw payload bytes -> %d stored batch bytes = %.2fx (LZ4 block per batch, header included)",
                     compressed.name, compressed.rawBytes, compressed.storedBytes, Double(compressed.rawBytes) / Double(compressed.storedBytes)))
    }
}

struct WALBenchmarkResult {
    var name: String
    var records: Int
    var bytes: Int
    var seconds: Double
    var batches = 0
    var rawBytes: Int64 = 0
    var storedBytes: Int64 = 0
}

private func measureWAL(
    name: String, appenders: Int, policy: WALFsyncPolicy, pool: [[UInt8]], directory: String,
    settings: WALBenchmarkSettings, logger: Logger, preallocationBytes: Int? = nil
) async throws -> WALBenchmarkResult {
    var configuration = WALConfiguration(directory: directory)
    configuration.fsyncPolicy = policy
    if let preallocationBytes { configuration.preallocationBytes = preallocationBytes }
    configuration.maxUnreplayedBytes = .max
    let wal = try WriteAheadLog.open(configuration, logger: logger)
    let perAppender = max(1, settings.maxRecords / appenders)
    let clock = ContinuousClock()
    let start = clock.now
    let deadline = start + .milliseconds(Int(settings.seconds * 1000))
    let (records, bytes) = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
        for appender in 0..<appenders {
            group.addTask {
                var count = 0
                var bytes = 0
                var index = appender
                while count < perAppender, clock.now < deadline {
                    let record = pool[index % pool.count]
                    _ = try await wal.append(record)
                    count += 1
                    bytes += record.count
                    index += appenders
                }
                return (count, bytes)
            }
        }
        var total = (0, 0)
        for try await part in group { total = (total.0 + part.0, total.1 + part.1) }
        return total
    }
    let elapsed = start.duration(to: clock.now)
    let batches = wal.stats.batchCount
    try await wal.close()
    let inspection = try WALInspector.inspect(directory: directory)
    return WALBenchmarkResult(
        name: name, records: records, bytes: bytes, seconds: seconds(elapsed), batches: batches,
        rawBytes: inspection.rawBytes, storedBytes: inspection.storedBytes)
}

/// The baseline: what acknowledging each record with its own fdatasync costs.
private func fdatasyncPerRecord(pool: [[UInt8]], path: String, seconds limit: Double, maxRecords: Int) throws -> WALBenchmarkResult {
    let fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw WALError.system(errno: errno, operation: "open", file: path) }
    defer { close(fd) }
    let clock = ContinuousClock()
    let start = clock.now
    let deadline = start + .milliseconds(Int(limit * 1000))
    var records = 0
    var bytes = 0
    var offset: off_t = 0
    while records < maxRecords, clock.now < deadline {
        let record = pool[records % pool.count]
        let written = record.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, offset) }
        guard written == record.count else { throw WALError.system(errno: errno, operation: "pwrite", file: path) }
        guard fdatasync(fd) == 0 else { throw WALError.system(errno: errno, operation: "fdatasync", file: path) }
        offset += off_t(written)
        records += 1
        bytes += record.count
    }
    return WALBenchmarkResult(
        name: "fdatasync per record, 1 appender", records: records, bytes: bytes, seconds: seconds(start.duration(to: clock.now)),
        batches: records)
}

private func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// ~200-byte analytics events shaped like the service's: event name, channel, campaign, user id,
/// timestamps, tags and metadata, with random ids so compression is not flattered.
enum WALBenchmarkEvents {
    static func make(count: Int) -> [[UInt8]] {
        var random = SplitMix64(seed: 0x5EED)
        let names = ["page_view", "signup", "purchase", "add_to_cart", "app_open", "email_click", "search", "logout"]
        let channels = ["web", "ios", "android", "email", "api"]
        let tags = ["promo", "mobile", "returning", "new", "beta", "paid", "organic", "eu", "us"]
        let pages = ["/", "/pricing", "/checkout", "/blog/launch", "/docs/api", "/account"]
        let referrers = ["google", "newsletter", "twitter", "direct", "partner"]
        var events: [[UInt8]] = []
        events.reserveCapacity(count)
        for index in 0..<count {
            let timestamp = 1_732_000_000 + index * 3 + Int(random.next() % 3)
            let json = """
                {"event_name":"\(names[Int(random.next() % 8)])","channel":"\(channels[Int(random.next() % 5)])",\
                "campaign_id":"cmp_2024_\(1000 + random.next() % 40)","user_id":"usr_\(String(random.next() % 2_000_000, radix: 16))",\
                "timestamp":\(timestamp),"received_at":\(timestamp + Int(random.next() % 2)),\
                "tags":["\(tags[Int(random.next() % 9)])","\(tags[Int(random.next() % 9)])"],\
                "metadata":{"page":"\(pages[Int(random.next() % 6)])","ref":"\(referrers[Int(random.next() % 5)])"}}
                """
            events.append(Array(json.utf8))
        }
        return events
    }
}
