import ArgumentParser
import Foundation

/// `bench check`: proves that every event the service acknowledged (the keys `bench load --ack-log`
/// wrote, our API's and Segment message ids alike: ``CheckKeyHash``) is in PostgreSQL exactly once.
///
/// Replay is asynchronous, so it first waits, bounded: until nothing is missing, or `--timeout`
/// passes, or the missing count has not dropped for `--stall-timeout` (the replayer is stuck or the
/// events are truly lost; waiting longer would only delay the verdict). PostgreSQL being down while
/// it waits is tolerated: it reconnects until the deadline.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Verify that every acknowledged event is in PostgreSQL exactly once.",
        discussion: """
            Keys are matched as the service stores them: events.idempotency_key is the first 16 bytes \
            of SHA-256("client:" + key) for our API's keys, and of SHA-256 of the line itself for the \
            Segment message ids `bench load --format segment` logs as sdk:segment:<write key length>:<write \
            key><messageId>. Exit status: 0 when every key is found once, 1 when any is missing or \
            duplicated, 2 when the ack log or the database could not be checked.
            """
    )

    @Option(name: .singleOrDoubleDash("ack-log"), help: "The file `bench load --ack-log` wrote (one key per line).")
    var ackLog: String

    @OptionGroup var database: BenchDatabaseOptions

    @Option(name: .singleOrDoubleDash("timeout"), help: "Seconds to wait for replay to catch up.")
    var timeout: Double = 120

    @Option(name: .singleOrDoubleDash("stall-timeout"), help: "Give up early after this many seconds without progress.")
    var stallTimeout: Double = 30

    @Option(name: .singleOrDoubleDash("interval"), help: "Seconds between polls.")
    var interval: Double = 1

    @Flag(name: .singleOrDoubleDash("json"), help: "Print the result as one JSON object on stdout.")
    var json = false

    func validate() throws {
        guard timeout >= 0, stallTimeout > 0, interval > 0 else {
            throw ValidationError("--timeout must be ≥ 0, --stall-timeout and --interval > 0")
        }
    }

    func run() throws {
        let log = try CheckAckLog(path: ackLog)
        let hashed: [[UInt8]]
        do {
            hashed = try log.keys.map(CheckKeyHash.uuidBytes(ackLine:))
        } catch {
            printToStandardError("check: \(error)")
            throw ExitCode(2)
        }
        let session = CheckSession(url: database.databaseURL, keys: hashed)
        let start = ContinuousClock.now
        let deadline = start + .seconds(timeout)
        printToStandardError("check: \(BenchFormat.count(log.keys.count)) acknowledged keys (\(BenchFormat.count(log.lines)) lines) from \(ackLog)")

        var missing: Int?
        var lastProgress = ContinuousClock.now
        var lastError: String?
        while true {
            do {
                let now = try session.missingCount()
                if missing.map({ now < $0 }) ?? true { lastProgress = .now }
                missing = now
                lastError = nil
                printToStandardError("check: \(BenchFormat.count(log.keys.count - now)) of \(BenchFormat.count(log.keys.count)) found, \(BenchFormat.count(now)) missing (\(BenchFormat.duration(seconds: BenchClock.seconds(since: start))))")
            } catch {
                let message = "\(error)"
                if message != lastError { printToStandardError("check: database not ready, retrying: \(message)") }
                lastError = message
            }
            if missing == 0 || ContinuousClock.now >= deadline { break }
            if missing != nil, ContinuousClock.now - lastProgress >= .seconds(stallTimeout) {
                printToStandardError("check: no progress for \(BenchFormat.duration(seconds: stallTimeout)); stopping")
                break
            }
            Thread.sleep(forTimeInterval: interval)
        }

        let result: CheckResult
        do {
            guard missing != nil else { throw CheckError(lastError ?? "no answer from the database") }
            let totals = try session.totals()
            let sample = try totals.found < log.keys.count ? session.missingSample(limit: 10) : []
            result = CheckResult(
                log: log, path: ackLog, totals: totals, missingSample: sample, waited: BenchClock.seconds(since: start))
        } catch {
            printToStandardError("check: could not check \(ackLog) against the database: \(error)")
            throw ExitCode(2)
        }
        try result.report(json: json)
        if !result.passed { throw ExitCode(1) }
    }
}

/// The verdict; `--json` prints it as one object (field names are stable for scripts).
struct CheckResult: BenchResult {
    var ackLog: String
    var ackLogLines: Int
    var acknowledged: Int
    var found: Int
    var missing: Int
    var duplicated: Int
    var extraRows: Int
    var waitedSeconds: Double
    /// Up to 10 missing keys as the client sent them (their uuids when no key maps back).
    var missingSample: [String]
    var passed: Bool

    init(log: CheckAckLog, path: String, totals: CheckSession.Totals, missingSample uuids: [String], waited: Double) {
        ackLog = path
        ackLogLines = log.lines
        acknowledged = log.keys.count
        found = totals.found
        missing = log.keys.count - totals.found
        duplicated = totals.duplicated
        extraRows = totals.extraRows
        waitedSeconds = (waited * 10).rounded() / 10
        if uuids.isEmpty {
            missingSample = []
        } else {
            let wanted = Set(uuids)
            var byUUID: [String: String] = [:]
            for key in log.keys {
                guard let bytes = try? CheckKeyHash.uuidBytes(ackLine: key) else { continue }
                let uuid = CheckKeyHash.uuidString(bytes)
                if wanted.contains(uuid) { byUUID[uuid] = key }
            }
            missingSample = uuids.map { byUUID[$0] ?? $0 }
        }
        passed = missing == 0 && duplicated == 0
    }

    var text: String {
        var lines = [
            "check \(ackLog): \(passed ? "OK" : "FAILED")",
            "  acknowledged  \(BenchFormat.count(acknowledged)) keys (\(BenchFormat.count(ackLogLines)) log lines)",
            "  found         \(BenchFormat.count(found))",
            "  missing       \(BenchFormat.count(missing))",
            "  duplicated    \(BenchFormat.count(duplicated))\(extraRows > 0 ? " (\(BenchFormat.count(extraRows)) extra rows)" : "")",
            "  waited        \(BenchFormat.decimal(waitedSeconds, places: 1)) s",
        ]
        if !missingSample.isEmpty { lines.append("  missing e.g.  \(missingSample.joined(separator: ", "))") }
        return lines.joined(separator: "\n")
    }
}
