import Foundation
import Synchronization
@testable import WAL

/// One seeded power-cut run: a WAL on a `PowerCutFileSystem` takes rounds of concurrent appends
/// (with rotations, zero-fill ahead, retention deletes and replay marks), the power is cut before a
/// random changing operation, and recovery runs on what survived. Everything (configuration,
/// workload, cut point, what the cut keeps) follows from the seed, so a failing seed replays exactly.
///
/// Concurrency is modelled as group commit sees it: a round's appends (1–5 appenders) are all queued
/// before the writer thread takes them, in an order the seed fixes, so the writer forms the same
/// groups every time (`appendRound`); the writer itself is the real `GroupCommitWriter`.
struct PowerCutRun {
    struct Failure: Error, CustomStringConvertible {
        var seed: UInt64
        var message: String
        var description: String {
            "power cut seed \(seed): \(message) (replay: POWER_CUT_SEED=\(seed) swift test --filter PowerCutTests/replaySeed)"
        }
    }

    struct Outcome {
        var acknowledged = 0
        var recovered = 0
        var lost = 0
        var operations = 0
    }

    private struct Acknowledged {
        var record: [UInt8]
        var sequence: UInt64
        var segment: UInt64
    }

    static let directory = "/wal"
    let seed: UInt64

    func run() async throws -> Outcome {
        var generator = SeededGenerator(seed: seed)
        var configuration = WALConfiguration(directory: Self.directory)
        configuration.segmentSize = [1_024, 2_048, 4_096, 9_000].randomElement(using: &generator)!
        configuration.preallocationBytes = [0, 700, 2_048, 4_096].randomElement(using: &generator)!
        configuration.maxGroupBytes = [600, 1 << 20].randomElement(using: &generator)!
        configuration.minFreeDiskBytes = 0
        configuration.maxUnreplayedBytes = .max
        let rounds = Int.random(in: 1...30, using: &generator)
        let cutAt = Int.random(in: 0..<(rounds * 5 + 8), using: &generator)
        let fileSystem = PowerCutFileSystem(directory: Self.directory, seed: seed, cutAt: cutAt)
        configuration.fileSystem = fileSystem

        var acknowledged: [Acknowledged] = []
        var replayedBelowSegment: UInt64 = 0
        var counter = 0
        if let wal = try? WriteAheadLog.open(configuration, logger: quietLogger) {
            for _ in 0..<rounds where !fileSystem.isCut {
                if !acknowledged.isEmpty, Int.random(in: 0..<6, using: &generator) == 0 {
                    // The replayer applied everything up to an acknowledged batch: mark it, drop what is below.
                    let upTo = acknowledged[Int.random(in: 0..<acknowledged.count, using: &generator)]
                    let position = WALPosition(segment: upTo.segment, offset: UInt64(SegmentHeader.size))
                    wal.markReplayed(upTo: position)
                    _ = try? wal.deleteSegments(below: position)
                    replayedBelowSegment = max(replayedBelowSegment, upTo.segment)
                    continue
                }
                let appenders = Int.random(in: 1...5, using: &generator)
                var round: [[[UInt8]]] = []
                for _ in 0..<appenders {
                    var records: [[UInt8]] = []
                    for _ in 0..<Int.random(in: 1...3, using: &generator) {
                        counter += 1
                        var bytes = Array("s\(seed)-r\(counter)|".utf8)
                        let filler = Int.random(in: 0...400, using: &generator)
                        if Bool.random(using: &generator) {
                            bytes += (0..<filler).map { _ in UInt8.random(in: 0...255, using: &generator) }
                        } else {
                            bytes += repeatElement(UInt8(ascii: "x"), count: filler)
                        }
                        records.append(bytes)
                    }
                    round.append(records)
                }
                let results = await appendRound(wal, round)
                for (records, result) in zip(round, results) {
                    guard case .success(let appended) = result else { continue }
                    for (index, record) in records.enumerated() {
                        acknowledged.append(Acknowledged(
                            record: record, sequence: appended.firstSequence + UInt64(index), segment: appended.position.segment))
                    }
                }
            }
            _ = fileSystem.cutNow()
            try? await wal.close()
        }
        let image = fileSystem.cutNow()
        return try await recover(image, acknowledged: acknowledged, replayedBelowSegment: replayedBelowSegment, operations: fileSystem.operationCount)
    }

