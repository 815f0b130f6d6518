import Foundation
import NIOCore
import NIOPosix

/// Everything a load run needs to know, fixed before it starts.
struct LoadPlan: Sendable {
    var target: LoadTarget
    /// Requests go to the bulk endpoint as `{"events":[…]}` rather than one event per POST.
    var bulk: Bool
    /// Keep-alive connections.
    var concurrency: Int
    /// Requests in flight per connection (HTTP/1.1 pipelining when > 1).
    var pipeline = 1
    /// Event-loop threads the connections are spread over.
    var threads = 1
    var duplicationPercent: Double
    /// Prefix of every idempotency key, unique per run so runs never collide in the database.
    var runID: String
    var seed: UInt64
    var retry503: Bool
    var requestTimeout: TimeAmount
    /// Segment's wire format (`--format segment`): `{"batch":[…]}` of track messages, or one message
    /// per POST, answered 200 rather than 202.
    var segment = false
    /// Segment write key, sent as HTTP Basic auth (`--write-key`); nil sends none.
    var writeKey: String?
}

/// Runs the connections on their event loops until the schedule ends. Connection i lives on loop
/// i mod threads and records into that loop's recorder shard.
struct LoadRunner {
    let plan: LoadPlan
    let schedule: LoadSchedule
    let recorder: LoadRecorder
    let ackLog: LoadAckLog?

    func run() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: plan.threads)
        let loops = (0..<plan.threads).map { _ in group.next() }
        let context = LoadContext(
            plan: plan, schedule: schedule, ackLog: ackLog,
            template: LoadRequestTemplate(target: plan.target, runID: plan.runID, segment: plan.segment, writeKey: plan.writeKey),
            acknowledgedStatus: plan.segment ? 200 : 202)
        let connections = (0..<plan.concurrency).map { index in
            LoadConnection(
                eventLoop: loops[index % loops.count], context: context,
                recorder: recorder.shards[index % loops.count % recorder.shards.count], firstWorker: index * plan.pipeline)
        }
        let finished = connections.map { $0.start() }
        do {
            try await EventLoopFuture.andAllSucceed(finished, on: loops[0]).get()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try await group.shutdownGracefully()
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

    static func decode(_ body: ByteBuffer) -> LoadBulkAnswer? {
        try? JSONDecoder().decode(LoadBulkAnswer.self, from: Data(body.readableBytesView))
    }
}
