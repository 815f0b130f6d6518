import Events
import Foundation
import WAL

/// Records read and decoded from the WAL for one replay batch, and where the batch ends.
struct ReplayRead {
    var records: [ReplayRecord] = []
    /// Record bytes read.
    var bytes = 0
    /// The WAL position and sequence number after the last batch read.
    var end: WALPosition
    var endSequence: UInt64
    /// The decoded events already encoded for the direct COPY, when the read was asked to.
    var directCopy: PreparedDirectCopy?

    /// Reads whole WAL batches from `reader` (positioned at `start`) until `maxEvents` records or
    /// `maxBytes` record bytes, decoding each record; one that cannot be decoded keeps the reason.
    /// With `directCopy`, every decoded event is also added to it.
    static func read(
        _ reader: WALReader, start: WALPosition, startSequence: UInt64, maxEvents: Int, maxBytes: Int,
        directCopy: PreparedDirectCopy? = nil
    ) throws -> ReplayRead {
        var read = ReplayRead(end: start, endSequence: startSequence, directCopy: directCopy)
        try read.continueReading(reader, maxEvents: maxEvents, maxBytes: maxBytes)
        return read
    }

    /// Reads on from `end` (where `reader` stands) up to the same bounds.
    mutating func continueReading(_ reader: WALReader, maxEvents: Int, maxBytes: Int) throws {
        while records.count < maxEvents, bytes < maxBytes, let batch = try reader.next() {
            for (i, raw) in batch.records.enumerated() {
                var record = ReplayRecord(sequence: batch.firstSequence + UInt64(i), batchPosition: batch.position, bytes: raw)
                do {
                    let event = try EventRecordCodec.decode(raw)
                    record.event = event
                    directCopy?.add(event)
                } catch {
                    record.decodeError = "cannot decode WAL record: \(error)"
                }
                bytes += raw.count
                records.append(record)
            }
            end = batch.next
            endSequence = batch.firstSequence + UInt64(batch.records.count)
        }
    }
}

extension ReplayRead {
    /// Frees an applied batch on another thread: releasing 20,000 decoded records and their COPY bytes
    /// took ~3 ms of the replayer's thread per batch, while PostgreSQL waited for the next one.
    consuming func releaseInBackground() {
        let retired = UncheckedSendable(consume self)
        DispatchQueue.global(qos: .utility).async { withExtendedLifetime(retired) {} }
    }
}

/// One ``ReplayRead`` running on another thread while the replayer's thread applies the previous
/// batch, so reading, decompressing and decoding overlap PostgreSQL's work instead of adding to it.
///
/// The reader is used by that thread only until ``wait()`` returns, and the replayer's thread touches
/// it only after: one user at a time, as `WALReader` requires.
final class ReplayReadAhead: @unchecked Sendable {
    // @unchecked: `result` is only touched inside `lock`.
    private let lock = ConditionLock()
    private let finished: ConditionLock.Condition
    private var result: Result<ReplayRead, any Error>?

    init(_ read: @escaping () throws -> ReplayRead) {
        finished = ConditionLock.Condition(lock)
        let work = UncheckedSendable(read)
        DispatchQueue.global(qos: .userInitiated).async { [self] in
            let outcome = Result { try work.value() }
            lock.withLock {
                result = outcome
                finished.signal()
            }
        }
    }

    /// Blocks until the read is done and returns it (or its error).
    func wait() throws -> ReplayRead {
        try lock.withLock {
            while result == nil { finished.wait() }
            return try result!.get()
        }
    }
}

/// Hands a value to another thread where the code guarantees a single user at a time.
private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
