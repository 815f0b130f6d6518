import Foundation

/// Reads settings from the environment so every flag also works as a variable (12-factor style).
enum Environment {
    static func string(_ name: String, default value: String) -> String {
        if let raw = ProcessInfo.processInfo.environment[name], !raw.isEmpty { return raw }
        return value
    }

    static func int(_ name: String, default value: Int) -> Int {
        ProcessInfo.processInfo.environment[name].flatMap { Int($0) } ?? value
    }

    static func bool(_ name: String, default value: Bool) -> Bool {
        guard let raw = ProcessInfo.processInfo.environment[name]?.lowercased() else { return value }
        return ["1", "true", "yes", "on"].contains(raw)
    }

    /// The host name, the default node id: each ingest node's WAL checkpoint is keyed by it.
    static var hostName: String {
        ProcessInfo.processInfo.hostName.isEmpty ? "node-1" : ProcessInfo.processInfo.hostName
    }
}
