import Testing
@testable import Events

private let goldenEvent = Event(
    eventName: "pv", channel: "web", campaignID: "c1", userID: "u",
    timestampMicros: 0x0102_0304_0506_0708, tags: ["a", "bc"], metadataJSON: Array("{}".utf8),
    idempotencyKey: IdempotencyKey(high: 0x0011_2233_4455_6677, low: 0x8899_AABB_CCDD_EEFF),
    receivedAtMicros: 1
)

/// The layout of docs/event-record-format.md, written out by hand.
private let goldenBytes: [UInt8] = [
    0x01, 0x03,
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF,
    0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x02, 0x70, 0x76,
    0x03, 0x77, 0x65, 0x62,
    0x01, 0x75,
    0x02, 0x63, 0x31,
    0x02, 0x01, 0x61, 0x02, 0x62, 0x63,
    0x02, 0x7B, 0x7D,
]

@Suite("Event WAL records")
struct EventRecordCodecTests {
    @Test func goldenRecord() throws {
        #expect(EventRecordCodec.encode(goldenEvent) == goldenBytes)
        #expect(EventRecordCodec.encodedSize(of: goldenEvent) == goldenBytes.count)
        #expect(try EventRecordCodec.decode(goldenBytes) == goldenEvent)
    }

    @Test func minimalRecord() throws {
        var event = goldenEvent
        event.campaignID = nil
        event.metadataJSON = nil
        event.tags = []
        let bytes = EventRecordCodec.encode(event)
        #expect(bytes[1] == 0)
        #expect(bytes.count == 34 + 3 + 4 + 2 + 1)
        #expect(try EventRecordCodec.decode(bytes) == event)
    }

    @Test func emptyMetadataObjectAndEmptyStringsSurvive() throws {
        var event = goldenEvent
        event.metadataJSON = []
        event.campaignID = ""
        event.tags = [""]
        #expect(try EventRecordCodec.decode(EventRecordCodec.encode(event)) == event)
    }

    @Test func multiByteVarints() throws {
        var event = goldenEvent
        event.metadataJSON = Array(repeating: UInt8(ascii: "x"), count: 300)
        event.userID = String(repeating: "ü", count: 100)
        let bytes = EventRecordCodec.encode(event)
        #expect(bytes.suffix(302).prefix(2) == [0xAC, 0x02])
        #expect(try EventRecordCodec.decode(bytes) == event)
    }

    @Test func parsedEventsRoundTrip() throws {
        let body = #"{"event_name": "product_view", "channel": "web", "campaign_id": "cmp_987", "user_id": "user_123", "timestamp": 1723475612, "tags": ["electronics", "sale"], "metadata": {"price": 129.99, "currency": "TRY"}}"#
        let event = try #require(parsedTestEvent(body))
        let record = EventRecordCodec.encode(event)
        #expect(body.utf8.count == 205)
        #expect(record.count == 123)  // the figure docs/event-record-format.md quotes
        #expect(try EventRecordCodec.decode(record) == event)
        #expect(try EventRecordCodec.decode(record[...]) == event)
        #expect(try record.withUnsafeBytes { try EventRecordCodec.decode($0) } == event)
        #expect(try EventRecordCodec.decode(record.lazy.map { $0 }) == event)
    }

    @Test func encodeIntoAppends() throws {
        var buffer: [UInt8] = [0xAA]
        EventRecordCodec.encode(goldenEvent, into: &buffer)
        EventRecordCodec.encode(goldenEvent, into: &buffer)
        #expect(buffer == [0xAA] + goldenBytes + goldenBytes)
    }

    @Test func randomEventsRoundTrip() throws {
        var rng = EventTestRandom(seed: 42)
        for _ in 0..<2_000 {
            let event = randomTestEvent(&rng)
            let bytes = EventRecordCodec.encode(event)
            #expect(bytes.count == EventRecordCodec.encodedSize(of: event))
            #expect(try EventRecordCodec.decode(bytes) == event)
        }
    }

    @Test func everyTruncationThrows() {
        var rng = EventTestRandom(seed: 7)
        var records = [goldenBytes]
        for _ in 0..<50 { records.append(EventRecordCodec.encode(randomTestEvent(&rng))) }
        for record in records {
            for length in 0..<record.count {
                #expect(throws: EventRecordError.self) { try EventRecordCodec.decode(record[0..<length]) }
            }
        }
        #expect(throws: EventRecordError(.truncated, offset: 0)) { try EventRecordCodec.decode([UInt8]()) }
    }

    @Test func rejectsBadRecords() {
        func expectKind(_ bytes: [UInt8], _ code: EventRecordError.Code, byte: UInt8? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
            do {
                let event = try EventRecordCodec.decode(bytes)
                Issue.record("decoded \(event)", sourceLocation: sourceLocation)
            } catch {
                #expect(error.code == code && error.byte == byte, sourceLocation: sourceLocation)
            }
        }
        for version: UInt8 in [0, 2, 0x7F, 0xFF] {
            var bytes = goldenBytes
            bytes[0] = version
            expectKind(bytes, .unsupportedVersion, byte: version)
        }
        expectKind([2], .unsupportedVersion, byte: 2)
        var flags = goldenBytes
        flags[1] = 0x07
        expectKind(flags, .unknownFlags, byte: 0x07)
        expectKind(goldenBytes + [0], .trailingBytes)
        // Campaign flag cleared: "c1" is then read as the tag count, and the rest no longer fits.
        var noCampaign = goldenBytes
        noCampaign[1] = 0x02
        #expect(throws: EventRecordError.self) { try EventRecordCodec.decode(noCampaign) }
        // Invalid UTF-8 in event_name.
        var badUTF8 = goldenBytes
        badUTF8[35] = 0xFF
        expectKind(badUTF8, .invalidUTF8)
        // A padded (non-canonical) varint: 0x82 0x00 instead of 0x02.
        let padded = Array(goldenBytes[0..<34]) + [0x82, 0x00] + Array(goldenBytes[35...])
        expectKind(padded, .invalidLength)
        // A length far beyond the record.
        let huge = Array(goldenBytes[0..<34]) + [0xFF, 0xFF, 0xFF, 0xFF, 0x0F] + Array(goldenBytes[35...])
        expectKind(huge, .invalidLength)
        // A varint longer than five bytes.
        let long = Array(goldenBytes[0..<34]) + [0x80, 0x80, 0x80, 0x80, 0x80, 0x01] + Array(goldenBytes[35...])
        expectKind(long, .invalidLength)
        // Only the fixed part.
        expectKind(Array(goldenBytes[0..<34]), .truncated)
    }
}
