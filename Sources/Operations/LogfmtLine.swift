import APISupport
import Logging

/// One logfmt line per log call:
/// `ts=2025-11-30T12:00:00.123Z level=info source=WAL msg="WAL recovered" segments=3`.
///
/// logfmt, not swift-log's `StreamLogHandler` text, because log pipelines (Loki, Vector, `grep`)
/// can split it into fields without a custom parser. Metadata keys are sorted so lines diff well.
enum LogfmtLine {
    static func line(timestamp: String, event: LogEvent, metadata: [(key: String, value: Logger.MetadataValue)]) -> String {
        var line = "ts=" + timestamp + " level=" + event.level.rawValue
        line += " source=" + value(event.source)
        line += " msg=" + value(event.message.description)
        for (key, metadataValue) in metadata {
            line += " " + Self.key(key) + "=" + value(metadataValue.description)
        }
        return line + "\n"
    }

    /// Keys may not hold spaces, `=` or quotes in logfmt; anything else is replaced by `_`.
    static func key(_ key: String) -> String {
        let cleaned = String(key.unicodeScalars.map { $0.value > 0x20 && $0 != "=" && $0 != "\"" ? Character($0) : "_" })
        return cleaned.isEmpty ? "_" : cleaned
    }

    /// Bare when it can be, quoted otherwise with JSON's `\"`, `\\`, `\n`, `\r`, `\t` escapes (other
    /// control characters become spaces).
    static func value(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.unicodeScalars.contains { $0.value <= 0x20 || $0 == "=" || $0 == "\"" || $0 == "\\" }
        guard needsQuotes else { return value }
        return JSONString.quote(value, otherControl: { _ in " " })
    }
}
