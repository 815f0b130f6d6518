import Events
import Foundation
import Testing

@testable import Bench

/// `bench load --format segment` must send the very events `--format ours` sends, so that the
/// `/v1/batch` vs `/events/bulk` comparison measures only the service's handling of the format.
@Suite("Segment messages of bench load")
struct SegmentEventJSONTests {
    @Test("RFC 3339 text equals Foundation's, leap days and far years included")
    func rfc3339() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        var random = EventRandom(seed: 3)
        let edges: [Int64] = [0, 59, 86_399, 86_400, 951_782_400, 951_868_799, 4_107_542_400, 1_798_761_599, 253_402_300_799]
        for seconds in edges + (0..<2_000).map({ _ in Int64(random.below(253_402_300_800)) }) {
            var out: [UInt8] = []
            out.appendRFC3339(seconds: seconds)
            #expect(String(decoding: out, as: UTF8.self) == formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds))))
        }
    }

    @Test("the same events both ways: every field of ours, as the service maps them")
    func sameEvents() throws {
        var generator = EventGenerator(seed: 11)
        let now = Int64(Date().timeIntervalSince1970)
        let events = (0..<300).map { _ in generator.next(timestamp: now - Int64(generator.random.below(60))) }
        let prefix = Array("run-".utf8)
        var ours: [UInt8] = Array(#"{"events":["#.utf8)
        var segment: [UInt8] = Array(#"{"batch":["#.utf8)
        for (number, event) in events.enumerated() {
            if number > 0 {
                ours.append(UInt8(ascii: ","))
                segment.append(UInt8(ascii: ","))
            }
            event.appendJSON(to: &ours, keyPrefix: prefix, keyNumber: number)
            event.appendSegmentJSON(to: &segment, keyPrefix: prefix, keyNumber: number)
        }
        ours.append(contentsOf: "]}".utf8)
        segment.append(contentsOf: "]}".utf8)
        let received = now * 1_000_000
        let parser = EventParser()
        let fromOurs = try parser.parseBulk(ours, format: .json, receivedAtMicros: received).get()
        let fromSegment = try segment.withUnsafeBytes {
            parser.parseSegment($0, call: nil, headerWriteKey: nil, receivedAtMicros: received)
        }.get().parsed
        #expect(fromOurs.errors.isEmpty && fromSegment.errors.isEmpty)
        try #require(fromOurs.events.count == events.count && fromSegment.events.count == events.count)
        for (a, b) in zip(fromOurs.events, fromSegment.events) {
            #expect(a.eventName == b.eventName && a.userID == b.userID && a.channel == b.channel)
            #expect(a.campaignID == b.campaignID && a.tags == b.tags && a.timestampMicros == b.timestampMicros)
        }
    }
}
