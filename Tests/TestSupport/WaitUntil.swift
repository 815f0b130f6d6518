/// Polls `condition` until it holds or `timeout` has passed, and returns its last answer: the
/// condition-based wait with a bound that tests use instead of a fixed sleep a busy machine can lose.
@discardableResult
public func waitUntil(
    timeout: Duration, polling interval: Duration = .milliseconds(20), _ condition: () throws -> Bool
) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while try !condition() {
        guard ContinuousClock.now < deadline else { return false }
        try await Task.sleep(for: interval)
    }
    return true
}
