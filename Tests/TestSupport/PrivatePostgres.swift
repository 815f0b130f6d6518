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
        port = try ChildProcess.freePort()
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

    private func run(_ command: String) throws {
        var environment = ProcessInfo.processInfo.environment
        environment["PGPORT"] = String(port)
        environment["PGDATA_DIR"] = dataDirectory
        let pid = try ChildProcess.spawn("/bin/bash", arguments: [script, command], environment: environment)
        let status = ChildProcess.waitForExit(pid)
        guard status == 0 else { throw ChildProcess.Failure("scripts/postgres \(command) exited with status \(status)") }
    }
}
