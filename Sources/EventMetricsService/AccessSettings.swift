import Hummingbird
import Operations

/// Who may call the API and how often: optional API keys per scope and an optional per-client
/// rate limit. Empty key sets leave a scope open; a nil rate leaves it unlimited.
struct AccessSettings: Sendable {
    var ingestKeys = APIKeys([String]())
    var queryKeys = APIKeys([String]())
    var rateLimitPerSecond: Double?

    /// A group for one scope's routes: the key check first (so the limiter can key on a valid key),
    /// then the rate limit. Only what is configured is added.
    func group<Context: RequestContext>(
        _ router: Router<Context>,
        scope: String,
        keys: APIKeys,
        limiter: RateLimiter?
    ) -> RouterGroup<Context> {
        let group = router.group()
        if !keys.isEmpty {
            group.add(middleware: BearerAuthMiddleware<Context>(keys: keys, scope: scope))
        }
        if let limiter {
            group.add(middleware: RateLimitMiddleware<Context>(limiter: limiter, scope: scope, identifyByAPIKey: !keys.isEmpty))
        }
        return group
    }

    func makeLimiter() -> RateLimiter? {
        guard let rate = rateLimitPerSecond, rate > 0 else { return nil }
        return RateLimiter(ratePerSecond: rate)
    }
}
