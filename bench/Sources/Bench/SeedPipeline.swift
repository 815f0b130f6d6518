import Foundation
import WAL

/// Overlaps row generation with COPY: generator threads encode chunks of rows while the loading
/// thread sends the previous ones, so the load runs at PostgreSQL's speed rather than at the sum of
/// both. A small bounded queue keeps memory flat (a few chunks of ~10 MB) however many rows.
///
/// With several generator threads, chunk k goes to thread k mod n and the loader takes chunks in
/// order, so rows still arrive in time order.
final class SeedPipeline: @unchecked Sendable {
    // @unchecked: all mutable state is guarded by `lock`.
    struct Chunk {
        var index: Int
        var rows: Int
        var bytes: [UInt8]
    }

    private let lock = ConditionLock()
    /// Broadcast whenever a chunk is put or taken, or on cancel.
    private let changed: ConditionLock.Condition
    private var ready: [Int: Chunk] = [:]
    private var nextToTake = 0
    private var cancelled = false
    private let capacity: Int
    let chunkCount: Int

    /// Starts `threads` generator threads. Each calls `makeEncoder(thread)` once, on its own thread,
    /// and then uses the encoder it got to build its chunks: encoder state never crosses threads.
    init(chunkCount: Int, threads: Int, capacity: Int, makeEncoder: @escaping @Sendable (_ thread: Int) -> (_ chunk: Int) -> Chunk) {
        self.chunkCount = chunkCount
        self.capacity = max(capacity, threads)
        changed = ConditionLock.Condition(lock)
        for thread in 0..<threads {
            let worker = Thread { [self] in
                let encode = makeEncoder(thread)
                var index = thread
                while index < chunkCount, waitForRoom(before: index) {
                    put(encode(index))
                    index += threads
                }
            }
            worker.name = "bench-seed-generator-\(thread)"
            worker.start()
        }
    }

    /// The next chunk in order, or nil after the last one (or after cancel).
    func take() -> Chunk? {
        lock.withLock {
            guard nextToTake < chunkCount else { return nil }
            while ready[nextToTake] == nil, !cancelled { changed.wait() }
            guard let chunk = ready.removeValue(forKey: nextToTake) else { return nil }
            nextToTake += 1
            changed.broadcast()
            return chunk
        }
    }

    /// Stops the generators (the load failed); they exit after the chunk they are encoding.
    func cancel() {
        lock.withLock {
            cancelled = true
            changed.broadcast()
        }
    }

    /// Blocks a generator until chunk `index` is within `capacity` of the loader; false on cancel.
    private func waitForRoom(before index: Int) -> Bool {
        lock.withLock {
            while index >= nextToTake + capacity, !cancelled { changed.wait() }
            return !cancelled
        }
    }

    private func put(_ chunk: Chunk) {
        lock.withLock {
            ready[chunk.index] = chunk
            changed.broadcast()
        }
    }
}
