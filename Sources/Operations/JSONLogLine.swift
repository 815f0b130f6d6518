import APISupport
import Logging

/// Writes one JSON object per log call (JSON Lines):
/// `{"ts":"2025-11-30T12:00:00.123Z","level":"info","source":"WAL","msg":"WAL recovered","segments":"3"}`.
///
/// For log pipelines that ingest JSON. Metadata becomes top-level fields after the fixed ones
/// (a key that collides with one of them is prefixed `meta.`); nested metadata stays nested.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let output: LogOutput

    private static let reserved: Set<String> = ["ts", "level", "source", "msg"]

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
        var line = #"{"ts":"# + JSONString.quote(LogLine.timestamp())
        line += #","level":"# + JSONString.quote(event.level.rawValue)
        line += #","source":"# + JSONString.quote(event.source)
        line += #","msg":"# + JSONString.quote(event.message.description)
        for (key, value) in LogLine.mergedMetadata(handler: metadata, provider: metadataProvider, event: event.metadata, error: event.error) {
            let name = Self.reserved.contains(key) ? "meta." + key : key
            line += "," + JSONString.quote(name) + ":" + Self.json(value)
        }
        output.write(line + "}\n")
    }

    static func json(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let string): return JSONString.quote(string)
        case .stringConvertible(let convertible): return JSONString.quote(convertible.description)
        case .array(let values): return "[" + values.map(json).joined(separator: ",") + "]"
        case .dictionary(let values):
            let fields = values.sorted { $0.key < $1.key }.map { JSONString.quote($0.key) + ":" + json($0.value) }
            return "{" + fields.joined(separator: ",") + "}"
        }
    }
}
