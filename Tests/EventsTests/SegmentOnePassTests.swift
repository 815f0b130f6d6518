import TestSupport
import Testing
@testable import Events

/// The one-pass Segment reader (`parseSegmentInOnePass`) must give what the general reader
/// (`parseSegmentGenerally`: validate the body, then read each message by position) gives, for every
/// body it takes, and leave every other body to the general reader. Random bodies mix good and bad
/// values, escapes, non-ASCII, duplicate names, nested and over-deep objects, an outer `context`
/// before or after `batch`, and broken JSON.
@Suite struct SegmentOnePassTests {
    let now = eventTestNow
    static let sentAt = #""2025-11-29T10:16:30Z""#

    /// Both readers on `body`; returns the one-pass result (nil when it declined) after checking that
    /// `parseSegment` equals the general reader.
    @discardableResult
    func compare(
        _ body: [UInt8], call: SegmentCall? = nil, headerKey: String? = nil, limits: EventLimits = .default,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> Result<SDKBatch, EventError>? {
        let parser = EventParser(limits: limits)
        return body.withUnsafeBytes { buffer in
            let general = parser.parseSegmentGenerally(buffer, call: call, headerWriteKey: headerKey, receivedAtMicros: now)
            let onePass = parser.parseSegmentInOnePass(buffer, call: call, headerWriteKey: headerKey, receivedAtMicros: now)
            let used = parser.parseSegment(buffer, call: call, headerWriteKey: headerKey, receivedAtMicros: now)
            let text = String(decoding: body, as: UTF8.self)
            #expect(Self.same(used, general), "\(text)", sourceLocation: sourceLocation)
            if let onePass {
                #expect(Self.same(onePass, general), "one pass differs: \(text)", sourceLocation: sourceLocation)
            }
            return onePass
        }
    }

    static func same(_ a: Result<SDKBatch, EventError>, _ b: Result<SDKBatch, EventError>) -> Bool {
        switch (a, b) {
        case (.success(let x), .success(let y)): x.writeKey == y.writeKey && x.parsed == y.parsed
        case (.failure(let x), .failure(let y)): x == y
        default: false
        }
    }

    func batch(_ messages: [String], top: String = "") -> [UInt8] {
        Array((#"{"batch":["# + messages.joined(separator: ",") + "]" + top + "}").utf8)
    }

    static let track = #"{"type":"track","event":"Buy","userId":"u1","messageId":"m1","timestamp":"2025-11-29T10:16:00Z""#

    // MARK: cases

    @Test func usualBatchIsReadInOnePassWithEveryField() throws {
        let body = batch([
            Self.track + #","properties":{"channel":"web","tags":["a","b"],"price":1.5},"context":{"campaign":{"name":"spring"},"ip":"1.2.3.4"}}"#,
            #"{"type":"identify","userId":"u2","traits":{"plan":"pro","tags":["x"]},"context":{"library":{"name":"analytics-ios"}}}"#,
        ], top: #","sentAt":"# + Self.sentAt)
        let parsed = try #require(compare(body)).get().parsed
        #expect(parsed.errors.isEmpty)
        #expect(parsed.events.map(\.channel) == ["web", "mobile_app"])
        #expect(parsed.events[0].campaignID == "spring")
        #expect(parsed.events[0].tags == ["a", "b"])
        #expect(String(decoding: parsed.events[0].metadataJSON ?? [], as: UTF8.self)
            == #"{"type":"track","properties":{"price":1.5},"context":{"ip":"1.2.3.4"}}"#)
        #expect(parsed.events[1].tags == ["x"])
        // sentAt (last, as analytics-python sends it) corrected the timestamp: received − 30 s + 0 s skew.
        #expect(parsed.events[0].timestampMicros == now - 30_000_000)
    }

    @Test func malformedJSONIsLeftToTheGeneralReader() {
        let good = batch([Self.track + "}"])
        for cut in [1, 5, good.count / 2, good.count - 2, good.count - 1] {
            #expect(compare(Array(good.prefix(cut))) == nil)
        }
        for broken in [
            #"{"batch":[{"type":"track",}]}"#, #"{"batch":[{"type":"track"} {"a":1}]}"#, #"{"batch":[1,]}"#,
            #"{"batch":["unclosed]}"#, #"{"batch":[{"a":"\x"}]}"#, #"{"batch":[]}x"#, #"{"batch":[{}]} {}"#,
            #"{"batch":[{"a":tru}]}"#, #"{"batch":[{"a":01}]}"#, #"{"sentAt":"x","batch":[{}]"#, #"["#, "",
        ] {
            #expect(compare(Array(broken.utf8)) == nil, "\(broken)")
        }
        // Brackets inside strings do not fool the bracket matching of the batch.
        #expect(compare(batch([Self.track + #","properties":{"s":"]}[{\"]"}}"#])) != nil)
    }

    @Test func nestingBeyondTheLimitIsLeftToTheGeneralReader() {
        let deep = String(repeating: "[", count: 130) + String(repeating: "]", count: 130)
        #expect(compare(batch([Self.track + #","properties":{"d":"# + deep + "}}"])) == nil)
        // Within the limit: read in one pass; metadata too deep is the message's error.
        let nested = String(repeating: "[", count: 40) + String(repeating: "]", count: 40)
        let result = compare(batch([Self.track + #","properties":{"d":"# + nested + "}}", Self.track + "}"]))
        #expect((try? result?.get())?.parsed.errors.map(\.code) == [EventError.Code.tooDeep])
    }

    @Test func escapesAndUnicodeInNamesAndValues() throws {
        // `\u0063hannel` is `channel` once unescaped; `ｃhannel` (full-width) is not; values are copied as sent.
        let body = batch([
            #"{"type":"track","\u0065vent":"Caf\u00e9 ☕","userId":"ü\"1","properties":{"\u0063hannel":"m\u00f6bile","ｃhannel":"x","n":"\ud83d\ude00"}}"#,
            #"{"type":"track","event":"x","userId":"bad\ud800","properties":{}}"#,
        ])
        let parsed = try #require(compare(body)).get().parsed
        #expect(parsed.events.first?.eventName == "Café ☕")
        #expect(parsed.events.first?.userID == "ü\"1")
        #expect(parsed.events.first?.channel == "möbile")
        #expect(String(decoding: parsed.events.first?.metadataJSON ?? [], as: UTF8.self)
            == #"{"type":"track","properties":{"ｃhannel":"x","n":"\ud83d\ude00"}}"#)
        #expect(parsed.errors.map(\.field) == ["userId"])
        // Ill-formed UTF-8 in properties is the message's error, read in one pass.
        var raw = Array((#"{"batch":["# + Self.track + #","properties":{"s":""#).utf8)
        raw += [0xC3, 0x28] + Array(#""}}]}"#.utf8)
        #expect((try? compare(raw)?.get())?.parsed.errors.map(\.code) == [EventError.Code.invalidUTF8])
    }

    @Test func duplicateNamesTakeTheFirstAndKeepTheRestInMetadata() throws {
        let body = batch([
            #"{"type":"track","event":"first","event":"second","userId":"u","properties":{"channel":"a","channel":"b","k":1,"k":2},"properties":{"ignored":true}}"#,
            #"{"type":"track","event":"e","userId":"u","properties":{"channel":1,"channel":"b"},"context":"not an object","context":{"channel":"ctx"}}"#,
        ], top: #","batch":[{"type":"track"}]"#)
        let parsed = try #require(compare(body)).get().parsed
        #expect(parsed.events.map(\.eventName) == ["first", "e"])
        #expect(parsed.events.map(\.channel) == ["a", "server"])
        #expect(String(decoding: parsed.events[0].metadataJSON ?? [], as: UTF8.self)
            == #"{"type":"track","properties":{"k":1,"k":2}}"#)
        #expect(String(decoding: parsed.events[1].metadataJSON ?? [], as: UTF8.self)
            == #"{"type":"track","properties":{"channel":1,"channel":"b"}}"#)
    }

    @Test func campaignFieldThatBecameOursIsLeftOutOfTheStoredContext() throws {
        let body = batch([
            Self.track + #", "context": { "ip": "1", "campaign": { "source": "s", "name": "n", "medium": "m" }, "locale": "tr" }}"#,
            Self.track.replacing(#""m1""#, with: #""m2""#) + #","context":{"campaign":{"id":"c1","name":""}}}"#,
        ])
        let parsed = try #require(compare(body)).get().parsed
        #expect(parsed.events.map(\.campaignID) == ["n", "c1"])
        #expect(String(decoding: parsed.events[0].metadataJSON ?? [], as: UTF8.self)
            == #"{"type":"track","context":{"ip":"1","campaign":{"source":"s","medium":"m"},"locale":"tr"}}"#)
        // An empty name is not a campaign: the id is, and the name stays.
        #expect(String(decoding: parsed.events[1].metadataJSON ?? [], as: UTF8.self)
            == #"{"type":"track","context":{"campaign":{"name":""}}}"#)
    }

    @Test func contextOfOnlyTheCampaignsNameOrIdIsNotStored() throws {
        let body = batch([
            Self.track + #","context":{"campaign":{"name":"n1"}}}"#,
            Self.track.replacing(#""m1""#, with: #""m2""#) + #","context":{ "campaign" : { "id" : "c2" } }}"#,
            // Not only the campaign's name: a second field, an empty name, a campaign that is no object.
            Self.track.replacing(#""m1""#, with: #""m3""#) + #","context":{"campaign":{"name":"n3","term":"t"}}}"#,
            Self.track.replacing(#""m1""#, with: #""m4""#) + #","context":{"campaign":{"name":""}}}"#,
            Self.track.replacing(#""m1""#, with: #""m5""#) + #","context":{"campaign":"n5"}}"#,
        ])
        let parsed = try #require(compare(body)).get().parsed
        #expect(parsed.events.map(\.campaignID) == ["n1", "c2", "n3", nil, nil])
        #expect(parsed.events.map { String(decoding: $0.metadataJSON ?? [], as: UTF8.self) } == [
            #"{"type":"track"}"#, #"{"type":"track"}"#, #"{"type":"track","context":{"campaign":{"term":"t"}}}"#,
            #"{"type":"track","context":{"campaign":{"name":""}}}"#, #"{"type":"track","context":{"campaign":"n5"}}"#,
        ])
        // The batch's context merged under the message's own is more than the campaign.
        let merged = try #require(compare(batch([Self.track + #","context":{"campaign":{"name":"n"}}}"#], top: #","context":{"ip":"1"}"#)))
        #expect(try merged.get().parsed.events.map { String(decoding: $0.metadataJSON ?? [], as: UTF8.self) } == [#"{"type":"track","context":{"ip":"1"}}"#])
    }

    @Test func messageIdIsTheKeyWhateverItsSpelling() throws {
        // Read from the body's bytes (ASCII, no escapes) or as text (escapes, non-ASCII): the key is
        // the scoped hash of the id's text either way.
        let ids = [#""m-1""#: "m-1", #""m\u002d1""#: "m-1", #""mü""#: "mü", #""m\"q""#: "m\"q"]
        for (json, text) in ids {
            let body = batch([Self.track.replacing(#""m1""#, with: json) + "}"])
            let parsed = try #require(compare(body)).get().parsed
            #expect(parsed.events.map(\.idempotencyKey) == [.scoped(dialect: .segment, writeKey: "", messageID: text)], "\(json)")
        }
        let empty = try #require(compare(batch([Self.track.replacing(#""m1""#, with: #""""#) + "}"]))).get().parsed
        #expect(empty.errors.map(\.field) == ["messageId"])
    }

    @Test func outerContextIsMergedUnderTheMessagesOwnBeforeOrAfterTheBatch() throws {
        let messages = [
            Self.track + #","context":{"channel":"own","ip":"1"}}"#,
            Self.track.replacing(#""m1""#, with: #""m2""#) + "}",
        ]
        let outer = #""context":{"channel":"outer","campaign":{"id":"c9"},"library":{"name":"analytics.js"}}"#
        for body in [batch(messages, top: "," + outer), Array(("{" + outer + #","batch":["# + messages.joined(separator: ",") + "]}").utf8)] {
            let parsed = try #require(compare(body)).get().parsed
            #expect(parsed.events.map(\.channel) == ["own", "outer"])
            #expect(parsed.events.map(\.campaignID) == ["c9", "c9"])
            #expect(String(decoding: parsed.events[0].metadataJSON ?? [], as: UTF8.self)
                == #"{"type":"track","context":{"ip":"1","library":{"name":"analytics.js"}}}"#)
            // The second message's channel and campaign came from the batch's context: left out too.
            #expect(String(decoding: parsed.events[1].metadataJSON ?? [], as: UTF8.self)
                == #"{"type":"track","context":{"library":{"name":"analytics.js"}}}"#)
        }
    }

    @Test func oversizedMetadataIsCutAndSaysWhat() throws {
        var limits = EventLimits()
        limits.maxMetadataBytes = 120
        let big = String(repeating: "x", count: 40)
        let body = batch([
            Self.track + #","name":"n","properties":{"p":""# + big + #""},"context":{"c":""# + big + #""}}"#,
            Self.track + #","properties":{"p":""# + big + big + #""},"context":{"c":1}}"#,
        ])
        let parsed = try #require(compare(body, limits: limits)).get().parsed
        #expect(parsed.events.map { String(decoding: $0.metadataJSON ?? [], as: UTF8.self) } == [
            #"{"type":"track","name":"n","properties":{"p":""# + big + #""},"cut":["context"]}"#,
            #"{"type":"track","cut":["properties","context"]}"#,
        ])
    }

    @Test func bodiesTheOnePassLeavesAlone() {
        for body in [
            #"{"batch":[]}"#, #"{"batch":{}}"#, #"{"messages":[{}]}"#, #"[{"type":"track"}]"#,
            #"{"batch":[{"type":"track","event":"e","userId":"u"}],"sentAt":"yesterday"}"#,
        ] {
            #expect(compare(Array(body.utf8)) == nil, "\(body)")
        }
        var limits = EventLimits()
        limits.maxEventsPerBulk = 2
        #expect(compare(batch([Self.track + "}", "{}", "{}"]), limits: limits) == nil)
        #expect(compare(batch([Self.track + "}", "{}"]), limits: limits) != nil)
    }

    @Test func singleCallsAndWriteKeys() throws {
        let body = Array(#"{"writeKey":"wk","userId":"u","event":"ignored for page","properties":{"channel":"web"}}"#.utf8)
        let page = try #require(compare(body, call: .page)).get()
        #expect(page.writeKey == "wk")
        #expect(page.parsed.events.map(\.eventName) == ["page"])
        #expect(try #require(compare(body, call: .page, headerKey: "header")).get().writeKey == "header")
        let top = batch([Self.track + "}"], top: #","writeKey":"body-key""#)
        #expect(try #require(compare(top)).get().writeKey == "body-key")
    }

    @Test func metadataPartsCopyRunsAsTheFieldByFieldCopyWouldWriteThem() {
        var random = SplitMix64(seed: 7)
        let spaces = ["", " ", "\n  "]
        for _ in 0..<2000 {
            let names = (0..<Int(random.next() % 6)).map { _ in Self.innerNames[Int(random.next() % UInt64(Self.innerNames.count))] }
            func space() -> String { spaces[Int(random.next() % 6) % 3 == 0 ? Int(random.next() % 3) : 0] }
            let text = "{" + space() + names.map { "\"\($0)\"" + space() + ":" + space() + Self.value(&random, depth: 1) + space() }
                .joined(separator: "," + space()) + "}"
            var consumed = ConsumedFields()
            if random.next() % 2 == 0 { consumed.insert("channel") }
            if random.next() % 2 == 0 { consumed.insert("tags") }
            let body = Array(text.utf8)
            body.withUnsafeBytes { buffer in
                let reader = RawJSONReader(buffer, nestingLimit: 128)
                let fields = reader.fields(RawValue(start: 0, end: body.count))
                var builder = MetadataBuilder(type: "track", reserving: body.count)
                builder.add("properties", fields, without: consumed, reader: reader)
                // The field-by-field copy: name and value as sent, `:` and `,` between.
                let kept = fields.filter { !consumed.contains($0, reader: reader) }.map {
                    Array(reader.bytes($0.nameSpan)) + [UInt8(ascii: ":")] + Array(reader.bytes($0.value))
                }
                let expected = Array(#"{"type":"track","properties":{"#.utf8) + Array(kept.joined(separator: [UInt8(ascii: ",")])) + Array("}}".utf8)
                #expect(builder.finish(maxBytes: 1 << 20) == expected, "\(text)")
            }
        }
    }

    @Test func fieldNamesAreKnownAsHasNameComparesThem() {
        // Escaped, non-ASCII (the Kelvin sign is canonically a K), near misses and every known name.
        let names = SegmentFieldName.allCases.map { "\($0.literal)" } + [
            #"\u0074ype"#, "write\u{212A}ey", #"write\u212Aey"#, "typ", "typee", "Type", "userid", "ｔype", "",
        ]
        let body = Array(("{" + names.map { "\"\($0)\":1" }.joined(separator: ",") + "}").utf8)
        body.withUnsafeBytes { buffer in
            let reader = RawJSONReader(buffer, nestingLimit: 128)
            for field in reader.fields(RawValue(start: 0, end: body.count)) {
                let expected = SegmentFieldName.allCases.first { reader.hasName(field, $0.literal) }
                #expect(SegmentFieldName(of: field, reader: reader) == expected, "\(reader.nameString(field))")
            }
        }
    }

    // MARK: random bodies

    static let values = [
        #""ok""#, #""""#, #""caf\u00e9""#, #""a\u0000b""#, #""bad\ud800""#, #""ü→☕""#, "42", "-1.5e3", "null",
        "true", "1e-20000", "{}", "[]", #"{"name":"n","id":"i"}"#, #"["a","b"]"#, #"["a",1]"#, #"{"x":{"y":[1,{"z":null}]}}"#,
        #""2025-11-29T10:16:00Z""#, #""2025-11-29T10:16:00.5+01:00""#, #""not a time""#, #""2025-11-29T10:\u00316:00Z""#,
        "\"" + String(repeating: "v", count: 300) + "\"",
    ]
    static let messageNames = [
        "type", "event", "userId", "anonymousId", "messageId", "timestamp", "originalTimestamp", "sentAt", "channel",
        "properties", "traits", "context", "name", "category", "groupId", "previousId", "writeKey", "other", #"\u0065vent"#,
    ]
    static let innerNames = ["channel", "tags", "campaign", "library", "name", "id", "price", #"ch\u0061nnel"#, "ünï"]
    static let types = [#""track""#, #""page""#, #""screen""#, #""identify""#, #""group""#, #""alias""#, #""bogus""#, "7"]

    static func object(_ random: inout SplitMix64, names: [String], depth: Int) -> String {
        let count = Int(random.next() % 6)
        let fields = (0..<count).map { _ in
            let name = names[Int(random.next() % UInt64(names.count))]
            return "\"\(name)\":" + value(&random, depth: depth)
        }
        return "{" + fields.joined(separator: random.next() % 4 == 0 ? " , " : ",") + "}"
    }

    static func value(_ random: inout SplitMix64, depth: Int) -> String {
        if depth < 3, random.next() % 4 == 0 { return object(&random, names: innerNames, depth: depth + 1) }
        return values[Int(random.next() % UInt64(values.count))]
    }

    static func message(_ random: inout SplitMix64) -> String {
        if random.next() % 20 == 0 { return values[Int(random.next() % UInt64(values.count))] }
        var fields: [String] = []
        if random.next() % 8 != 0 { fields.append(#""type":"# + types[Int(random.next() % UInt64(types.count))]) }
        if random.next() % 4 != 0 { fields.append(#""event":"ev""#) }
        if random.next() % 4 != 0 { fields.append(#""userId":"u\#(random.next() % 5)""#) }
        if random.next() % 2 == 0 { fields.append(#""messageId":"m\#(random.next())""#) }
        for _ in 0..<Int(random.next() % 7) {
            let name = messageNames[Int(random.next() % UInt64(messageNames.count))]
            let inner = name == "properties" || name == "traits" || name == "context"
            fields.append("\"\(name)\":" + (inner && random.next() % 4 != 0 ? object(&random, names: innerNames, depth: 1) : value(&random, depth: 1)))
        }
        // Shuffle: analytics-python sends `type` last, others first.
        for i in stride(from: fields.count - 1, to: 0, by: -1) { fields.swapAt(i, Int(random.next() % UInt64(i + 1))) }
        return "{" + fields.joined(separator: random.next() % 3 == 0 ? ",\n  " : ",") + "}"
    }

    @Test func randomBodiesGiveWhatTheGeneralReaderGives() {
        var small = EventLimits()
        small.maxMetadataBytes = 150
        small.maxMetadataDepth = 2
        small.maxEventsPerBulk = 6
        small.maxUserIDBytes = 2
        var random = SplitMix64(seed: 1818)
        var onePass = 0
        var metadataErrors: Set<String> = []
        let rounds = 3000
        for round in 0..<rounds {
            let limits = round % 3 == 0 ? small : .default
            var top = (0..<Int(1 + random.next() % 8)).map { _ in Self.message(&random) }
            var extra: [String] = []
            if random.next() % 3 == 0 { extra.append(#""context":"# + Self.object(&random, names: Self.innerNames + ["ip"], depth: 1)) }
            if random.next() % 3 == 0 { extra.append(#""sentAt":"# + [Self.sentAt, "null", #""bad""#, "5"][Int(random.next() % 4)]) }
            if random.next() % 4 == 0 { extra.append(#""writeKey":"# + Self.value(&random, depth: 3)) }
            if random.next() % 10 == 0 { top.removeAll() }
            let batchField = #""batch":["# + top.joined(separator: ",") + "]"
            var fields = extra + [batchField]
            for i in stride(from: fields.count - 1, to: 0, by: -1) { fields.swapAt(i, Int(random.next() % UInt64(i + 1))) }
            var body = Array(("{" + fields.joined(separator: ",") + "}").utf8)
            if random.next() % 10 == 0, !body.isEmpty {
                // Break it: cut it short or overwrite one byte.
                let at = Int(random.next() % UInt64(body.count))
                if random.next() % 2 == 0 { body.removeSubrange(at...) } else { body[at] = [UInt8(ascii: "\""), UInt8(ascii: "}"), UInt8(ascii: "["), 0xFF][Int(random.next() % 4)] }
            }
            let call: SegmentCall? = round % 7 == 0 ? SegmentCall.allCases[Int(random.next() % 6)] : nil
            let single = call.map { _ in Array(Self.message(&random).utf8) }
            if let result = compare(single ?? body, call: call, headerKey: round % 5 == 0 ? "hk" : nil, limits: limits) {
                onePass += 1
                for error in (try? result.get())?.parsed.errors ?? [] where error.field == "properties" || error.field == "traits" {
                    metadataErrors.insert(error.code.description)
                }
            }
        }
        // The metadata checks the one pass may skip were reached through it, each kind of them.
        #expect(metadataErrors.isSuperset(of: ["too_deep", "number_out_of_range", "invalid_utf8", "invalid_character"]), "\(metadataErrors)")
        // Most bodies are well-formed batches, and those the one pass takes.
        #expect(onePass > rounds / 2, "one pass took \(onePass) of \(rounds)")
    }
}
