import Foundation
import TestSupport

/// The real `event-metrics-service` binary, started as a child process with its log on a file.
///
/// posix_spawn and a polling waitpid, not Foundation's Process: `waitUntilExit` can hang when called
/// from a Swift concurrency thread on Linux.
final class ServiceProcess: @unchecked Sendable {
    let pid: pid_t
    let logPath: String
    private var exitStatus: Int32?

    /// The binary next to this test bundle (`swift build --build-tests` builds both).
    static func binary() throws -> String {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("event-metrics-service").path,
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent(".build/debug/event-metrics-service").path,
        ]
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw Failure("event-metrics-service is not built; run swift build --build-tests (looked in \(candidates))")
        }
        return found
    }

    init(arguments: [String], environment: [String: String], logPath: String) throws {
        let binary = try Self.binary()
        self.logPath = logPath
        pid = try ChildProcess.spawn(binary, arguments: arguments, environment: environment, stdoutPath: logPath, stderrPath: logPath)
    }

    func signal(_ signal: Int32) { _ = Glibc.kill(pid, signal) }

    /// The exit status once the process has exited, polling every 50 ms up to `timeout`; nil if it
    /// is still running.
    func waitForExit(timeout: Duration) async throws -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let exitStatus { return exitStatus }
            var status: Int32 = 0
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid {
                exitStatus = ChildProcess.exitStatus(status)
                return exitStatus
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    /// SIGKILL and reap, for cleanup after a failed test.
    func kill() async {
        guard exitStatus == nil else { return }
        signal(SIGKILL)
        _ = try? await waitForExit(timeout: .seconds(5))
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
}

struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
