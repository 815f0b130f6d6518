import TestSupport
import Testing
import Time
@testable import Events

/// The SDK mappers validate a mapped message field by field in place (`EventParser.assemble`). They
/// used to write it out as our event JSON and parse that with `parseEvent`; this suite keeps that
/// older way as the reference and checks both give the same event or the same error, on random
/// mixes of good and bad values for every field.
@Suite struct SDKAssembleEquivalenceTests {
    /// Raw JSON values the messages draw from: good ones and every kind of bad one.
    static let pool: [[UInt8]] = {
        var values: [String] = [
            #""ok""#, #""""#, #""caf\u00e9""#, #""a\u0000b""#, #""bad\ud800""#, #""tab\there""#,
            "\"" + String(repeating: "x", count: 120) + "\"", "\"" + String(repeating: "y", count: 60) + "\"",
            "42", "-7", "0", "1.5", "1e400", "null", "true", "false", "{}", #"{"a":1}"#, "[]",
            #"["x","y"]"#, #"["","x"]"#, "[1]", #"["x",null]"#, #"["\u0000"]"#,
            "[\"" + String(repeating: "t", count: 70) + "\"]",
            "[" + (0..<40).map { "\"t\($0)\"" }.joined(separator: ",") + "]",
            #"{"type":"track","properties":{"price":1.5}}"#,
            #"{"type":"track","properties":{"n":1e-20000}}"#,
            #"{"type":"track","properties":{"k\u0000":1}}"#,
            #"{"type":"track","properties":{"s":"\udc00"}}"#,
            #"{"type":"track","properties":"# + String(repeating: "[", count: 40) + String(repeating: "]", count: 40) + "}",
            #"{"type":"track","properties":{"big":""# + String(repeating: "b", count: 9000) + #""}}"#,
        ]
        var bytes = values.map { Array($0.utf8) }
        bytes.append(Array(#""ill "#.utf8) + [0xFF, 0xFE] + Array(#"formed""#.utf8))
        bytes.append(Array(#"{"type":"track","properties":{"x":""#.utf8) + [0xC3] + Array(#""}}"#.utf8))
        return bytes
    }()

    /// Default limits, and limits so small that the mappers' own texts (`identify`, `mobile_app`) and
    /// short client values break them.
    static let limits: [EventLimits] = {
        var small = EventLimits()
        small.maxEventNameBytes = 5
        small.maxChannelBytes = 4
        small.maxUserIDBytes = 2
        small.maxTags = 1
        small.maxMetadataBytes = 200
        small.maxMetadataDepth = 3
        small.maxIdempotencyKeyBytes = 3
        return [.default, small]
    }()

    @Test(arguments: limits)
    func directValidationMatchesParsingTheEventJSON(limits: EventLimits) {
        // One body holding every pool value, separated by commas, as the mappers' reader sees it.
        var body: [UInt8] = [UInt8(ascii: "[")]
        var spans: [RawValue] = []
        for (i, value) in Self.pool.enumerated() {
            if i > 0 { body.append(UInt8(ascii: ",")) }
            spans.append(RawValue(start: body.count, end: body.count + value.count))
            body.append(contentsOf: value)
        }
        body.append(UInt8(ascii: "]"))
        let parser = EventParser(limits: limits)
        let times: [Int64] = [
            eventTestNow, eventTestNow + 301_000_000, eventTestNow + 299_999_999, 0, -1, -500_000, -5_000_000,
            946_684_799_999_999, 946_684_800_000_000, UTCTime.maxMicros - 1, UTCTime.maxMicros, UTCTime.maxMicros + 123_456,
        ]
        let texts = ["identify", "", "server", "mobile_app"]
        var random = SplitMix64(seed: 18)
        body.withUnsafeBytes { buffer in
            let reader = RawJSONReader(buffer, nestingLimit: limits.hardNestingLimit)
            func value(_ textChance: Bool) -> MappedValue {
                textChance && random.next() % 4 == 0
                    ? .text(texts[Int(random.next() % UInt64(texts.count))])
                    : .raw(spans[Int(random.next() % UInt64(spans.count))])
            }
            func metadata() -> [UInt8] {
                let candidates = spans.filter { reader.isObject($0) }
                return Array(reader.bytes(candidates[Int(random.next() % UInt64(candidates.count))]))
            }
            for round in 0..<4000 {
                // Mostly good values, so that later fields are reached too.
                let good = round % 3 == 0
                let ok = spans[0], tags = spans[19]
                let message = MappedMessage(
                    eventName: good && round % 2 == 0 ? .raw(ok) : value(true),
                    userID: good ? .raw(ok) : value(false),
                    channel: good ? .text("web") : value(true),
                    campaignID: random.next() % 2 == 0 ? nil : (good ? ok : spans[Int(random.next() % 6)]),
                    tags: random.next() % 2 == 0 ? nil : (good ? tags : spans[Int(random.next() % UInt64(spans.count))]),
                    timestampMicros: good ? eventTestNow - 1 : times[Int(random.next() % UInt64(times.count))],
                    metadata: good ? Array(reader.bytes(spans[26])) : metadata(),
                    messageID: [nil, "", "m1", "abcd"][Int(random.next() % 4)].map(MappedValue.text),
                    fieldNames: {
                        var names = ClientFieldNames(eventName: "event", metadata: "properties", idempotencyKey: "messageId")
                        names[.userID] = "userId"
                        return names
                    }()
                )
                let direct = parser.assemble(message, reader: reader, dialect: .segment, writeKey: "k", receivedAtMicros: eventTestNow)
                let reference = parser.referenceAssemble(message, reader: reader, dialect: .segment, writeKey: "k", receivedAtMicros: eventTestNow)
                #expect(direct == reference, "round \(round): \(message)")
            }
        }
    }
}

extension EventParser {
    /// The mappers' former way, kept as the reference: our event JSON built from the message, then
    /// `parseEvent`.
    func referenceAssemble(
        _ message: MappedMessage, reader: RawJSONReader, dialect: SDKDialect, writeKey: String?, receivedAtMicros: Int64
    ) -> Result<Event, EventError> {
        var json: [UInt8] = []
        func put(_ value: MappedValue) {
            switch value {
            case .raw(let raw):
                if reader.isNumber(raw) {
                    json.append(EventJSONBytes.quote)
                    json.append(contentsOf: reader.bytes(raw))
                    json.append(EventJSONBytes.quote)
                } else {
                    json.append(contentsOf: reader.bytes(raw))
                }
            case .text(let text): JSONOut.appendQuoted(text, to: &json)
            }
        }
        JSONOut.append(#"{"event_name":"#, to: &json)
        put(message.eventName)
        JSONOut.append(#","user_id":"#, to: &json)
        put(message.userID)
        JSONOut.append(#","channel":"#, to: &json)
        put(message.channel)
        JSONOut.append(#","timestamp":"#, to: &json)
        if message.timestampMicros >= 0 {
            JSONOut.appendQuoted(UTCTime.rfc3339Micros(message.timestampMicros), to: &json)
        } else {
            json.append(contentsOf: Array("\(message.timestampMicros / 1_000_000)".utf8))
        }
        if let campaign = message.campaignID {
            JSONOut.append(#","campaign_id":"#, to: &json)
            put(.raw(campaign))
        }
        if let tags = message.tags {
            JSONOut.append(#","tags":"#, to: &json)
            json.append(contentsOf: reader.bytes(tags))
        }
        JSONOut.append(#","metadata":"#, to: &json)
        json.append(contentsOf: message.metadata)
        json.append(UInt8(ascii: "}"))

        switch parseEvent(json, receivedAtMicros: receivedAtMicros) {
        case .success(var event):
            if case .text(let id) = message.messageID {
                if let error = message.invalidMessageID(limits: limits) { return .failure(error) }
                event.idempotencyKey = .scoped(dialect: dialect, writeKey: writeKey ?? "", messageID: id)
            }
            return .success(event)
        case .failure(let error):
            return .failure(message.namingClientField(error))
        }
    }
}
