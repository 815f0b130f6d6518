import Foundation

/// Child processes for tests (`scripts/postgres`, the service binary) and free ports for them.
///
/// posix_spawn and waitpid rather than Foundation's Process, whose `waitUntilExit` can hang when
/// called from a Swift concurrency thread on Linux.
public enum ChildProcess {
    /// Starts `path` with `arguments` (argv[0] is `path`) and exactly `environment`; stdin is
    /// /dev/null, stdout goes to `stdoutPath` (appended), stderr to `stderrPath` (appended) or, when
    /// nil, to the test's own stderr.
    public static func spawn(
        _ path: String, arguments: [String], environment: [String: String],
        stdoutPath: String = "/dev/null", stderrPath: String? = nil
    ) throws -> pid_t {
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        if let stderrPath { posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_APPEND, 0o644) }
        var pid = pid_t()
        let result = posix_spawn(&pid, path, &actions, nil, argv, envp)
        guard result == 0 else { throw Failure("posix_spawn \(path) failed: errno \(result)") }
        return pid
    }

    /// Blocks until `pid` exits and returns its status (the exit code, or 128 + the signal).
    public static func waitForExit(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return exitStatus(status)
    }

    /// The exit code of a `waitpid` status (WIFEXITED: low 7 bits zero, code in bits 8-15), or 128 +
    /// the signal that ended the process.
    public static func exitStatus(_ status: Int32) -> Int32 {
        status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// A TCP port nobody listens on right now on 127.0.0.1 (bind to port 0, read it back, close).
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw Failure("bind failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }
}
