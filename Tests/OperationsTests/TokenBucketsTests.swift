import Testing

@testable import Operations

/// The limiter's rules, with a fake clock.
@Suite("Token buckets")
struct TokenBucketsTests {
    @Test func burstThenRefillAtTheRate() {
        var buckets = TokenBuckets(ratePerSecond: 2, burst: 3)
        #expect(buckets.take("a", now: 0) == .allowed)
        #expect(buckets.take("a", now: 0) == .allowed)
        #expect(buckets.take("a", now: 0) == .allowed)
        #expect(buckets.take("a", now: 0) == .limited(retryAfterSeconds: 1))
        #expect(buckets.take("a", now: 0.49) == .limited(retryAfterSeconds: 1))
        #expect(buckets.take("a", now: 0.5) == .allowed)
        #expect(buckets.take("a", now: 0.5) == .limited(retryAfterSeconds: 1))
        // Idle for long refills to the burst, no further.
        for _ in 0..<3 { #expect(buckets.take("a", now: 100) == .allowed) }
        #expect(buckets.take("a", now: 100) != .allowed)
    }

    @Test func clientsAreIndependent() {
        var buckets = TokenBuckets(ratePerSecond: 1)
        #expect(buckets.take("a", now: 0) == .allowed)
        #expect(buckets.take("a", now: 0) != .allowed)
        #expect(buckets.take("b", now: 0) == .allowed)
    }

    @Test func retryAfterCoversASlowRate() {
        var buckets = TokenBuckets(ratePerSecond: 0.1)
        #expect(buckets.take("a", now: 0) == .allowed)
        #expect(buckets.take("a", now: 0) == .limited(retryAfterSeconds: 10))
        #expect(buckets.take("a", now: 7) == .limited(retryAfterSeconds: 3))
    }

    @Test func memoryIsBoundedByForgettingIdleClients() {
        var buckets = TokenBuckets(ratePerSecond: 1, burst: 1, maxClients: 3)
        for client in ["a", "b", "c"] { _ = buckets.take(client, now: 0) }
        #expect(buckets.clientCount == 3)
        // At t=5 every bucket has refilled: they are forgotten to make room.
        _ = buckets.take("d", now: 5)
        #expect(buckets.clientCount == 1)
        // All busy: the table is reset rather than grown.
        for client in ["e", "f"] { _ = buckets.take(client, now: 5) }
        _ = buckets.take("g", now: 5)
        #expect(buckets.clientCount <= 3)
    }
}
