import AsyncHTTPClient
import Foundation
import NIOCore

/// Everything a load run needs to know, fixed before it starts.
struct LoadPlan: Sendable {
    var target: LoadTarget
    /// Requests go to the bulk endpoint as `{"events":[…]}` rather than one event per POST.
    var bulk: Bool
    var concurrency: Int
    var duplicationPercent: Double
    /// Prefix of every idempotency key, unique per run so runs never collide in the database.
    var runID: String
    var seed: UInt64
    var retry503: Bool
    var requestTimeout: Duration
    /// Segment's wire format (`--format segment`): `{"batch":[…]}` of track messages, or one message
    /// per POST, answered 200 rather than 202.
    var segment = false
}

/// Runs the workers: each takes a ticket from the schedule, builds the body, POSTs it on the shared
/// keep-alive connection pool, and records the outcome (and the acknowledged keys).
struct LoadRunner: Sendable {
    /// How long one request keeps retrying 503s under `--retry-503` before it gives up, so a WAL
    /// that never recovers cannot hold a run that has no `--duration`.
    static let retry503Limit = Duration.seconds(120)
    /// Per worker: events a duplicate may copy. Recent ones, as a retrying client would resend.
    static let recentEventCapacity = 1024

    let plan: LoadPlan
    let schedule: LoadSchedule
    let recorder: LoadRecorder
    let ackLog: LoadAckLog?
    let client: HTTPClient

    /// Runs `plan.concurrency` workers until the schedule ends.
    func run() async {
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<plan.concurrency {
                group.addTask { await runWorker(index: index) }
            }
        }
    }

    private func runWorker(index: Int) async {
        var generator = EventGenerator(seed: plan.seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
        var recent = LoadRecentEvents(capacity: plan.duplicationPercent > 0 ? Self.recentEventCapacity : 0)
        var body: [UInt8] = []
        var keys: [String] = []
        var timestamps = SegmentTimestampCache()
        while let ticket = schedule.next() {
            if ticket.due > .now {
                try? await Task.sleep(until: ticket.due, clock: .continuous)
            }
            body.removeAll(keepingCapacity: true)
            keys.removeAll(keepingCapacity: true)
            var duplicates = 0
            let now = Int64(Date().timeIntervalSince1970)
            if plan.bulk { body.append(contentsOf: plan.segment ? #"{"batch":["#.utf8 : #"{"events":["#.utf8) }
            for offset in 0..<ticket.eventCount {
                if plan.bulk, offset > 0 { body.append(UInt8(ascii: ",")) }
                if plan.duplicationPercent > 0, generator.random.unit() * 100 < plan.duplicationPercent,
                    let original = recent.pick(using: &generator.random)
                {
                    // An exact re-send: same body, same key, as a client retrying after a lost answer.
                    body.append(contentsOf: original.json)
                    keys.append(original.key)
                    duplicates += 1
                } else {
                    let key = "\(plan.runID)-\(ticket.firstEvent + offset)"
                    let event = generator.next(timestamp: now - Int64(generator.random.below(60)))
                    let start = body.count
                    if plan.segment {
                        event.appendSegmentJSON(to: &body, messageID: key, timestamp: timestamps.text(for: event.timestamp))
                    } else {
                        event.appendJSON(to: &body, idempotencyKey: key)
                    }
                    recent.add(key: key, json: body[start...])
                    keys.append(key)
                }
            }
            if plan.bulk { body.append(contentsOf: "]}".utf8) }
            await send(body: body, keys: keys, duplicates: duplicates)
        }
    }

    private func send(body: [UInt8], keys: [String], duplicates: Int) async {
        var request = HTTPClientRequest(url: plan.target.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        let timeout = TimeAmount.nanoseconds(Int64(BenchClock.seconds(plan.requestTimeout) * 1e9))
        let firstAttempt = ContinuousClock.now
        var isRetry = false
        while true {
            let started = ContinuousClock.now
            var outcome = LoadOutcome.transport
            var retryAfter = 1
            do {
                let response = try await client.execute(request, timeout: timeout)
                let answer = try await response.body.collect(upTo: 16 << 20)
                let status = Int(response.status.code)
                if status == (plan.segment ? 200 : 202) {
                    outcome = acknowledge(answer: answer, keys: keys)
                } else {
                    outcome = .status(status)
                    retryAfter = response.headers.first(name: "Retry-After").flatMap { Int($0) } ?? 1
                }
            } catch {
                outcome = .transport
            }
            let latency = ContinuousClock.now - started
            recorder.record(
                outcome, events: isRetry ? 0 : keys.count, duplicates: isRetry ? 0 : duplicates, retry: isRetry,
                latencyMicros: UInt64(max(0, BenchClock.seconds(latency) * 1e6)))

            guard plan.retry503, case .status(503) = outcome, !schedule.isOver,
                ContinuousClock.now - firstAttempt < Self.retry503Limit
            else { return }
            // Honour Retry-After, but never sleep long enough to overrun a short run.
            try? await Task.sleep(for: .seconds(min(max(retryAfter, 1), 5)))
            isRetry = true
        }
    }

    /// Turns a 202 into acknowledged keys. A single POST acknowledges its one event; a bulk answer
    /// acknowledges every event not listed in `errors`, and must add up, or nothing is logged: the
    /// ack log may only hold keys the service surely made durable.
    private func acknowledge(answer: ByteBuffer, keys: [String]) -> LoadOutcome {
        guard plan.bulk else {
            ackLog?.append(keys)
            return .accepted(acknowledged: keys.count, rejected: 0)
        }
        guard let bulk = try? JSONDecoder().decode(LoadBulkAnswer.self, from: Data(answer.readableBytesView)) else {
            return .badResponse
        }
        let rejected = Set(bulk.errors.map(\.index))
        guard rejected.allSatisfy({ keys.indices.contains($0) }), bulk.rejected == rejected.count,
            bulk.accepted == keys.count - rejected.count
        else { return .badResponse }
        ackLog?.append(keys.indices.lazy.filter { !rejected.contains($0) }.map { keys[$0] })
        return .accepted(acknowledged: bulk.accepted, rejected: bulk.rejected)
    }
}

/// The part of `POST /events/bulk`'s 202 answer that says which events were refused.
struct LoadBulkAnswer: Decodable {
    struct Rejection: Decodable {
        var index: Int
    }
    var accepted: Int
    var rejected: Int
    var errors: [Rejection]
}

/// A worker's ring of recently sent events, the pool that `-duplication-percent` re-sends from.
struct LoadRecentEvents {
    struct Sent {
        var key: String
        var json: [UInt8]
    }

    private var slots: [Sent] = []
    private var nextSlot = 0
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        slots.reserveCapacity(capacity)
    }

    mutating func add(key: String, json: ArraySlice<UInt8>) {
        guard capacity > 0 else { return }
        let sent = Sent(key: key, json: Array(json))
        if slots.count < capacity {
            slots.append(sent)
        } else {
            slots[nextSlot] = sent
            nextSlot = (nextSlot + 1) % capacity
        }
    }

    /// A random earlier event, or nil before the first one.
    func pick(using random: inout EventRandom) -> Sent? {
        slots.isEmpty ? nil : slots[random.below(slots.count)]
    }
}
