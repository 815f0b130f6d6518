import Synchronization

/// A `Mutex` that escaping closures (tasks, Dispatch blocks, threads) can share: a `Mutex` cannot be
/// copied, so a test's local one cannot be captured by them; this class holds it in one place.
public final class Shared<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    public init(_ value: Value) { mutex = Mutex(value) }

    public func withLock<R: Sendable>(_ body: (inout Value) throws -> R) rethrows -> R {
        try mutex.withLock { value in try body(&value) }
    }
}
