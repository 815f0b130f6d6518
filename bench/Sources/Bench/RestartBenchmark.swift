import ArgumentParser
import AsyncHTTPClient
import Events
import Foundation
import Logging
import NIOCore
import TestSupport
import WAL

#if canImport(Glibc)
import Glibc
#endif

/// `bench restart`: how long the service takes, after kill -9, to be healthy and accept a POST
/// again, with a backlog of unreplayed WAL bytes (PostgreSQL down, so nothing drains it).
///
/// The backlog is written straight through the WAL library (the same `WriteAheadLog.append` the
/// ingest routes call, with realistic encoded events, LZ4 batches of 5,000), which is the same bytes
/// on disk as posting them over HTTP, minutes faster; beyond two segments, sealed segments are
/// relabelled copies of the first (`WALSegmentRelabel`). The service is then started on it, killed with
/// SIGKILL once it accepts a POST, and restarted `--restarts` times; each restart is timed from spawn to
/// the first 200 from `/health` and to the first 202 from `POST /events`. An empty WAL is the baseline
/// in the same run.
struct RestartBenchmarkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restart",
        abstract: "Restart time after kill -9 with a WAL backlog (PostgreSQL down): spawn to healthy and to the first accepted POST.")

    @Option(name: .customLong("unreplayed-bytes"), help: "Comma-separated backlog sizes (k/m/g suffixes), e.g. 1g,8g. An empty WAL is always measured first as the baseline.")
    var unreplayedBytes = "1g,8g"

    @Option(help: "Restarts (each after a kill -9) per size.")
    var restarts = 5

    @Option(help: "The event-metrics-service binary (default: the one next to this bench binary).")
    var service: String?

    @Option(name: .customLong("work-dir"), help: "Where the WAL directories are made (removed afterwards).")
    var workDirectory = NSTemporaryDirectory()

    @Flag(name: .customLong("keep"), help: "Keep the WAL directories (e.g. to run `event-metrics-service wal verify` on them).")
    var keep = false

    func run() async throws {
        let sizes = try [0] + unreplayedBytes.split(separator: ",").map { try parseSize(String($0)) }
        let binary = service ?? URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("event-metrics-service").path
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw ValidationError("no service binary at \(binary)") }
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        var rows: [String] = []
        do {
            for size in sizes {
                let directory = workDirectory + "/ems-restart-\(getpid())-\(size)"
                try? FileManager.default.removeItem(atPath: directory)
                defer { if !keep { try? FileManager.default.removeItem(atPath: directory) } }
                let wal = directory + "/wal"
                let (onDisk, fillSeconds) = try await RestartBenchmarkData.fill(directory: wal, bytes: size)
                printToStandardError("wrote \(onDisk >> 20) MiB of WAL in \(String(format: "%.1f", fillSeconds)) s; restarting \(restarts) times")
                let samples = try await RestartBenchmarkRun(
                    binary: binary, walDirectory: wal, logFile: directory + "/service.log",
                    maxUnreplayedBytes: max(8 << 30, onDisk + (1 << 30)), client: client
                ).measure(restarts: restarts)
                let healthy = samples.map(\.healthy).sorted()
                let accepted = samples.map(\.accepted).sorted()
                let row = #"{"unreplayed_bytes":\#(onDisk),"restarts":\#(samples.count),"healthy_ms_p50":\#(ms(healthy[healthy.count / 2])),"healthy_ms_max":\#(ms(healthy.last!)),"accepting_ms_p50":\#(ms(accepted[accepted.count / 2])),"accepting_ms_max":\#(ms(accepted.last!))}"#
                print(row)
                rows.append(row)
            }
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    private func ms(_ seconds: Double) -> String { String(format: "%.0f", seconds * 1000) }

    private func parseSize(_ text: String) throws -> Int64 {
        let lower = text.lowercased().trimmingCharacters(in: .whitespaces)
        let units: [(String, Int64)] = [("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)]
        for (suffix, unit) in units where lower.hasSuffix(suffix) {
            guard let value = Double(lower.dropLast()) else { break }
            return Int64(value * Double(unit))
        }
        guard let value = Int64(lower) else { throw ValidationError("bad size \(text) (use e.g. 512m or 8g)") }
        return value
    }
}

enum RestartBenchmarkData {
    /// Makes a WAL of `bytes` in `directory`: up to two segments (one sealed, then a newest one of
    /// nearly 64 MiB, the worst case for start-up, which scans the newest whole) through
    /// `WriteAheadLog.append` with realistic encoded events (20,000 distinct, cycled, 5,000 per
    /// batch); the rest as relabelled copies of the sealed one (`WALSegmentRelabel`), placed between
    /// them. Returns the bytes on disk and the seconds taken.
    static func fill(directory: String, bytes: Int64) async throws -> (Int64, Double) {
        let start = ContinuousClock.now
        var configuration = WALConfiguration(directory: directory)
        configuration.maxUnreplayedBytes = .max
        configuration.fsyncPolicy = .interval(.seconds(1))
        let wal = try WriteAheadLog.open(configuration, logger: Logger(label: "restart-bench", factory: { _ in SwiftLogNoOpLogHandler() }))
        let pool = try records(count: 20_000)
        var next = 0
        let throughLibrary = min(bytes, 2 * Int64(configuration.segmentSize) - (1 << 20))
        while wal.stats.totalBytes < throughLibrary {
            let chunk = Array(pool[next..<(next + 5_000)])
            next = (next + 5_000) % pool.count
            _ = try await wal.append(contentsOf: chunk)
        }
        var total = wal.stats.totalBytes
        try await wal.close()
        if total < bytes {
            let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".wal") }.sorted()
            guard names.count >= 2 else { throw ValidationError("expected a sealed and a newest segment, found \(names)") }
            let template = try [UInt8](Data(contentsOf: URL(fileURLWithPath: directory + "/" + names[0])))
            let newestPath = directory + "/" + names[names.count - 1]
            var newest = try [UInt8](Data(contentsOf: URL(fileURLWithPath: newestPath)))
            try FileManager.default.removeItem(atPath: newestPath)
            total -= Int64(newest.count)
            var id = UInt64(names.count)
            var sequence = newest.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 16, as: UInt64.self)) }
            while total + Int64(template.count + newest.count) <= bytes {
                var copy = template
                sequence = try WALSegmentRelabel.relabel(&copy, id: id, firstSequence: sequence)
                try Data(copy).write(to: URL(fileURLWithPath: directory + "/" + WALSegmentRelabel.name(id)))
                total += Int64(copy.count)
                id += 1
            }
            _ = try WALSegmentRelabel.relabel(&newest, id: id, firstSequence: sequence)
            try Data(newest).write(to: URL(fileURLWithPath: directory + "/" + WALSegmentRelabel.name(id)))
            total += Int64(newest.count)
        }
        sync()  // the timed starts should not compete with writeback of the backlog
        let elapsed = ContinuousClock.now - start
        return (total, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    private static func records(count: Int) throws -> [[UInt8]] {
        var generator = EventGenerator(seed: 20_261_203)
        let parser = EventParser()
        let now = Int64(Date().timeIntervalSince1970)
        var json: [UInt8] = []
        return try (0..<count).map { index in
            let event = generator.next(timestamp: now - 86_400 + Int64(index) * 86_400 / Int64(count))
            json.removeAll(keepingCapacity: true)
            event.appendJSON(to: &json, idempotencyKey: "restart-bench-\(index)")
            guard case .success(let parsed) = parser.parseEvent(json, receivedAtMicros: now * 1_000_000) else {
                throw ValidationError("generated event did not parse")
            }
            return EventRecordCodec.encode(parsed)
        }
    }
}

