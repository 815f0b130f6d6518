import APISupport
import Logging

/// One JSON object per log call (JSON Lines):
/// `{"ts":"2025-11-30T12:00:00.123Z","level":"info","source":"WAL","msg":"WAL recovered","segments":"3"}`.
///
/// For log pipelines that ingest JSON. Metadata becomes top-level fields after the fixed ones
/// (a key that collides with one of them is prefixed `meta.`); nested metadata stays nested.
enum JSONLogLine {
    private static let reserved: Set<String> = ["ts", "level", "source", "msg"]

    static func line(timestamp: String, event: LogEvent, metadata: [(key: String, value: Logger.MetadataValue)]) -> String {
        var line = #"{"ts":"# + JSONString.quote(timestamp)
        line += #","level":"# + JSONString.quote(event.level.rawValue)
        line += #","source":"# + JSONString.quote(event.source)
        line += #","msg":"# + JSONString.quote(event.message.description)
        for (key, value) in metadata {
            let name = reserved.contains(key) ? "meta." + key : key
            line += "," + JSONString.quote(name) + ":" + json(value)
        }
        return line + "}\n"
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
