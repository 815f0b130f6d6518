import Events
import Foundation
import NIOCore
import Testing

@testable import Bench

/// `bench check` looks each ack log line up under the key the service stores for that event. These
/// tests build requests as `bench load` does, let the service's own parser key the events, and check
/// that the lines `bench load` would log for them hash to those very keys, for our API and for
/// Segment messages (whose ids the service scopes by write key in the `sdk:` domain).
@Suite("Ack log keys")
struct AckLogKeyTests {
    static let target = try! LoadTarget(endpoint: "http://127.0.0.1:8080/v1/batch", bulk: true)

    /// A bulk request of `count` events, as a `bench load` worker builds it: its body and ack log lines.
    static func request(segment: Bool, writeKey: String? = nil, count: Int = 50, duplicationPercent: Double = 0) -> (body: [UInt8], head: String, lines: [String]) {
        var plan = LoadPlan(
            target: target, bulk: true, concurrency: 1, duplicationPercent: duplicationPercent, runID: "0123abcd-run",
            seed: 7, retry503: false, requestTimeout: .seconds(1))
        plan.segment = segment
        plan.writeKey = writeKey
        let template = LoadRequestTemplate(target: target, runID: plan.runID, segment: segment, writeKey: writeKey)
        var builder = LoadRequestBuilder(seed: 7, duplicationPercent: duplicationPercent)
        builder.build(LoadSchedule.Ticket(firstEvent: 1000, eventCount: count, due: .now), plan: plan, template: template)
        let bytes = Array(builder.request.readableBytesView)
        let split = bytes.firstRange(of: Array("\r\n\r\n".utf8))!
        let lines = builder.keys.map { String(decoding: template.ackPrefix, as: UTF8.self) + String($0) }
        return (Array(bytes[split.upperBound...]), String(decoding: bytes[..<split.lowerBound], as: UTF8.self), lines)
    }

    static var now: Int64 { Int64(Date().timeIntervalSince1970 * 1_000_000) }

    static func checkKeys(_ lines: [String]) throws -> Set<IdempotencyKey> {
        Set(try lines.map { try IdempotencyKey(bytes: CheckKeyHash.uuidBytes(ackLine: $0))! })
    }

    @Test("our API's keys: the line is the client key, hashed as client:")
    func ourKeys() throws {
        let request = Self.request(segment: false)
        let parsed = try EventParser().parseBulk(request.body, format: .json, receivedAtMicros: Self.now).get()
        #expect(parsed.errors.isEmpty)
        #expect(request.lines.allSatisfy { !$0.hasPrefix("sdk:") })
        #expect(try Self.checkKeys(request.lines) == Set(parsed.events.map(\.idempotencyKey)))
        #expect(parsed.events.count == 50)
    }

    @Test("Segment message ids, with and without a write key, duplicates included", arguments: [nil, "wk_live:9x"] as [String?])
    func segmentKeys(key: String?) throws {
        let request = Self.request(segment: true, writeKey: key, duplicationPercent: 20)
        let parsed = try request.body.withUnsafeBytes {
            EventParser().parseSegment($0, call: nil, headerWriteKey: key, receivedAtMicros: Self.now)
        }.get()
        #expect(parsed.parsed.errors.isEmpty)
        #expect(parsed.parsed.events.count == 50)
        #expect(request.lines.allSatisfy { $0.hasPrefix("sdk:segment:\(key?.utf8.count ?? 0):\(key ?? "")0123abcd-run-") })
        let logged = try Self.checkKeys(request.lines)
        #expect(logged == Set(parsed.parsed.events.map(\.idempotencyKey)))
        // The old lookup (client:) found none of them: what `bench check` reported as missing.
        #expect(logged.isDisjoint(with: request.lines.map { IdempotencyKey.client($0) }))
        if let key {
            let expected = "Authorization: Basic " + Data((key + ":").utf8).base64EncodedString()
            #expect(request.head.contains(expected))
        } else {
            #expect(!request.head.contains("Authorization"))
        }
    }

    @Test("sdk: lines parse back to dialect, write key and id; broken ones are refused")
    func sdkLines() throws {
        let key = SDKAckKey(dialect: .segment, writeKey: "a:b", messageID: "run-1")
        #expect(key.line == "sdk:segment:3:a:brun-1")
        #expect(SDKAckKey(line: key.line) == key)
        #expect(SDKAckKey(line: "sdk:posthog:0:uuid-1") == SDKAckKey(dialect: .posthog, writeKey: "", messageID: "uuid-1"))
        #expect(
            try CheckKeyHash.key(ackLine: key.line) == IdempotencyKey.scoped(dialect: .segment, writeKey: "a:b", messageID: "run-1"))
        for broken in ["sdk:", "sdk:segment", "sdk:segment:x:id", "sdk:rudder:0:id", "sdk:segment:9:short", "sdk:segment:3:abc", "sdk:segment:-1:id"] {
            #expect(throws: CheckError.self, "\(broken)") { try CheckKeyHash.key(ackLine: broken) }
        }
        #expect(try CheckKeyHash.key(ackLine: "run-7") == IdempotencyKey.client("run-7"))
    }

    @Test("bench load keeps run ids out of the sdk: domain")
    func runIDs() throws {
        #expect(throws: (any Error).self) { try LoadCommand.parse(["--run-id", "sdk:segment:0:x"]).validate() }
        #expect(throws: (any Error).self) { try LoadCommand.parse(["--write-key", "k"]).validate() }
        #expect(throws: (any Error).self) { try LoadCommand.parse(["--format", "segment", "--write-key", "a b"]).validate() }
        try LoadCommand.parse(["--format", "segment", "--write-key", "key:1", "--run-id", "sdkrun"]).validate()
    }
}