/// Starts, times and kills the service on one WAL directory.
struct RestartBenchmarkRun {
    struct Sample {
        /// Seconds from spawn to the first 200 from /health, and to the first 202 from POST /events.
        var healthy: Double
        var accepted: Double
    }

    let binary: String
    let walDirectory: String
    let logFile: String
    let maxUnreplayedBytes: Int64
    let client: HTTPClient

    /// The first start puts the service in the state after a crash (it accepts a POST, then kill -9);
    /// the `restarts` that follow are measured.
    func measure(restarts: Int) async throws -> [Sample] {
        let port = try ChildProcess.freePort()
        // Nothing listens there: PostgreSQL is down for the whole run, so the backlog stays.
        let database = "postgres://bench@127.0.0.1:\(try ChildProcess.freePort())/bench"
        FileManager.default.createFile(atPath: logFile, contents: nil)
        var samples: [Sample] = []
        for round in 0...restarts {
            let started = ContinuousClock.now
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = [
                "serve", "--host", "127.0.0.1", "--port", "\(port)", "--wal-dir", walDirectory, "--database-url", database,
                "--node-id", "restart-bench", "--log-level", "warning", "--admin-port", "0",
                "--wal-max-unreplayed-bytes", "\(maxUnreplayedBytes)",
            ]
            let log = FileHandle(forWritingAtPath: logFile)
            log?.seekToEndOfFile()
            process.standardOutput = log
            process.standardError = log
            try process.run()
            defer {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                try? log?.close()
            }
            let healthy = try await poll(started: started, process: process) { try await health(port: port) }
            let accepted = try await poll(started: started, process: process) { try await post(port: port, round: round) }
            if round > 0 { samples.append(Sample(healthy: healthy, accepted: accepted)) }
        }
        return samples
    }

    /// Retries `attempt` every 2 ms until it returns true; seconds since `started`. Fails after 120 s
    /// or when the service exits.
    private func poll(started: ContinuousClock.Instant, process: Process, _ attempt: () async throws -> Bool) async throws -> Double {
        while true {
            if (try? await attempt()) == true {
                let elapsed = ContinuousClock.now - started
                return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            }
            guard process.isRunning else { throw ValidationError("the service exited; see \(logFile)") }
            guard ContinuousClock.now - started < .seconds(120) else { throw ValidationError("the service did not answer in 120 s; see \(logFile)") }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    private func health(port: Int) async throws -> Bool {
        let response = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/health"), timeout: .seconds(2))
        _ = try await response.body.collect(upTo: 1 << 20)
        return response.status == .ok
    }

    private func post(port: Int, round: Int) async throws -> Bool {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/events")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        let body = #"{"event_name":"restart_probe","channel":"web","user_id":"bench","timestamp":\#(Int(Date().timeIntervalSince1970)),"idempotency_key":"restart-probe-\#(getpid())-\#(round)"}"#
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await client.execute(request, timeout: .seconds(2))
        _ = try await response.body.collect(upTo: 1 << 20)
        return response.status == .accepted
    }
}
