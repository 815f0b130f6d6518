import Synchronization
/// Hands out the run's requests to the workers: how many events each carries, the number of its
/// first event (for idempotency keys) and when it is due.
///
/// One shared schedule (not a rate per worker) keeps `-rate` exact whatever the concurrency, and
/// makes the run stop at whichever of `-total` and `--duration` comes first. With a rate, request k
/// is due at start + (events before it) / rate: a worker that falls behind sends at once rather than
/// skipping, so a stalled server is followed by a catch-up burst, as real clients behave.
final class LoadSchedule: Sendable {
    struct Ticket: Sendable {
        /// Number of the first new event in this request; keys are `<run-id>-<number>`.
        var firstEvent: Int
        var eventCount: Int
        var due: ContinuousClock.Instant
    }

    private struct State {
        var issuedEvents = 0
        var stopped = false
    }

    let start: ContinuousClock.Instant
    /// Events to send in all (duplicates included); nil when only the duration bounds the run.
    let totalEvents: Int?
    let deadline: ContinuousClock.Instant?
    let eventsPerRequest: Int
    /// Events per second; nil means as fast as the workers go.
    let rate: Double?
    private let state = Mutex(State())

    init(start: ContinuousClock.Instant, totalEvents: Int?, duration: Duration?, eventsPerRequest: Int, rate: Double?) {
        precondition(totalEvents != nil || duration != nil, "a run must be bounded")
        self.start = start
        self.totalEvents = totalEvents
        self.deadline = duration.map { start + $0 }
        self.eventsPerRequest = eventsPerRequest
        self.rate = rate
    }

    /// The next request, or nil when the run is over (all events issued, deadline passed, or stopped).
    func next() -> Ticket? {
        let now = ContinuousClock.now
        return state.withLock { state in
            if state.stopped { return nil }
            if let deadline, now >= deadline { return nil }
            var count = eventsPerRequest
            if let totalEvents {
                count = min(count, totalEvents - state.issuedEvents)
                if count <= 0 { return nil }
            }
            var due = now
            if let rate {
                due = start + .seconds(Double(state.issuedEvents) / rate)
                if let deadline, due >= deadline { return nil }
            }
            let ticket = Ticket(firstEvent: state.issuedEvents, eventCount: count, due: due)
            state.issuedEvents += count
            return ticket
        }
    }

    /// Ends the run early (Ctrl-C): no new requests; those in flight finish.
    func stop() {
        state.withLock { $0.stopped = true }
    }

    var isStopped: Bool { state.withLock { $0.stopped } }

    /// True once the deadline has passed or the run was stopped; a retry loop checks it.
    var isOver: Bool {
        if let deadline, ContinuousClock.now >= deadline { return true }
        return isStopped
    }
}
