import Events
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Store
import Synchronization
import Time
import WAL

/// Drains the WAL into PostgreSQL exactly once, on a thread of its own (libpq blocks).
///
/// Each transaction holds a run of WAL batches, the rows that were new, and the checkpoint after
/// them, so a crash anywhere leaves all or none of it applied; duplicates are skipped by the
/// idempotency key. While PostgreSQL is unreachable it retries with capped, jittered backoff and
/// ingestion goes on into the WAL.
public final class Replayer: Service, Sendable {
    private let wal: WriteAheadLog
    private let configuration: ReplayerConfiguration
    private let logger: Logger
    private let state = Mutex(State())
    private let stop = StopSignal()
    private let insertedCounter = Counter(label: "replay_events_inserted_total")
    private let duplicateCounter = Counter(label: "replay_events_duplicate_total")
    private let deadLetterCounter = Counter(label: "replay_dead_letters_total")
    private let postgresErrorCounter = Counter(label: "postgres_errors_total", dimensions: [("component", "replay")])

    private struct State {
        var status = ReplayStatus()
        var oldestPendingMicros: Int64?
        /// The last error logged at error level; the same error again is logged at debug only, so a
        /// long outage writes one line, not one per retry.
        var lastLoggedError: String?
        /// Whether reaching the end of the WAL is news worth an info line ("replay caught up"): after a
        /// failure, or after applying a record older than `catchUpLogLagMicros` (a backlog at start, a
        /// burst). Not after every commit, or steady traffic would log a line per transaction.
        var announceCatchUp = false
    }

