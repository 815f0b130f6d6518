import Dispatch

/// Runs blocking work (libpq, CREATE/DROP DATABASE) on a Dispatch thread, so parallel tests do not
/// starve the (two-thread) cooperative pool that the pool's completions and the route tests need.
public func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result(catching: body)) }
    }
}
