import NIOCore
import NIOPosix

/// What every connection of a run shares, fixed before it starts.
struct LoadContext: Sendable {
    var plan: LoadPlan
    var schedule: LoadSchedule
    var ackLog: LoadAckLog?
    var template: LoadRequestTemplate
    /// 202 for our routes, 200 for Segment's.
    var acknowledgedStatus: Int
}

/// One keep-alive HTTP/1.1 connection and the requests it carries, driven entirely on its event loop:
/// a response arriving completes its request, records it and sends the next one from the same
/// callback, with no task hop, promise or per-request allocation in between. `plan.pipeline` slots
/// share the connection; each slot is one request at a time, so `concurrency × pipeline` requests
/// are in flight. Responses come back in the order requests were written (HTTP/1.1), so a FIFO of
/// slot numbers matches them up.
///
/// A connection that fails or closes fails its requests in flight (transport errors) and the next
/// request opens a new one; a refused connection fails the request waiting for it at once (as
/// AsyncHTTPClient did with retries off) and its slot pauses 50 ms, so a stopped service costs the
/// crash tests' load a few hundred failures a second rather than a busy loop.
///
/// `@unchecked Sendable`: every stored property is read and written only on `eventLoop` (handler
/// callbacks, tasks scheduled on it, and `start()`, which hops onto it).
final class LoadConnection: @unchecked Sendable {
    /// How long a slot waits after its connection was refused before it takes the next request.
    static let reconnectPause = TimeAmount.milliseconds(50)
    /// How long one request keeps retrying 503s under `--retry-503` before it gives up, so a WAL
    /// that never recovers cannot hold a run that has no `--duration`.
    static let retry503Limit = TimeAmount.seconds(120)

    private enum SlotState {
        case idle
        /// Waiting for its ticket's due time (`-rate`), a 503's Retry-After, or a reconnect pause.
        case waiting
        /// Request built, waiting for the connection to open.
        case queued
        case inFlight
        case finished
    }

    private struct Slot {
        var state = SlotState.idle
        var builder: LoadRequestBuilder
        var isRetry = false
        var firstAttempt = NIODeadline.uptimeNanoseconds(0)
        var sentAt = NIODeadline.uptimeNanoseconds(0)
    }

    let eventLoop: any EventLoop
    private let context: LoadContext
    private let recorder: LoadRecorder.Shard
    private let done: EventLoopPromise<Void>
    private var slots: [Slot]
    /// Slots whose requests were written on the current channel, oldest first.
    private var inFlight = CircularBuffer<Int>(initialCapacity: 4)
    /// Slots with a built request, waiting for the channel.
    private var queued: [Int] = []
    private var channel: (any Channel)?
    private var connecting = false
    private var parser: LoadResponseParser
    /// Bytes of an incomplete head or chunk line, kept for the next read.
    private var carry: ByteBuffer?
    /// Inside `channelRead`: writes wait for `channelReadComplete`'s one flush.
    private var reading = false
    private var needsFlush = false
    private var finishedSlots = 0
    private var timeoutCheck: RepeatedTask?

    init(eventLoop: any EventLoop, context: LoadContext, recorder: LoadRecorder.Shard, firstWorker: Int) {
        self.eventLoop = eventLoop
        self.context = context
        self.recorder = recorder
        done = eventLoop.makePromise()
        parser = LoadResponseParser(keepsBodies: context.plan.bulk)
        slots = (0..<context.plan.pipeline).map { slot in
            let worker = UInt64(firstWorker + slot)
            return Slot(
                builder: LoadRequestBuilder(
                    seed: context.plan.seed &+ worker &* 0x9E37_79B9_7F4A_7C15, duplicationPercent: context.plan.duplicationPercent))
        }
    }

    /// Starts the slots; the future completes when every slot has run out of tickets.
    func start() -> EventLoopFuture<Void> {
        eventLoop.execute {
            let every = min(TimeAmount.seconds(1), TimeAmount.nanoseconds(self.context.plan.requestTimeout.nanoseconds / 4))
            self.timeoutCheck = self.eventLoop.scheduleRepeatedTask(initialDelay: every, delay: every) { _ in self.expireRequests() }
            for slot in self.slots.indices { self.advance(slot) }
        }
        return done.futureResult
    }

