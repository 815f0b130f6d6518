import Foundation
import Testing
@testable import Events

// Deterministic mutation fuzzing: thousands of damaged inputs through every entry point. The checks
// are that nothing crashes or traps, and that whatever is accepted is consistent.
// EVENT_FUZZ_SCALE=N runs N times as many inputs (e.g. under --sanitize=address).

private let fuzzScale = max(1, Int(ProcessInfo.processInfo.environment["EVENT_FUZZ_SCALE"] ?? "") ?? 1)

private let interestingBytes: [UInt8] = Array(#"{}[]":,\/u0123456789-+.eEtfnl ab"#.utf8)
    + [0x00, 0x09, 0x0A, 0x0D, 0x1F, 0x7F, 0x80, 0xBF, 0xC0, 0xC3, 0xE2, 0xED, 0xF0, 0xF4, 0xF5, 0xFF]

private func mutate(_ input: [UInt8], _ rng: inout EventTestRandom) -> [UInt8] {
    var bytes = input
    for _ in 0..<Int.random(in: 1...4, using: &rng) {
        let choice = Int.random(in: 0..<7, using: &rng)
        let i = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &rng)
        switch choice {
        case 0 where !bytes.isEmpty:
            bytes[i] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &rng)
        case 1 where !bytes.isEmpty:
            bytes[i] = interestingBytes.randomElement(using: &rng)!
        case 2:
            bytes.insert(interestingBytes.randomElement(using: &rng)!, at: i)
        case 3 where !bytes.isEmpty:
            bytes.remove(at: i)
        case 4:
            bytes = Array(bytes.prefix(i))
        case 5 where bytes.count > 2:
            let j = Int.random(in: i..<bytes.count, using: &rng)
            bytes.insert(contentsOf: bytes[i..<j], at: Int.random(in: 0...bytes.count, using: &rng))
        default:
            if !bytes.isEmpty { bytes[i] = UInt8.random(in: 0...255, using: &rng) }
        }
    }
    return bytes
}

private let seedBodies: [String] = [
    #"{"event_name": "product_view", "channel": "web", "campaign_id": "cmp_987", "user_id": "user_123", "timestamp": 1723475612, "tags": ["electronics", "sale"], "metadata": {"price": 129.99, "currency": "TRY"}}"#,
    #"{"event_name":"\u00e9v\ud83c\udf89","channel":"app","user_id":"u","timestamp":"2025-11-29T10:00:00.123+03:00","campaign_id":null,"idempotency_key":"k-1","metadata":{"a":[1,-2.5e3,{"b":"}{\"]"}],"c":null,"d":true}}"#,
    #"{"user_id":"x","timestamp":"2024-02-29t23:59:59Z","event_name":"e","channel":"c","x":{"y":[[],{}]},"tags":[]}"#,
]

/// Runs `body` on a copy of `bytes` in an allocation of exactly that size, so that an address
/// sanitizer run catches a read even one byte past the end.
private func withExactCopy<R>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) -> R) -> R {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
    defer { buffer.deallocate() }
    buffer.copyBytes(from: bytes)
    return body(UnsafeRawBufferPointer(buffer))
}

private func checkAccepted(_ event: Event, sourceLocation: SourceLocation = #_sourceLocation) {
    let limits = EventLimits.default
    #expect(!event.eventName.isEmpty && event.eventName.utf8.count <= limits.maxEventNameBytes, sourceLocation: sourceLocation)
    #expect(!event.channel.isEmpty && event.channel.utf8.count <= limits.maxChannelBytes, sourceLocation: sourceLocation)
    #expect(!event.userID.isEmpty && event.userID.utf8.count <= limits.maxUserIDBytes, sourceLocation: sourceLocation)
    #expect(event.tags.count <= limits.maxTags, sourceLocation: sourceLocation)
    #expect(event.timestampMicros >= limits.minTimestampSeconds * 1_000_000, sourceLocation: sourceLocation)
    #expect(event.timestampMicros <= eventTestNow + limits.maxFutureSkewSeconds * 1_000_000, sourceLocation: sourceLocation)
    #expect((event.metadataJSON?.count ?? 0) <= limits.maxMetadataBytes, sourceLocation: sourceLocation)
    #expect((try? EventRecordCodec.decode(EventRecordCodec.encode(event))) == event, sourceLocation: sourceLocation)
}