    public init(wal: WriteAheadLog, configuration: ReplayerConfiguration, logger: Logger) {
        self.wal = wal
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "node_id"] = "\(configuration.nodeID)"
        self.logger = logger
    }

    /// Runs until graceful shutdown; the transaction in flight commits before it returns.
    public func run() async throws {
        await withTaskCancellationOrGracefulShutdownHandler {
            await runOnThread(drainOnly: false)
        } onCancelOrGracefulShutdown: {
            self.requestStop()
        }
    }

    /// Replays until the WAL is empty (as of the call), then returns; for `replay` and tests.
    /// Throws when PostgreSQL stays unreachable for `timeout`.
    public func drain(timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        await withTaskCancellationHandler {
            await runOnThread(drainOnly: true, deadline: deadline)
        } onCancel: {
            self.requestStop()
        }
        let status = self.status()
        if status.unreplayedRecords > 0 || status.unreplayedBytes > 0 {
            throw ReplayError(message: "replay did not finish: \(status.lastError ?? "stopped early")")
        }
    }

    /// A snapshot of progress and lag.
    public func status() -> ReplayStatus {
        var (status, oldest) = state.withLock { ($0.status, $0.oldestPendingMicros) }
        if let checkpoint = status.checkpoint {
            status.unreplayedBytes = wal.unreplayedBytes(after: checkpoint)
        } else {
            status.unreplayedBytes = wal.unreplayedBytes(after: wal.stats.oldestPosition)
        }
        let nextToWrite = wal.stats.nextSequence
        // With no bytes left there is nothing left, whatever the sequence bookkeeping says (a fresh
        // database has no checkpoint sequence yet).
        status.unreplayedRecords = status.unreplayedBytes > 0 && nextToWrite > status.nextSequence ? nextToWrite - status.nextSequence : 0
        if status.unreplayedBytes > 0, let oldest {
            status.lagSeconds = max(0, Double(Self.nowMicros() - oldest) / 1_000_000)
        } else {
            status.lagSeconds = 0
        }
        return status
    }

    private func requestStop() {
        stop.request()
    }

    private func runOnThread(drainOnly: Bool, deadline: ContinuousClock.Instant? = nil) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let thread = Thread {
                self.loop(drainOnly: drainOnly, deadline: deadline)
                continuation.resume()
            }
            thread.name = "replayer"
            thread.start()
        }
    }

    private func loop(drainOnly: Bool, deadline: ContinuousClock.Instant?) {
        var backoff = Backoff(minimum: configuration.minBackoff, maximum: configuration.maxBackoff)
        var session: ReplaySession?
        var prepared = configuration.prepareDatabase == nil
        while !stop.isRequested {
            if let deadline, ContinuousClock.now > deadline { break }
            do {
                if session == nil {
                    if !prepared, let prepare = configuration.prepareDatabase {
                        try prepare(configuration.databaseURL, logger)
                        prepared = true
                    }
                    session = try ReplaySession(wal: wal, configuration: configuration, logger: logger)
                    markReachable(session!)
                    backoff.reset()
                }
                guard let current = session else { continue }
                let stepStarted = ContinuousClock.now
                if let step = try current.step(
                    maxEvents: configuration.maxBatchEvents,
                    maxBytes: configuration.maxBatchBytes,
                    willApply: { oldest in self.willApply(oldestMicros: oldest) }
                ) {
                    committed(step, session: current)
                    if !drainOnly, !step.full {
                        // Caught up: let the next batch gather instead of committing a few rows at a time.
                        announceCaughtUp()
                        stop.sleep(for: configuration.minBatchInterval - (ContinuousClock.now - stepStarted))
                    }
                } else {
                    caughtUp()
                    if drainOnly { break }
                    _ = current.reader.waitForData(timeout: configuration.idleWait)
                }
            } catch let error as WALError where error.code == .corruption {
                // Only reached in strict mode: in skip mode the reader quarantines and goes on.
                stopped(on: error)
                if drainOnly { break }  // drain() reports it as not finished
                while !stop.isRequested { stop.sleep(for: .seconds(3600)) }
            } catch {
                session = nil
                failed(error)
                stop.sleep(for: backoff.next())
            }
        }
    }

    /// Strict mode found corrupt bytes in the WAL (a sealed segment's batch failing its CRC32C, say):
    /// replay of this WAL stops where it is, saying where in the log, in `/ready` (`replay.stopped`)
    /// and in the `wal_replay_corruption` gauge (1, labelled with file and offset). Retrying would only
    /// find the same bytes; ingestion is untouched and goes on until the unreplayed cap.
    private func stopped(on error: WALError) {
        let corruption = WALCorruption(file: error.file ?? "-", offset: error.offset ?? 0, reason: error.message)
        state.withLock {
            $0.status.walCorruption = corruption
            $0.status.lastError = "\(error)"
        }
        Gauge(label: "wal_replay_corruption", dimensions: [("file", corruption.file), ("offset", "\(corruption.offset)")]).record(1)
        logger.critical("replay stopped: corrupt WAL bytes (strict recovery mode); ingestion goes on. Restart with --wal-recovery skip to quarantine them", metadata: [
            "file": "\(corruption.file)", "offset": "\(corruption.offset)", "reason": "\(corruption.reason)",
        ])
    }

    private func committed(_ step: ReplaySession.Step, session: ReplaySession) {
        wal.markReplayed(upTo: session.checkpoint)
        if !configuration.retainSegments {
            do {
                _ = try wal.deleteSegments(below: session.checkpoint)
            } catch {
                logger.warning("could not delete replayed WAL segments", metadata: ["error": "\(error)"])
            }
        }
        insertedCounter.increment(by: step.outcome.inserted)
        duplicateCounter.increment(by: step.outcome.duplicates)
        deadLetterCounter.increment(by: step.outcome.deadLetters)
        if step.outcome.deadLetters > 0 {
            logger.error(
                "poison records moved to dead_letters",
                metadata: ["count": "\(step.outcome.deadLetters)", "checkpoint": "\(session.checkpoint)"]
            )
        }
        state.withLock {
            $0.status.checkpoint = session.checkpoint
            $0.status.nextSequence = session.nextSequence
            $0.status.insertedEvents += UInt64(step.outcome.inserted)
            $0.status.duplicateEvents += UInt64(step.outcome.duplicates)
            $0.status.deadLetters += UInt64(step.outcome.deadLetters)
            $0.status.directSlices += UInt64(step.outcome.directSlices)
            $0.status.stagedSlices += UInt64(step.outcome.stagedSlices)
            if $0.lastLoggedError != nil {
                $0.lastLoggedError = nil
                $0.status.lastError = nil
            }
        }
    }

    /// Lag beyond which catching up again is logged.
    private static let catchUpLogLagMicros: Int64 = 10_000_000

    private func willApply(oldestMicros: Int64) {
        let now = Self.nowMicros()
        state.withLock { state in
            state.oldestPendingMicros = oldestMicros
            if now - oldestMicros > Self.catchUpLogLagMicros { state.announceCatchUp = true }
        }
    }

    /// Nothing left to read: the lag is zero.
    private func caughtUp() {
        state.withLock { $0.oldestPendingMicros = nil }
        announceCaughtUp()
    }

    /// Logs "replay caught up" once after an outage or a backlog: when the WAL had nothing more to
    /// read, or a batch came back smaller than the limit (it took everything there was).
    private func announceCaughtUp() {
        let announce = state.withLock { state -> ReplayStatus? in
            guard state.announceCatchUp else { return nil }
            state.announceCatchUp = false
            return state.status
        }
        if let status = announce {
            logger.info("replay caught up", metadata: [
                "checkpoint": "\(status.checkpoint.map { "\($0)" } ?? "-")",
                "inserted_events": "\(status.insertedEvents)", "duplicate_events": "\(status.duplicateEvents)",
            ])
        }
    }

    private func markReachable(_ session: ReplaySession) {
        let wasReachable = state.withLock { state in
            let was = state.status.postgresReachable
            state.status.postgresReachable = true
            state.status.lastError = nil
            state.status.checkpoint = session.checkpoint
            state.status.nextSequence = session.nextSequence
            return was
        }
        wal.markReplayed(upTo: session.checkpoint)
        if !wasReachable {
            logger.info("PostgreSQL reachable; replaying from checkpoint", metadata: ["checkpoint": "\(session.checkpoint)"])
        }
    }

    private func failed(_ error: any Error) {
        if error is PostgresError { postgresErrorCounter.increment() }
        let description = "\(error)"
        let isNew = state.withLock { state in
            state.announceCatchUp = true
            state.status.postgresReachable = !(error is PostgresError)
            state.status.lastError = description
            if state.oldestPendingMicros == nil { state.oldestPendingMicros = oldestUnreplayedMicros(state.status.checkpoint) }
            defer { state.lastLoggedError = description }
            return state.lastLoggedError != description
        }
        if isNew {
            logger.error("replay paused; events wait in the WAL, retrying with backoff", metadata: ["error": "\(description)"])
        } else {
            logger.debug("replay still paused", metadata: ["error": "\(description)"])
        }
    }

    /// When the oldest record after `checkpoint` was received, for the lag while PostgreSQL is away.
    private func oldestUnreplayedMicros(_ checkpoint: WALPosition?) -> Int64? {
        let reader = wal.reader(from: checkpoint ?? wal.stats.oldestPosition)
        guard let batch = try? reader.next(), let first = batch.records.first else { return nil }
        return (try? EventRecordCodec.decode(first))?.receivedAtMicros
    }

    static func nowMicros() -> Int64 { UTCTime.nowMicros() }
}

public struct ReplayError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