    // MARK: - Requests

    /// Takes the slot's next ticket and sends it, now or when it is due; finishes the slot when the
    /// schedule is over.
    private func advance(_ slot: Int) {
        guard let ticket = context.schedule.next() else {
            slots[slot].state = .finished
            finishedSlots += 1
            finishIfDone()
            return
        }
        let wait = ticket.due - ContinuousClock.now
        if wait > .zero {
            slots[slot].state = .waiting
            eventLoop.scheduleTask(in: .nanoseconds(Int64(BenchClock.seconds(wait) * 1e9))) {
                self.build(slot, ticket)
                self.send(slot)
            }
        } else {
            build(slot, ticket)
            send(slot)
        }
    }

    private func build(_ slot: Int, _ ticket: LoadSchedule.Ticket) {
        slots[slot].builder.build(ticket, plan: context.plan, template: context.template)
        slots[slot].isRetry = false
        slots[slot].firstAttempt = .now()
    }

    /// Writes the slot's request, or queues it and opens the connection.
    private func send(_ slot: Int) {
        if let channel {
            write(slot, on: channel)
        } else {
            slots[slot].state = .queued
            queued.append(slot)
            connect()
        }
    }

    private func write(_ slot: Int, on channel: any Channel) {
        slots[slot].state = .inFlight
        slots[slot].sentAt = .now()
        inFlight.append(slot)
        if reading {
            channel.write(slots[slot].builder.request, promise: nil)
            needsFlush = true
        } else {
            channel.writeAndFlush(slots[slot].builder.request, promise: nil)
        }
    }

    /// A response for the oldest request in flight.
    private func complete(_ slot: Int, _ response: LoadResponse) {
        let now = NIODeadline.now()
        let micros = UInt64(max(0, (now - slots[slot].sentAt).nanoseconds / 1000))
        let outcome: LoadOutcome =
            response.status == context.acknowledgedStatus ? acknowledge(slot, body: response.body) : .status(response.status)
        let keys = slots[slot].builder.keys.count
        let isRetry = slots[slot].isRetry
        recorder.record(
            outcome, events: isRetry ? 0 : keys, duplicates: isRetry ? 0 : slots[slot].builder.duplicates, retry: isRetry,
            latencyMicros: micros)
        if context.plan.retry503, case .status(503) = outcome, !context.schedule.isOver,
            now - slots[slot].firstAttempt < Self.retry503Limit
        {
            // Honour Retry-After, but never sleep long enough to overrun a short run.
            slots[slot].state = .waiting
            eventLoop.scheduleTask(in: .seconds(Int64(min(max(response.retryAfter ?? 1, 1), 5)))) {
                self.slots[slot].isRetry = true
                self.send(slot)
            }
        } else {
            advance(slot)
        }
    }

    /// Turns an acknowledgement into logged keys. A single POST acknowledges its one event; a bulk
    /// answer acknowledges every event not listed in `errors`, and must add up, or nothing is
    /// logged: the ack log may only hold keys the service surely made durable.
    private func acknowledge(_ slot: Int, body: ByteBuffer?) -> LoadOutcome {
        let keys = slots[slot].builder.keys
        guard context.plan.bulk else {
            context.ackLog?.append(prefix: context.template.ackPrefix, numbers: keys)
            return .accepted(acknowledged: keys.count, rejected: 0)
        }
        guard let body, let answer = LoadBulkAnswer.decode(body) else { return .badResponse }
        let rejected = Set(answer.errors.map(\.index))
        guard rejected.allSatisfy({ keys.indices.contains($0) }), answer.rejected == rejected.count,
            answer.accepted == keys.count - rejected.count
        else { return .badResponse }
        context.ackLog?.append(prefix: context.template.ackPrefix, numbers: keys.indices.lazy.filter { !rejected.contains($0) }.map { keys[$0] })
        return .accepted(acknowledged: answer.accepted, rejected: answer.rejected)
    }

