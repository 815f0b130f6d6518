import ArgumentParser
import Foundation
import Store

// Small pieces shared by `bench load`, `bench check` and `bench seed`.

extension NameSpecification {
    /// `--name` and `-name`: users of the old Go tool type its flags with one dash (`-total 1000`),
    /// everyone else with two; both work, and so do `-name=value` and `--name=value`.
    static func singleOrDoubleDash(_ name: String) -> NameSpecification {
        [.customLong(name), .customLong(name, withSingleDash: true)]
    }
}

/// `--database-url`, shared by `check` and `seed`.
struct BenchDatabaseOptions: ParsableArguments {
    @Option(
        name: .singleOrDoubleDash("database-url"),
        help: "libpq URL of the service's database (default: $DATABASE_URL, else the project's local PostgreSQL).")
    var databaseURL: String = DatabaseURL.fromEnvironment
}

/// A command's result: a few lines for people, or with `--json` one object for scripts (snake_case
/// keys, sorted, so field names are stable).
protocol BenchResult: Encodable {
    var text: String { get }
}

extension BenchResult {
    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// With `json`, the object on stdout (for scripts) and the text on stderr (for the person
    /// watching); else the text on stdout.
    func report(json: Bool) throws {
        if json {
            printToStandardError(text)
            print(try self.json())
        } else {
            print(text)
        }
    }
}

/// Human-readable numbers for progress lines and summaries.
enum BenchFormat {
    /// 12,345,678
    static func count<T: BinaryInteger>(_ value: T) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (index, character) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return (value < 0 ? "-" : "") + out
    }

    static func count(_ value: Double) -> String { count(Int(value.rounded())) }

    /// Fixed decimals without Foundation's locale-dependent formatting.
    static func decimal(_ value: Double, places: Int) -> String {
        guard value.isFinite else { return "-" }
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        let scaled = Int((abs(value) * scale).rounded())
        let whole = scaled / Int(scale)
        let fraction = String(scaled % Int(scale))
        let sign = value < 0 && scaled != 0 ? "-" : ""
        if places == 0 { return sign + String(whole) }
        return sign + String(whole) + "." + String(repeating: "0", count: places - fraction.count) + fraction
    }

    /// Microseconds as milliseconds, e.g. "1.24ms".
    static func millis(micros: UInt64) -> String { decimal(Double(micros) / 1000, places: 2) + "ms" }

    /// 1h02m03s, 4m05s, 7s.
    static func duration(seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let total = Int(seconds.rounded())
        let (h, m, s) = (total / 3600, total % 3600 / 60, total % 60)
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        if h > 0 { return "\(h)h\(two(m))m\(two(s))s" }
        if m > 0 { return "\(m)m\(two(s))s" }
        return "\(s)s"
    }
}

/// Writes a line to stderr: progress and live lines go there so stdout carries only the result
/// (the `--json` object that scripts parse).
func printToStandardError(_ line: String, terminator: String = "\n") {
    FileHandle.standardError.write(Data((line + terminator).utf8))
}

/// Durations as Double seconds, for rates and JSON.
enum BenchClock {
    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        seconds(ContinuousClock.now - start)
    }
}
