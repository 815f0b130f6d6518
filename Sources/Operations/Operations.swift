/// What operators see and set around the HTTP API, kept apart from the API itself so the routes
/// stay about events and metrics:
///
/// - log lines as logfmt or JSON (``LineLogHandler`` in a ``LogFormat``): one line per event,
///   machine-parseable, written with one `write(2)` so concurrent lines never interleave;
/// - optional API keys (``APIKeys``, ``BearerAuthMiddleware``): `Authorization: Bearer <key>`,
///   compared in constant time, never logged;
/// - an optional per-client rate limit (``TokenBuckets``, ``RateLimiter``, ``RateLimitMiddleware``);
/// - ``ServiceRequestContext``, a request context that keeps the client's address for the limiter.
/// - the connection guard (``ConnectionGuard``, ``GuardedHTTP1Channel``, ``ConnectionSettings``): a
///   cap on open connections answered with 503 + `Retry-After`, read, idle and write timeouts, and a
///   JSON 414 for an over-long request line, so idle and slow clients cannot hold every descriptor.
///
/// It bootstraps nothing: the executable chooses the log handler and the metrics backend.
public enum Operations {}
