import Logging

/// Writes one logfmt line per log call:
/// `ts=2025-11-30T12:00:00.123Z level=info source=WAL msg="WAL recovered" segments=3`.
///
/// logfmt, not swift-log's `StreamLogHandler` text, because log pipelines (Loki, Vector, `grep`)
/// can split it into fields without a custom parser. Metadata keys are sorted so lines diff well.
public struct LogfmtLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let output: LogOutput

    /// `label` is accepted for `LoggingSystem.bootstrap` but not printed: every logger of this service
    /// shares one label, and `source` (the module) says more.
    public init(label: String, logLevel: Logger.Level = .info, output: LogOutput = .standardError, metadataProvider: Logger.MetadataProvider? = nil) {
        self.logLevel = logLevel
        self.output = output
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = "ts=" + LogLine.timestamp() + " level=" + event.level.rawValue
        line += " source=" + Self.value(event.source)
        line += " msg=" + Self.value(event.message.description)
        for (key, value) in LogLine.mergedMetadata(handler: metadata, provider: metadataProvider, event: event.metadata, error: event.error) {
            line += " " + Self.key(key) + "=" + Self.value(value.description)
        }
        output.write(line + "\n")
    }

    /// Keys may not hold spaces, `=` or quotes in logfmt; anything else is replaced by `_`.
    static func key(_ key: String) -> String {
        let cleaned = String(key.unicodeScalars.map { $0.value > 0x20 && $0 != "=" && $0 != "\"" ? Character($0) : "_" })
        return cleaned.isEmpty ? "_" : cleaned
    }

    /// Bare when it can be, quoted with `\"`, `\\`, `\n` escapes otherwise.
    static func value(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.unicodeScalars.contains { $0.value <= 0x20 || $0 == "=" || $0 == "\"" || $0 == "\\" }
        guard needsQuotes else { return value }
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default: out.unicodeScalars.append(scalar.value < 0x20 ? " " : scalar)
            }
        }
        return out + "\""
    }
}