@Suite("Event fuzzing")
struct EventFuzzTests {
    @Test func fuzzParseEvent() {
        var rng = EventTestRandom(seed: 1)
        let parser = EventParser()
        var accepted = 0
        for round in 0..<(6_000 * fuzzScale) {
            let seed = Array(seedBodies[round % seedBodies.count].utf8)
            let input = mutate(seed, &rng)
            switch withExactCopy(input, { parser.parseEvent($0, receivedAtMicros: eventTestNow) }) {
            case .success(let event):
                accepted += 1
                checkAccepted(event)
            case .failure(let error):
                // `field` may be empty: it names the offending field, and "" is a valid JSON name.
                #expect(!error.code.description.isEmpty && !error.message.isEmpty)
            }
        }
        // Some mutations (inside metadata or whitespace) leave a valid event: the checks above ran.
        #expect(accepted > 100)
    }

    @Test func fuzzParseBulk() {
        var rng = EventTestRandom(seed: 2)
        let parser = EventParser()
        let json = Array(("{\"events\": [" + seedBodies.joined(separator: ", ") + "]}").utf8)
        let array = Array(("[" + seedBodies.joined(separator: ",") + "]").utf8)
        let ndjson = Array(seedBodies.joined(separator: "\n").utf8)
        for round in 0..<(3_000 * fuzzScale) {
            let (seed, format): ([UInt8], BulkFormat) = switch round % 3 {
            case 0: (json, .json)
            case 1: (array, .json)
            default: (ndjson, .ndjson)
            }
            let input = mutate(seed, &rng)
            let outcome = withExactCopy(input) { parser.parseBulk($0, format: format, receivedAtMicros: eventTestNow) }
            guard case .success(let result) = outcome else {
                continue
            }
            #expect(result.events.count == result.eventIndexes.count)
            let indexes = (result.eventIndexes + result.errors.map(\.index)).sorted()
            #expect(indexes == Array(0..<result.totalCount))
            result.events.forEach { checkAccepted($0) }
        }
    }

    @Test func fuzzRandomBytes() {
        var rng = EventTestRandom(seed: 3)
        let parser = EventParser()
        for _ in 0..<(3_000 * fuzzScale) {
            let input = (0..<Int.random(in: 0...64, using: &rng)).map { _ in
                Bool.random(using: &rng) ? interestingBytes.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng)
            }
            withExactCopy(input) { buffer in
                _ = parser.parseEvent(buffer, receivedAtMicros: eventTestNow)
                _ = parser.parseBulk(buffer, format: .json, receivedAtMicros: eventTestNow)
                _ = parser.parseBulk(buffer, format: .ndjson, receivedAtMicros: eventTestNow)
            }
            if let event = withExactCopy(input, { try? EventRecordCodec.decode($0) }) {
                #expect(EventRecordCodec.encode(event) == input)
            }
        }
    }

    @Test func fuzzDecode() {
        var rng = EventTestRandom(seed: 4)
        var decoded = 0
        for _ in 0..<(6_000 * fuzzScale) {
            let record = EventRecordCodec.encode(randomTestEvent(&rng))
            let input = mutate(record, &rng)
            if let event = withExactCopy(input, { try? EventRecordCodec.decode($0) }) {
                // Decoding is canonical: what decodes re-encodes to the same bytes.
                decoded += 1
                #expect(EventRecordCodec.encode(event) == input)
            }
        }
        #expect(decoded > 100)
    }
}
