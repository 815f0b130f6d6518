import Testing
import Time
@testable import Events

@Suite("Event parsing")
struct EventParsingTests {
    @Test func parsesTheExampleEvent() throws {
        let body = #"{"event_name": "product_view", "channel": "web", "campaign_id": "cmp_987", "user_id": "user_123", "timestamp": 1723475612, "tags": ["electronics", "sale"], "metadata": {"price": 129.99, "currency": "TRY"}}"#
        let event = try #require(parsedTestEvent(body))
        #expect(event.eventName == "product_view")
        #expect(event.channel == "web")
        #expect(event.campaignID == "cmp_987")
        #expect(event.userID == "user_123")
        #expect(event.timestampMicros == 1_723_475_612_000_000)
        #expect(event.tags == ["electronics", "sale"])
        #expect(event.metadataJSON == Array(#"{"price": 129.99, "currency": "TRY"}"#.utf8))
        #expect(event.receivedAtMicros == eventTestNow)
        #expect(event.idempotencyKey.uuidString == "8e4fba96-b498-1e45-aa8c-10dd9e916105")
    }

    @Test func acceptsAllKindsOfInput() throws {
        let byteInputs: [UInt8] = Array(eventTestJSON().utf8)
        let parser = EventParser()
        let expected = try parser.parseEvent(byteInputs, receivedAtMicros: eventTestNow).get()
        #expect(try parser.parseEvent(byteInputs[...], receivedAtMicros: eventTestNow).get() == expected)
        #expect(try byteInputs.withUnsafeBytes { try parser.parseEvent($0, receivedAtMicros: eventTestNow).get() } == expected)
        // A collection without contiguous storage is copied.
        #expect(try parser.parseEvent(byteInputs.lazy.map { $0 }, receivedAtMicros: eventTestNow).get() == expected)
    }

    @Test func whitespaceWhereverJSONAllowsIt() throws {
        let body = " \r\n\t{ \n\"event_name\"\t:\r\"product_view\" ,\n\"tags\" : [ \"a\" , \"b\" ] , \"metadata\" : { \"k\" : [ 1 , { } ] } ,"
            + " \"channel\":\"web\",\"user_id\"  :  \"user_123\" , \"timestamp\" : 1723475612 \n}\n\r\t "
        let event = try #require(parsedTestEvent(body))
        #expect(event.tags == ["a", "b"])
        #expect(event.metadataJSON == Array(#"{ "k" : [ 1 , { } ] }"#.utf8))
    }

    @Test func compactInputAndAnyFieldOrder() throws {
        let body = #"{"timestamp":1723475612,"user_id":"user_123","campaign_id":"cmp_987","channel":"web","event_name":"product_view"}"#
        let event = try #require(parsedTestEvent(body))
        #expect(event.idempotencyKey.uuidString == "8e4fba96-b498-1e45-aa8c-10dd9e916105")
    }

