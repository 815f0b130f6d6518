import Logging

/// The service's log handler: one line per log call in the chosen ``LogFormat``, written to
/// ``LogOutput`` in one call.
public struct LineLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public let format: LogFormat
    private let output: LogOutput

    /// `label` is accepted for `LoggingSystem.bootstrap` but not printed: every logger of this service
    /// shares one label, and `source` (the module) says more.
    public init(
        label: String, format: LogFormat, logLevel: Logger.Level = .info, output: LogOutput = .standardError,
        metadataProvider: Logger.MetadataProvider? = nil
    ) {
        self.format = format
        self.logLevel = logLevel
        self.output = output
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = LogLine.mergedMetadata(handler: metadata, provider: metadataProvider, event: event.metadata, error: event.error)
        let timestamp = LogLine.timestamp()
        switch format {
        case .logfmt: output.write(LogfmtLine.line(timestamp: timestamp, event: event, metadata: merged))
        case .json: output.write(JSONLogLine.line(timestamp: timestamp, event: event, metadata: merged))
        }
    }
}