    /// Opens the WAL on what survived and checks it: it opens (strict mode), reads back without a
    /// corruption error, holds every acknowledged record not yet dropped by retention exactly once
    /// at its sequence number, in order, and numbers new records after all of them.
    private func recover(_ image: PowerCutImage, acknowledged: [Acknowledged], replayedBelowSegment: UInt64, operations: Int) async throws -> Outcome {
        func fail(_ message: String) -> Failure { Failure(seed: seed, message: message) }
        var configuration = WALConfiguration(directory: Self.directory)
        configuration.minFreeDiskBytes = 0
        configuration.fileSystem = PowerCutFileSystem(directory: Self.directory, seed: seed, cutAt: nil, image: image)
        let wal: WriteAheadLog
        do {
            wal = try WriteAheadLog.open(configuration, logger: quietLogger)
        } catch {
            throw fail("recovery refused the state the cut left: \(error)")
        }
        do {
            let outcome = try check(wal, acknowledged: acknowledged, replayedBelowSegment: replayedBelowSegment, operations: operations)
            try await wal.close()
            return outcome
        } catch {
            try? await wal.close()
            throw error
        }
    }

    private func check(_ wal: WriteAheadLog, acknowledged: [Acknowledged], replayedBelowSegment: UInt64, operations: Int) throws -> Outcome {
        func fail(_ message: String) -> Failure { Failure(seed: seed, message: message) }
        var recovered: [(record: [UInt8], sequence: UInt64)] = []
        do {
            let reader = wal.reader(from: .start)
            while let batch = try reader.next() {
                for (index, record) in batch.records.enumerated() {
                    recovered.append((record, batch.firstSequence + UInt64(index)))
                }
            }
        } catch {
            throw fail("reading the recovered WAL failed: \(error)")
        }
        var seen: [[UInt8]: UInt64] = [:]
        var lastSequence: UInt64 = 0
        for entry in recovered {
            if seen.updateValue(entry.sequence, forKey: entry.record) != nil {
                throw fail("record \(String(decoding: entry.record.prefix(24), as: UTF8.self)) recovered twice")
            }
            if entry.sequence <= lastSequence { throw fail("sequence \(entry.sequence) after \(lastSequence)") }
            lastSequence = entry.sequence
        }
        var outcome = Outcome(acknowledged: acknowledged.count, recovered: recovered.count, operations: operations)
        for ack in acknowledged {
            guard let sequence = seen[ack.record] else {
                if ack.segment < replayedBelowSegment { continue }  // replayed and deleted
                outcome.lost += 1
                throw fail("acknowledged record \(String(decoding: ack.record.prefix(24), as: UTF8.self)) (sequence \(ack.sequence)) lost")
            }
            if sequence != ack.sequence {
                throw fail("acknowledged record at sequence \(ack.sequence) recovered at \(sequence)")
            }
        }
        let next = wal.stats.nextSequence
        let highest = max(lastSequence, acknowledged.last?.sequence ?? 0)
        if next <= highest { throw fail("next sequence \(next) would reuse \(highest)") }
        return outcome
    }
}

/// Queues `round` (one array of records per appender) as if that many appenders called `append` at
/// once, in this order, and waits for all of them: the writer takes the whole round as it would a
/// burst of concurrent appends, and the groups it forms depend only on the round.
func appendRound(_ wal: WriteAheadLog, _ round: [[[UInt8]]]) async -> [Result<WALAppendResult, any Error>] {
    let core = wal.core
    let arrivals = Arrivals()
    let count = round.count
    return await withTaskGroup(of: (Int, Result<WALAppendResult, any Error>).self) { group in
        for (index, records) in round.enumerated() {
            group.addTask {
                do {
                    let result = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<WALAppendResult, any Error>) in
                        let append = PendingAppend(
                            records: records, rawBytes: records.reduce(0) { $0 + 4 + $1.count }, continuation: continuation)
                        let all = arrivals.appends.withLock { arrived -> [PendingAppend]? in
                            arrived[index] = append
                            return arrived.count == count ? (0..<count).map { arrived[$0]! } : nil
                        }
                        guard let all else { return }
                        for pending in all {
                            let refusal = core.withState { $0.admit(pending, maxUnreplayedBytes: .max, minFreeDiskBytes: 0) }
                            if let refusal { pending.continuation.resume(throwing: refusal) }
                        }
                        core.workAvailable.signal()
                    }
                    return (index, .success(result))
                } catch {
                    return (index, .failure(error))
                }
            }
        }
        var results = [Result<WALAppendResult, any Error>](repeating: .failure(WALError(.closed, "no result")), count: count)
        for await (index, result) in group { results[index] = result }
        return results
    }
}

/// The appends of one round that have arrived so far, by index.
private final class Arrivals: Sendable {
    let appends = Mutex<[Int: PendingAppend]>([:])
}
