import Foundation
import NIOCore

/// The bytes every request of a run shares, encoded once: the request line and headers up to the
/// Content-Length value. A request is this prefix, the body's length, CRLF CRLF and the body, all
/// written into one reused buffer, so sending costs one copy of ~400 bytes and no allocation.
struct LoadRequestTemplate: Sendable {
    /// `POST /events HTTP/1.1\r\nHost: …\r\nContent-Type: application/json\r\nContent-Length: `
    let headPrefix: [UInt8]
    /// `<run-id>-`: every key (or Segment `messageId`) is this and the event's number.
    let keyPrefix: [UInt8]
    /// What the ack log writes before an acknowledged event's number: the key prefix for our API;
    /// for Segment messages the whole `sdk:segment:<write key length>:<write key>` domain too, so
    /// `bench check` hashes each line as the service keys that message (``CheckKeyHash``).
    let ackPrefix: [UInt8]

    /// `writeKey` (Segment only) is sent as HTTP Basic auth, the key as user name, as Segment's SDKs do.
    init(target: LoadTarget, runID: String, segment: Bool = false, writeKey: String? = nil) {
        var head = "POST \(target.requestTarget) HTTP/1.1\r\nHost: \(target.hostHeader)\r\n"
        if segment, let writeKey {
            head += "Authorization: Basic \(Data((writeKey + ":").utf8).base64EncodedString())\r\n"
        }
        headPrefix = Array((head + "Content-Type: application/json\r\nContent-Length: ").utf8)
        keyPrefix = Array("\(runID)-".utf8)
        ackPrefix = segment ? Array(SDKAckKey.prefix(dialect: .segment, writeKey: writeKey ?? "").utf8) + keyPrefix : keyPrefix
    }

    /// Replaces `request`'s contents with a POST of `body`. Reuses the buffer's storage once the
    /// previous request's write has completed (NIO then holds no reference to it).
    func write(body: [UInt8], into request: inout ByteBuffer) {
        request.clear()
        request.writeBytes(headPrefix)
        var value = body.count
        var digits: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &digits) { scratch in
            var start = scratch.count
            repeat {
                start -= 1
                scratch[start] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            } while value > 0
            request.writeBytes(UnsafeRawBufferPointer(rebasing: scratch[start...]))
        }
        request.writeStaticString("\r\n\r\n")
        request.writeBytes(body)
    }
}

/// One request in the making: the events it carries and its bytes. Each load worker (a connection's
/// pipeline slot) owns one and reuses its arrays and buffer for every request.
struct LoadRequestBuilder {
    /// The last request built, head and body: what is written (again, for a `--retry-503` retry).
    private(set) var request = ByteBufferAllocator().buffer(capacity: 1024)
    var generator: EventGenerator
    private var recent: LoadRecentEvents
    private var body: [UInt8] = []
    /// Numbers of the events in the request (keys `<run-id>-<n>`), duplicates included.
    private(set) var keys: [Int] = []
    private(set) var duplicates = 0

    init(seed: UInt64, duplicationPercent: Double) {
        generator = EventGenerator(seed: seed)
        recent = LoadRecentEvents(capacity: duplicationPercent > 0 ? LoadRecentEvents.workerCapacity : 0)
        body.reserveCapacity(512)
        keys.reserveCapacity(1)
    }

    /// Renders the ticket's events (and re-sent duplicates) into `request`.
    mutating func build(_ ticket: LoadSchedule.Ticket, plan: LoadPlan, template: LoadRequestTemplate) {
        body.removeAll(keepingCapacity: true)
        keys.removeAll(keepingCapacity: true)
        duplicates = 0
        let now = Int64(Date().timeIntervalSince1970)
        if plan.bulk { body.append(contentsOf: plan.segment ? #"{"batch":["#.utf8 : #"{"events":["#.utf8) }
        for offset in 0..<ticket.eventCount {
            if plan.bulk, offset > 0 { body.append(UInt8(ascii: ",")) }
            if plan.duplicationPercent > 0, generator.random.unit() * 100 < plan.duplicationPercent,
                let original = recent.pick(using: &generator.random)
            {
                // An exact re-send: the same event and key render the same bytes, as a client
                // retrying after a lost answer.
                append(original.event, number: original.number, plan: plan, template: template)
                keys.append(original.number)
                duplicates += 1
            } else {
                let number = ticket.firstEvent + offset
                let event = generator.next(timestamp: now - Int64(generator.random.below(60)))
                append(event, number: number, plan: plan, template: template)
                recent.add(number: number, event: event)
                keys.append(number)
            }
        }
        if plan.bulk { body.append(contentsOf: "]}".utf8) }
        template.write(body: body, into: &request)
    }

    private mutating func append(_ event: SyntheticEvent, number: Int, plan: LoadPlan, template: LoadRequestTemplate) {
        if plan.segment {
            event.appendSegmentJSON(to: &body, keyPrefix: template.keyPrefix, keyNumber: number)
        } else {
            event.appendJSON(to: &body, keyPrefix: template.keyPrefix, keyNumber: number)
        }
    }
}

/// A worker's ring of recently sent events, the pool that `-duplication-percent` re-sends from.
/// It keeps the event and its number, not bytes: rendering them again gives the same body.
struct LoadRecentEvents {
    /// Per worker: recent ones, as a retrying client would resend.
    static let workerCapacity = 1024

    struct Sent {
        var number: Int
        var event: SyntheticEvent
    }

    private var slots: [Sent] = []
    private var nextSlot = 0
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        slots.reserveCapacity(capacity)
    }

    mutating func add(number: Int, event: SyntheticEvent) {
        guard capacity > 0 else { return }
        let sent = Sent(number: number, event: event)
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