    @Test(arguments: [
        (#""2025-11-29T10:00:00Z""#, Int64(1_764_410_400_000_000)),
        (#""2025-11-29t10:00:00z""#, 1_764_410_400_000_000),
        (#""2025-11-29 10:00:00Z""#, 1_764_410_400_000_000),
        (#""2025-11-29T10:00:00-00:00""#, 1_764_410_400_000_000),
        (#""2025-11-29T10:00:00+00:00""#, 1_764_410_400_000_000),
        (#""2025-11-29T10:00:00.123+03:00""#, 1_764_399_600_123_000),
        (#""2025-11-29T10:00:00.1Z""#, 1_764_410_400_100_000),
        (#""2025-11-29T10:00:00.000001Z""#, 1_764_410_400_000_001),
        (#""2025-11-29T10:00:00.123456789Z""#, 1_764_410_400_123_456),
        (#""2025-11-29T05:30:00-04:30""#, 1_764_410_400_000_000),
        (#""2024-02-29T23:59:59.999999999-05:30""#, 1_709_270_999_999_999),
        (#""2016-12-31T23:59:60Z""#, 1_483_228_800_000_000),
        (#""2000-01-01T00:00:00Z""#, 946_684_800_000_000),
        (#""2000-01-01T01:00:00+01:00""#, 946_684_800_000_000),
        (#""2025-11-29T10\u003a00:00Z""#, 1_764_410_400_000_000),
        ("1764410400", 1_764_410_400_000_000),
    ])
    func timestampForms(_ json: String, _ micros: Int64) throws {
        let event = try #require(parsedTestEvent(eventTestJSON(["timestamp": json])))
        #expect(event.timestampMicros == micros)
    }

    @Test func rfc3339AgreesWithDaysFromCivilAcrossYears() {
        // Every first of March and last of February from 2000 to 2099 against a day count.
        var days: Int64 = 10_957  // 2000-01-01
        for year in Int64(2000)..<2100 {
            let text = "\(year)-01-01T00:00:00Z"
            let micros = Array(text.utf8).withUnsafeBufferPointer {
                UTCTime.parseRFC3339($0.baseAddress!, count: $0.count)
            }
            #expect(micros == days * 86_400_000_000, "\(text)")
            days += UTCTime.isLeap(Int(year)) ? 366 : 365
        }
    }

    @Test func optionalFields() throws {
        let missing = try #require(parsedTestEvent(eventTestJSON()))
        #expect(missing.campaignID == nil)
        #expect(missing.tags == [])
        #expect(missing.metadataJSON == nil)

        let nulls = try #require(parsedTestEvent(eventTestJSON([
            "campaign_id": "null", "tags": "null", "metadata": "null", "idempotency_key": "null",
        ])))
        #expect(nulls == missing)

        let empties = try #require(parsedTestEvent(eventTestJSON(["campaign_id": #""""#, "tags": "[]", "metadata": "{}"])))
        #expect(empties.campaignID == nil)
        #expect(empties.tags == [])
        #expect(empties.metadataJSON == Array("{}".utf8))
        #expect(empties.idempotencyKey == missing.idempotencyKey)
    }

    @Test func unicodeAndEscapes() throws {
        let body = eventTestJSON([
            "event_name": #""ürün_görüntüleme""#,
            "channel": #""\u00e9\u20ac\/""#,
            "user_id": #""🎉\ud83c\udf89\uD83D\uDE00""#,
            "campaign_id": #""\"\\\/\b\f\n\r\t""#,
            "tags": #"["日本語", "emoji 👍🏽", "\u0041\u00DF"]"#,
        ])
        let event = try #require(parsedTestEvent(body))
        #expect(event.eventName == "ürün_görüntüleme")
        #expect(event.channel == "é€/")
        #expect(event.userID == "🎉🎉😀")
        #expect(event.campaignID == "\"\\/\u{8}\u{C}\n\r\t")
        #expect(event.tags == ["日本語", "emoji 👍🏽", "Aß"])
    }

    @Test func escapedStringsAtTheLimitCountDecodedBytes() throws {
        // 100 escaped 'a's are 600 bytes of JSON but 100 bytes of name.
        let event = try #require(parsedTestEvent(eventTestJSON(["event_name": "\"\("\\u0061".times(100))\""])))
        #expect(event.eventName == "a".times(100))
    }

    @Test func metadataIsKeptVerbatim() throws {
        let metadata = #"{"a" : {"b": [1, -2.5e+3, {"c": "}{\"]["}]}, "d": "\"}", "e": null, "f": true, "g": false, "h": "\u00e9 é", "i": {}}"#
        let event = try #require(parsedTestEvent(eventTestJSON(["metadata": metadata, "x": #""after""#])))
        #expect(event.metadataJSON == Array(metadata.utf8))
    }

    @Test func unknownFieldsAreIgnored() throws {
        let body = eventTestJSON([
            "schema_version": "2",
            "nested": #"{"deep": [1, [2, [3, {"x": null}]]], "s": "\u00e9"}"#,
            "flag": "false",
            "event\u{5F}namex": #""not a known field""#,
        ])
        let event = try #require(parsedTestEvent(body))
        #expect(event == parsedTestEvent(eventTestJSON()))
    }

    @Test func escapedKnownFieldNamesAreRecognised() throws {
        let body = #"{"event\u005fname": "product_view", "\u0063hannel": "web", "user_id": "user_123", "timestamp": 1723475612}"#
        let event = try #require(parsedTestEvent(body))
        #expect(event.eventName == "product_view")
        #expect(event.channel == "web")
    }

    @Test func detectsArrayBodies() {
        #expect(EventParser.startsWithJSONArray(Array(" \n [{}]".utf8)))
        #expect(!EventParser.startsWithJSONArray(Array(" {}".utf8)))
        #expect(!EventParser.startsWithJSONArray([UInt8]()))
        #expect([UInt8](" [".utf8).withUnsafeBytes { EventParser.startsWithJSONArray($0) })
    }
}
