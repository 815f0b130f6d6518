import APISupport
import Hummingbird
import Metrics
import Synchronization

/// The shared, locked ``TokenBuckets`` of one service (`--rate-limit-per-second`).
public final class RateLimiter: Sendable {
    private let buckets: Mutex<TokenBuckets>
    private let clock: @Sendable () -> Double

    /// `clock` gives seconds on a monotonic clock (tests pass a fake one); by default, seconds since
    /// the limiter was made.
    public init(ratePerSecond: Double, burst: Double? = nil, maxClients: Int = 10_000, clock: (@Sendable () -> Double)? = nil) {
        buckets = Mutex(TokenBuckets(ratePerSecond: ratePerSecond, burst: burst, maxClients: maxClients))
        let origin = ContinuousClock.now
        self.clock = clock ?? {
            let elapsed = ContinuousClock.now - origin
            return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        }
    }

    public func take(_ client: String) -> TokenBuckets.Decision {
        let now = clock()
        return buckets.withLock { $0.take(client, now: now) }
    }
}

/// Answers 429 with `Retry-After` and the JSON error once a client has used up its tokens.
///
/// A client is its API key when the route group checks keys (the auth middleware runs first, so the
/// key is valid), else its IP address. A bearer token is not trusted as an identity on open routes:
/// a client could otherwise mint a fresh bucket per request.
public struct RateLimitMiddleware<Context: RequestContext>: RouterMiddleware {
    let limiter: RateLimiter
    let identifyByAPIKey: Bool
    private let limited: Counter

    public init(limiter: RateLimiter, scope: String, identifyByAPIKey: Bool) {
        self.limiter = limiter
        self.identifyByAPIKey = identifyByAPIKey
        limited = Counter(label: "api_requests_denied_total", dimensions: [("scope", scope), ("reason", "rate_limited")])
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        switch limiter.take(client(request, context: context)) {
        case .allowed:
            return try await next(request, context)
        case .limited(let seconds):
            limited.increment()
            throw APIError(
                status: .tooManyRequests,
                code: "rate_limited",
                message: "Too many requests from this client; retry after \(seconds) s.",
                retryAfterSeconds: seconds
            )
        }
    }

    func client(_ request: Request, context: Context) -> String {
        if identifyByAPIKey, let key = BearerAuthMiddleware<Context>.bearerToken(request.headers[.authorization]) {
            return "key:" + key
        }
        if let address = (context as? any RemoteAddressRequestContext)?.remoteAddress {
            return "ip:" + (address.ipAddress ?? "\(address)")
        }
        return "unknown"
    }
}
