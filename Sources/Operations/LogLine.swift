import Foundation
import Logging

/// Where log lines go. One call per complete line, so lines from concurrent threads never
/// interleave (the standard-error writer does a single `write(2)` per line).
public struct LogOutput: Sendable {
    public let write: @Sendable (String) -> Void

    public init(_ write: @escaping @Sendable (String) -> Void) {
        self.write = write
    }

    /// Standard error, unbuffered: a line is out before the process can die.
    public static let standardError = LogOutput { line in
        var line = line
        line.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Foundation.write(2, bytes.baseAddress! + offset, bytes.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    return  // nowhere left to report a failing stderr
                }
            }
        }
    }
}

/// What both formats share: merging metadata the way swift-log specifies (handler, then provider,
/// then the call's own, later wins) and a UTC timestamp with milliseconds.
enum LogLine {
    static func mergedMetadata(
        handler: Logger.Metadata,
        provider: Logger.MetadataProvider?,
        event: Logger.Metadata?,
        error: (any Error)?
    ) -> [(key: String, value: Logger.MetadataValue)] {
        var merged = handler
        if let provided = provider?.get() { merged.merge(provided) { $1 } }
        if let event { merged.merge(event) { $1 } }
        if let error { merged["error"] = .string("\(error)") }
        return merged.sorted { $0.key < $1.key }
    }

    /// `2025-11-30T12:00:00.123Z`; by hand, because DateFormatter is slow and not thread-safe.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))"
            + "T\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))"
            + ".\(pad(Int32(now.tv_nsec / 1_000_000), 3))Z"
    }
}

/// The log line formats `--log-format` offers.
public enum LogFormat: String, Sendable, CaseIterable {
    case logfmt, json

    /// A handler factory for `LoggingSystem.bootstrap`; every logger starts at `level`, so
    /// `--log-level` also applies to loggers that libraries create for themselves.
    public func handlerFactory(level: Logger.Level, output: LogOutput = .standardError) -> @Sendable (String) -> any LogHandler {
        { label in LineLogHandler(label: label, format: self, logLevel: level, output: output) }
    }
}
