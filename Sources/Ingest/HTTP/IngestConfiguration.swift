import Events
/// Request limits for the ingest routes.
public struct IngestConfiguration: Sendable {
    /// Largest body accepted; larger bodies get 413 before any parsing.
    public var maxBodyBytes: Int
    /// Field, count and timestamp rules for events.
    public var limits: EventLimits
    /// A gzip body may inflate to at most this many times its compressed size (above 1 MiB), so a
    /// small "gzip bomb" is refused with 413 early; `maxBodyBytes` bounds the inflated size too.
    public var maxGzipRatio: Int

    public init(maxBodyBytes: Int = 16 << 20, limits: EventLimits = .default, maxGzipRatio: Int = 100) {
        self.maxBodyBytes = maxBodyBytes
        self.limits = limits
        self.maxGzipRatio = maxGzipRatio
    }
}
