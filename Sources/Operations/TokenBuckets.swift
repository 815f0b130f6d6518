/// Per-client token buckets: the pure state of the rate limiter, so every rule is testable with a
/// fake clock and no I/O.
///
/// Each client gets `burst` tokens, refilled at `ratePerSecond`; a request takes one. A refused
/// request learns how many whole seconds until a token is back (`Retry-After`, at least 1).
/// Memory is bounded: past `maxClients` entries, clients whose bucket has refilled (idle ones) are
/// forgotten, and if none has, all are — forgiving a burst is better than growing without bound.
public struct TokenBuckets: Sendable {
    public enum Decision: Equatable, Sendable {
        case allowed
        case limited(retryAfterSeconds: Int)
    }

    public let ratePerSecond: Double
    public let burst: Double
    public let maxClients: Int
    private var buckets: [String: (tokens: Double, updated: Double)] = [:]

    public init(ratePerSecond: Double, burst: Double? = nil, maxClients: Int = 10_000) {
        precondition(ratePerSecond > 0, "a rate limit needs a positive rate")
        self.ratePerSecond = ratePerSecond
        self.burst = max(1, burst ?? ratePerSecond)
        self.maxClients = max(1, maxClients)
    }

    /// Clients currently tracked.
    public var clientCount: Int { buckets.count }

    /// Takes a token for `client` at `now` (seconds on a monotonic clock).
    public mutating func take(_ client: String, now: Double) -> Decision {
        var tokens = burst
        if let bucket = buckets[client] {
            tokens = min(burst, bucket.tokens + max(0, now - bucket.updated) * ratePerSecond)
        } else if buckets.count >= maxClients {
            forgetIdle(now: now)
        }
        guard tokens >= 1 else {
            buckets[client] = (tokens, now)
            let wait = (1 - tokens) / ratePerSecond
            return .limited(retryAfterSeconds: max(1, Int(wait.rounded(.up))))
        }
        buckets[client] = (tokens - 1, now)
        return .allowed
    }

    private mutating func forgetIdle(now: Double) {
        buckets = buckets.filter { $0.value.tokens + max(0, now - $0.value.updated) * ratePerSecond < burst }
        if buckets.count >= maxClients { buckets.removeAll(keepingCapacity: true) }
    }
}
