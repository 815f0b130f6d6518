#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Progress on stderr: a bar redrawn in place when stderr is a terminal, otherwise a plain line
/// every 10 seconds (logs of scripted runs stay readable).
struct SeedProgress {
    let total: Int
    let start = ContinuousClock.now
    private let interactive = isatty(STDERR_FILENO) == 1
    private var lastDraw: ContinuousClock.Instant?

    init(total: Int) { self.total = total }

    mutating func update(done: Int, force: Bool = false) {
        let now = ContinuousClock.now
        let every: Duration = interactive ? .milliseconds(250) : .seconds(10)
        if !force, let lastDraw, now - lastDraw < every { return }
        lastDraw = now
        let elapsed = BenchClock.seconds(since: start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let fraction = total > 0 ? Double(done) / Double(total) : 1
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let eta = rate > 0 ? BenchFormat.duration(seconds: Double(total - done) / rate) : "?"
        let line = "[\(bar)] \(BenchFormat.decimal(fraction * 100, places: 1))%  \(BenchFormat.count(done))/\(BenchFormat.count(total)) rows  \(BenchFormat.count(rate)) rows/s  elapsed \(BenchFormat.duration(seconds: elapsed))  ETA \(eta)"
        if interactive {
            printToStandardError("\r\u{1B}[K" + line, terminator: done >= total ? "\n" : "")
        } else {
            printToStandardError(line)
        }
    }
}

/// Runs one named phase of the seed and says how long it took; `why` tells the user what the wait
/// buys (e.g. why the index is built after the rows rather than before).
func seedPhase<T>(_ title: String, why: String? = nil, _ body: () throws -> T) rethrows -> T {
    printToStandardError("seed: \(title)…" + (why.map { " (\($0))" } ?? ""))
    let start = ContinuousClock.now
    let value = try body()
    printToStandardError("seed: \(title): done in \(BenchFormat.duration(seconds: BenchClock.seconds(since: start)))")
    return value
}