    /// A request that got no HTTP answer: counted, and the slot moves on (after `pause`, if given).
    private func failTransport(_ slot: Int, pause: TimeAmount? = nil) {
        let isRetry = slots[slot].isRetry
        recorder.record(
            .transport, events: isRetry ? 0 : slots[slot].builder.keys.count, duplicates: isRetry ? 0 : slots[slot].builder.duplicates,
            retry: isRetry, latencyMicros: 0)
        if let pause {
            slots[slot].state = .waiting
            eventLoop.scheduleTask(in: pause) { self.advance(slot) }
        } else {
            advance(slot)
        }
    }

    /// Closes the connection when its oldest request has waited longer than `--timeout`.
    private func expireRequests() {
        guard let oldest = inFlight.first, let channel else { return }
        let waited = NIODeadline.now() - slots[oldest].sentAt
        if waited.nanoseconds >= context.plan.requestTimeout.nanoseconds {
            drop(channel)
        }
    }

    private func finishIfDone() {
        guard finishedSlots == slots.count else { return }
        timeoutCheck?.cancel()
        timeoutCheck = nil
        if let channel {
            self.channel = nil
            channel.close(promise: nil)
        }
        done.succeed()
    }

    // MARK: - The channel

    private func connect() {
        guard channel == nil, !connecting else { return }
        connecting = true
        let connectTimeout = min(TimeAmount.seconds(5), context.plan.requestTimeout)
        ClientBootstrap(group: eventLoop)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(LoadChannelHandler(connection: self))
                }
            }
            .connect(host: context.plan.target.host, port: context.plan.target.port)
            .whenComplete { result in
                self.connecting = false
                switch result {
                case .success(let channel) where channel.isActive:
                    self.channel = channel
                    let waiting = self.queued
                    self.queued.removeAll(keepingCapacity: true)
                    for slot in waiting { self.write(slot, on: channel) }
                case .success(let channel):
                    channel.close(promise: nil)
                    self.failQueued()
                case .failure:
                    self.failQueued()
                }
            }
    }

    private func failQueued() {
        let waiting = queued
        queued.removeAll(keepingCapacity: true)
        for slot in waiting { failTransport(slot, pause: Self.reconnectPause) }
    }

    /// Stops using `channel`: closes it and fails the requests still in flight on it.
    private func drop(_ channel: any Channel) {
        guard channel === self.channel else { return }
        self.channel = nil
        channel.close(promise: nil)
        parser.reset()
        carry = nil
        // A closed channel may never see its `channelReadComplete`: writes from here on go to a new
        // channel and must not wait for that flush.
        reading = false
        needsFlush = false
        let lost = Array(inFlight)
        inFlight.removeAll(keepingCapacity: true)
        for slot in lost { failTransport(slot) }
    }

    fileprivate func channelRead(_ channel: any Channel, _ buffer: ByteBuffer) {
        guard channel === self.channel else { return }
        reading = true
        var input = buffer
        if var kept = carry {
            carry = nil
            kept.writeImmutableBuffer(buffer)
            input = kept
        }
        do {
            while let response = try parser.next(from: &input) {
                guard let slot = inFlight.popFirst() else {
                    throw LoadResponseParser.Malformed(description: "a response to no request")
                }
                if response.closesConnection {
                    // The server answers nothing more on this connection: requests written after this
                    // one fail, and this slot's next request opens a new connection.
                    drop(channel)
                    complete(slot, response)
                    return
                }
                complete(slot, response)
            }
            if input.readableBytes > 0 { carry = input }
        } catch {
            drop(channel)
        }
    }

    fileprivate func channelReadComplete(_ channel: any Channel) {
        reading = false
        if needsFlush, channel === self.channel {
            needsFlush = false
            channel.flush()
        }
    }

    fileprivate func channelInactive(_ channel: any Channel) {
        guard channel === self.channel else { return }
        // A body that runs until close ends here.
        let closed = parser.connectionClosed()
        let slot = closed != nil ? inFlight.popFirst() : nil
        drop(channel)
        if let closed, let slot { complete(slot, closed) }
    }
}

/// Forwards one channel's events to its ``LoadConnection``. A new one per channel (a reconnect), so
/// the connection can tell a stale channel's late events from the current one's.
private final class LoadChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let connection: LoadConnection

    init(connection: LoadConnection) {
        self.connection = connection
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connection.channelRead(context.channel, unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        connection.channelReadComplete(context.channel)
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.channelInactive(context.channel)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
