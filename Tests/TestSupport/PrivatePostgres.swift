import Foundation

/// A PostgreSQL cluster of the test's own, started with `scripts/postgres` on a free port, for tests
/// that stop and restart the server (which would break every other test on the shared one).
public final class PrivatePostgres {
    public let port: Int
    public let dataDirectory: String
    private let script: String

    public init() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        script = root.appendingPathComponent("scripts/postgres").path
        port = Int.random(in: 40_000...59_000)
        dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("ems-private-pg-\(UUID().uuidString)").path
        try run("start")
    }

    public var url: String { "postgresql://events@127.0.0.1:\(port)/events" }

    public func start() throws { try run("start") }
    public func stop() throws { try run("stop") }

    public func destroy() {
        try? run("stop")
        try? FileManager.default.removeItem(atPath: dataDirectory)
    }

    /// posix_spawn + waitpid rather than Foundation's Process, whose waitUntilExit can hang when
    /// called from a Swift concurrency thread on Linux.
    private func run(_ command: String) throws {
        var environment = ProcessInfo.processInfo.environment
        environment["PGPORT"] = String(port)
        environment["PGDATA_DIR"] = dataDirectory
        let arguments = ["/bin/bash", script, command]
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, "/bin/bash", &actions, nil, argv, envp)
        guard spawned == 0 else { throw ProcessFailure(message: "cannot run scripts/postgres: errno \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exitCode = (status >> 8) & 0xff
        guard status & 0x7f == 0, exitCode == 0 else {
            throw ProcessFailure(message: "scripts/postgres \(command) exited with status \(status)")
        }
    }

    struct ProcessFailure: Error { var message: String }
}
