import Foundation

/// A value behind a lock. Foundation's `NSLock` keeps this portable to the package's macOS 14
/// floor, where `Synchronization.Mutex` is not available.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
