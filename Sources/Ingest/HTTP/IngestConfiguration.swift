import Events
/// Request limits for the ingest routes.
public struct IngestConfiguration: Sendable {
    /// Largest body accepted; larger bodies get 413 before any parsing.
    public var maxBodyBytes: Int
    /// Field, count and timestamp rules for events.
    public var limits: EventLimits

    public init(maxBodyBytes: Int = 16 << 20, limits: EventLimits = .default) {
        self.maxBodyBytes = maxBodyBytes
        self.limits = limits
    }
}
