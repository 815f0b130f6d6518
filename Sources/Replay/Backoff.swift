/// Capped exponential backoff with full jitter, so many nodes retrying a restarted PostgreSQL
/// don't all arrive at once.
struct Backoff {
    let minimum: Duration
    let maximum: Duration
    private(set) var attempt = 0

    init(minimum: Duration, maximum: Duration) {
        self.minimum = minimum
        self.maximum = maximum
    }

    /// The next delay: a random duration in [minimum, min(maximum, minimum * 2^attempt)].
    mutating func next() -> Duration {
        let ceiling = min(maximum, minimum * (1 << min(attempt, 20)))
        attempt += 1
        let spread = ceiling - minimum
        let fraction = Double.random(in: 0...1)
        return minimum + spread * fraction
    }

    mutating func reset() { attempt = 0 }
}
