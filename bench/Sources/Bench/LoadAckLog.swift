#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Appends the idempotency key of every acknowledged event to a file, one per line; `bench check`
/// later proves each is in PostgreSQL exactly once.
///
/// Workers add keys to a memory buffer; the live-line ticker flushes it each second and the run
/// flushes it at the end, so a key costs no system call and a run that is killed loses at most its
/// last second of log (the check then tests fewer keys; it never reports a key that was not acked).
/// The file is opened with `O_APPEND` and never truncated: the crash suite runs `load` several times
/// against one log.
final class LoadAckLog: Sendable {
    let path: String
    private let descriptor: Int32
    private let buffer = Mutex<[UInt8]>([])
    /// Held while writing, so two flushes (ticker and end of run) never interleave partial lines.
    private let writing = Mutex(())

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw LoadAckLogError(path: path, operation: "open", errno: errno) }
        descriptor = fd
    }

    deinit { close(descriptor) }

    func append<Keys: Sequence<String>>(_ keys: Keys) {
        buffer.withLock { buffer in
            for key in keys {
                buffer.append(contentsOf: key.utf8)
                buffer.append(UInt8(ascii: "\n"))
            }
        }
    }

    /// Appends the keys `<prefix><number>` (the load client's `<run-id>-<n>`) without building Strings.
    func append(prefix: [UInt8], numbers: some Collection<Int>) {
        guard !numbers.isEmpty else { return }
        buffer.withLock { buffer in
            for number in numbers {
                buffer.append(contentsOf: prefix)
                buffer.appendDecimal(number)
                buffer.append(UInt8(ascii: "\n"))
            }
        }
    }

    /// Writes what is buffered. Whole lines only, retrying short writes and EINTR.
    func flush() throws {
        try writing.withLock { _ in
            let pending = buffer.withLock { buffer -> [UInt8] in
                defer { buffer.removeAll(keepingCapacity: true) }
                return buffer
            }
            try writeAll(pending)
        }
    }

    private func writeAll(_ pending: [UInt8]) throws {
        try pending.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw LoadAckLogError(path: path, operation: "write", errno: errno)
                }
                offset += written
            }
        }
    }
}

struct LoadAckLogError: Error, CustomStringConvertible {
    let path: String
    let operation: String
    let errno: Int32
    var description: String { "ack log \(path): \(operation) failed: \(String(cString: strerror(errno)))" }
}
