import Store
import TestSupport
import Testing
@testable import Events

/// One body that must be rejected, and how.

struct EventRejectionCase: Sendable, CustomTestStringConvertible {
    var name: String
    var body: [UInt8]
    var field: String
    var code: String

    init(_ name: String, _ body: String, _ field: String, _ code: String) {
        self.init(name, bytes: Array(body.utf8), field, code)
    }

    init(_ name: String, bytes: [UInt8], _ field: String, _ code: String) {
        self.name = name
        self.body = bytes
        self.field = field
        self.code = code
    }

    /// The base event with some values replaced or added.
    init(_ name: String, set: KeyValuePairs<String, String>, removing: Set<String> = [], _ field: String, _ code: String) {
        self.init(name, eventTestJSON(set, removing: removing), field, code)
    }

    var testDescription: String { name }
}

private let future301 = String(eventTestNow / 1_000_000 + 301)

let eventRejectionCases: [EventRejectionCase] = [
    // Required fields
    .init("missing event_name", set: [:], removing: ["event_name"], "event_name", "missing_field"),
    .init("missing channel", set: [:], removing: ["channel"], "channel", "missing_field"),
    .init("missing user_id", set: [:], removing: ["user_id"], "user_id", "missing_field"),
    .init("missing timestamp", set: [:], removing: ["timestamp"], "timestamp", "missing_field"),
    .init("empty object", "{}", "event_name", "missing_field"),
    .init("empty event_name", set: ["event_name": #""""#], "event_name", "empty"),
    .init("empty channel", set: ["channel": #""""#], "channel", "empty"),
    .init("empty user_id", set: ["user_id": #""""#], "user_id", "empty"),
    // Lengths, in UTF-8 bytes
    .init("event_name 101 bytes", set: ["event_name": "\"\("a".times(101))\""], "event_name", "too_long"),
    .init("event_name 34 euro signs = 102 bytes", set: ["event_name": "\"\("€".times(34))\""], "event_name", "too_long"),
    .init("event_name escapes decode past the limit", set: ["event_name": "\"\("\\u20ac".times(34))\""], "event_name", "too_long"),
    .init("channel 51 bytes", set: ["channel": "\"\("c".times(51))\""], "channel", "too_long"),
    .init("user_id 101 bytes", set: ["user_id": "\"\("u".times(101))\""], "user_id", "too_long"),
    .init("campaign_id 101 bytes", set: ["campaign_id": "\"\("k".times(101))\""], "campaign_id", "too_long"),
    .init("idempotency_key 129 bytes", set: ["idempotency_key": "\"\("i".times(129))\""], "idempotency_key", "too_long"),
    .init("idempotency_key empty", set: ["idempotency_key": #""""#], "idempotency_key", "empty"),
    // Types
    .init("event_name number", set: ["event_name": "42"], "event_name", "wrong_type"),
    .init("event_name null", set: ["event_name": "null"], "event_name", "wrong_type"),
    .init("channel array", set: ["channel": #"["web"]"#], "channel", "wrong_type"),
    .init("user_id object", set: ["user_id": #"{"id": 1}"#], "user_id", "wrong_type"),
    .init("user_id boolean", set: ["user_id": "true"], "user_id", "wrong_type"),
    .init("campaign_id number", set: ["campaign_id": "5"], "campaign_id", "wrong_type"),
    .init("idempotency_key number", set: ["idempotency_key": "5"], "idempotency_key", "wrong_type"),
    .init("timestamp boolean", set: ["timestamp": "true"], "timestamp", "wrong_type"),
    .init("timestamp null", set: ["timestamp": "null"], "timestamp", "wrong_type"),
    .init("timestamp object", set: ["timestamp": "{}"], "timestamp", "wrong_type"),
    .init("tags string", set: ["tags": #""sale""#], "tags", "wrong_type"),
    .init("tags object", set: ["tags": #"{"a": "b"}"#], "tags", "wrong_type"),
    .init("tags element number", set: ["tags": #"["a", 1]"#], "tags", "wrong_type"),
    .init("tags element null", set: ["tags": #"[null]"#], "tags", "wrong_type"),
    .init("metadata array", set: ["metadata": "[1, 2]"], "metadata", "wrong_type"),
    .init("metadata string", set: ["metadata": #""{}""#], "metadata", "wrong_type"),
    // Tags
    .init("tag empty", set: ["tags": #"["a", ""]"#], "tags", "empty"),
    .init("tag 65 bytes", set: ["tags": "[\"\("t".times(65))\"]"], "tags", "too_long"),
    .init("33 tags", set: ["tags": "[" + (0..<33).map { "\"t\($0)\"" }.joined(separator: ",") + "]"], "tags", "too_many"),
    .init("tag with U+0000", set: ["tags": #"["a\u0000"]"#], "tags", "invalid_character"),
    // Metadata
    .init("metadata over 8 KiB", set: ["metadata": "{\"k\": \"\("m".times(8 * 1024))\"}"], "metadata", "too_large"),
    .init("metadata 33 levels", set: ["metadata": "{\"a\":".times(32) + "{}" + "}".times(32)], "metadata", "too_deep"),
    .init("metadata arrays 33 levels", set: ["metadata": #"{"a":"# + "[".times(32) + "]".times(32) + "}"], "metadata", "too_deep"),
    .init("metadata with U+0000", set: ["metadata": #"{"a": "x\u0000y"}"#], "metadata", "invalid_character"),
    .init("metadata key with U+0000", set: ["metadata": #"{"\u0000": 1}"#], "metadata", "invalid_character"),
    .init("metadata number below numeric's scale", set: ["metadata": #"{"a": [1e-20000]}"#], "metadata", "number_out_of_range"),
    .init("metadata number above numeric's range", set: ["metadata": #"{"a": 1e131072}"#], "metadata", "number_out_of_range"),
    .init("metadata number with a huge exponent", set: ["metadata": #"{"a": 1E+99999999999999999999}"#], "metadata", "number_out_of_range"),
    .init("metadata number with too many decimals", set: ["metadata": #"{"a": 0.5e-16383}"#], "metadata", "number_out_of_range"),
    .init("metadata lone surrogate", set: ["metadata": #"{"a": "\udc00"}"#], "metadata", "invalid_utf8"),
    // Timestamps as numbers
    .init("timestamp fractional", set: ["timestamp": "1723475612.5"], "timestamp", "invalid_timestamp"),
    .init("timestamp with .0", set: ["timestamp": "1723475612.0"], "timestamp", "invalid_timestamp"),
    .init("timestamp exponent", set: ["timestamp": "1.7e9"], "timestamp", "invalid_timestamp"),
    .init("timestamp integer exponent", set: ["timestamp": "17E8"], "timestamp", "invalid_timestamp"),
    .init("timestamp negative", set: ["timestamp": "-1723475612"], "timestamp", "invalid_timestamp"),
    .init("timestamp huge", set: ["timestamp": "99999999999999999999999"], "timestamp", "invalid_timestamp"),
    .init("timestamp past Int64 µs", set: ["timestamp": "9223372036855"], "timestamp", "invalid_timestamp"),
    .init("timestamp in milliseconds", set: ["timestamp": "1723475612000"], "timestamp", "timestamp_in_future"),
    .init("timestamp 301 s ahead", set: ["timestamp": future301], "timestamp", "timestamp_in_future"),
    .init("timestamp one second before 2000", set: ["timestamp": "946684799"], "timestamp", "timestamp_too_old"),
    .init("timestamp zero", set: ["timestamp": "0"], "timestamp", "timestamp_too_old"),
    .init("timestamp minus zero", set: ["timestamp": "-0"], "timestamp", "timestamp_too_old"),
    // Timestamps as RFC 3339 strings
    .init("RFC 3339 date only", set: ["timestamp": #""2025-11-29""#], "timestamp", "invalid_timestamp"),
    .init("RFC 3339 without offset", set: ["timestamp": #""2025-11-29T10:00:00""#], "timestamp", "invalid_timestamp"),
    .init("RFC 3339 month 13", set: ["timestamp": #""2025-13-01T00:00:00Z""#], "timestamp", "invalid_timestamp"),
    .init("RFC 3339 Feb 29 in 2025", set: ["timestamp": #""2025-02-29T00:00:00Z""#], "timestamp", "invalid_timestamp"),
    .init("RFC 3339 Apr 31", set: ["timestamp": #""2025-04-31T00:00:00Z""#], "timestamp", "invalid_timestamp"),
    .init("RFC 3339 day 0", set: ["timestamp": #""2025-04-00T00:00:00Z""#], "timestamp", "invalid_timestamp"),
    .init("RFC 3339 hour 24", set: ["timestamp": #""2025-11-29T24:00:00Z""#], "timestamp", "invalid_timestamp"),
    .init("RFC 3339 minute 60", set: ["timestamp": #""2025-11-29T10:60:00Z""#], "timestamp", "invalid_timestamp"),
    .init("RFC 3339 second 61", set: ["timestamp": #""2025-11-29T10:00:61Z""#], "timestamp", "invalid_timestamp"),
    .init("RFC 3339 empty fraction", set: ["timestamp": #""2025-11-29T10:00:00.Z""#], "timestamp", "invalid_timestamp"),
    .init("RFC 3339 ten fraction digits", set: ["timestamp": #""2025-11-29T10:00:00.1234567890Z""#], "timestamp", "invalid_timestamp"),
    .init("RFC 3339 offset without minutes", set: ["timestamp": #""2025-11-29T10:00:00+03""#], "timestamp", "invalid_timestamp"),
    .init("RFC 3339 offset hour 24", set: ["timestamp": #""2025-11-29T10:00:00+24:00""#], "timestamp", "invalid_timestamp"),
    .init("RFC 3339 bad separator", set: ["timestamp": #""2025-11-29X10:00:00Z""#], "timestamp", "invalid_timestamp"),
    .init("RFC 3339 leading space", set: ["timestamp": #"" 2025-11-29T10:00:00Z""#], "timestamp", "invalid_timestamp"),
    .init("RFC 3339 trailing space", set: ["timestamp": #""2025-11-29T10:00:00Z ""#], "timestamp", "invalid_timestamp"),
    .init("RFC 3339 two-digit year", set: ["timestamp": #""25-11-29T10:00:00Z""#], "timestamp", "invalid_timestamp"),
    .init("RFC 3339 numeric string", set: ["timestamp": #""1723475612""#], "timestamp", "invalid_timestamp"),
    .init("RFC 3339 empty", set: ["timestamp": #""""#], "timestamp", "invalid_timestamp"),
    .init("RFC 3339 before 2000", set: ["timestamp": #""1999-12-31T23:59:59Z""#], "timestamp", "timestamp_too_old"),
    .init("RFC 3339 offset moves it before 2000", set: ["timestamp": #""2000-01-01T00:30:00+01:00""#], "timestamp", "timestamp_too_old"),
    .init("RFC 3339 in 2030", set: ["timestamp": #""2030-01-01T00:00:00Z""#], "timestamp", "timestamp_in_future"),
    // Duplicates
    .init("duplicate event_name", #"{"event_name": "a", "channel": "web", "user_id": "u", "timestamp": 1723475612, "event_name": "b"}"#, "event_name", "duplicate_field"),
    .init("duplicate through an escape", #"{"event_name": "a", "channel": "web", "user_id": "u", "timestamp": 1723475612, "event\u005fname": "b"}"#, "event_name", "duplicate_field"),
    .init("duplicate empty-named field", #"{"": 1, "event_name": "a", "": 2}"#, "", "duplicate_field"),
    .init("duplicate unknown field", #"{"x": 1, "event_name": "a", "channel": "web", "user_id": "u", "timestamp": 1723475612, "x": 2}"#, "x", "duplicate_field"),
    // Encoding
    .init("lone high surrogate", set: ["event_name": #""a\ud800""#], "event_name", "invalid_utf8"),
    .init("lone low surrogate", set: ["channel": #""\udc00b""#], "channel", "invalid_utf8"),
    .init("high surrogate then a non-surrogate escape", set: ["user_id": #""\ud800\u0041""#], "user_id", "invalid_utf8"),
    .init("two high surrogates", set: ["user_id": #""\ud83d\ud83d""#], "user_id", "invalid_utf8"),
    .init("U+0000 in channel", set: ["channel": #""w\u0000b""#], "channel", "invalid_character"),
    .init("overlong NUL", bytes: eventTestJSON(field: "user_id", rawStringContent: [0xC0, 0x80]), "user_id", "invalid_utf8"),
    .init("overlong slash", bytes: eventTestJSON(field: "user_id", rawStringContent: [0xE0, 0x80, 0xAF]), "user_id", "invalid_utf8"),
    .init("encoded surrogate", bytes: eventTestJSON(field: "event_name", rawStringContent: [0xED, 0xA0, 0x80]), "event_name", "invalid_utf8"),
    .init("above U+10FFFF", bytes: eventTestJSON(field: "channel", rawStringContent: [0xF4, 0x90, 0x80, 0x80]), "channel", "invalid_utf8"),
    .init("byte 0xFF", bytes: eventTestJSON(field: "channel", rawStringContent: [0x61, 0xFF]), "channel", "invalid_utf8"),
    .init("stray continuation byte", bytes: eventTestJSON(field: "campaign_id", rawStringContent: [0x80]), "campaign_id", "invalid_utf8"),
    .init("sequence cut by the closing quote", bytes: eventTestJSON(field: "user_id", rawStringContent: [0xE2, 0x82]), "user_id", "invalid_utf8"),
    .init("invalid UTF-8 in an unknown field", bytes: eventTestJSON(field: "extra", rawStringContent: [0xC3]), "extra", "invalid_utf8"),
    .init("invalid UTF-8 in metadata", bytes: Array(#"{"metadata": {"a": ""#.utf8) + [0xFE] + Array(#""}}"#.utf8), "metadata", "invalid_utf8"),
    .init("invalid UTF-8 in a field name", bytes: [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D], "body", "invalid_utf8"),
    // Order: the first problem in the document wins, then missing fields
    .init("first problem wins", #"{"channel": "", "event_name": 5}"#, "channel", "empty"),
    .init("problem before missing", #"{"timestamp": "yesterday"}"#, "timestamp", "invalid_timestamp"),
    // Not an object
    .init("array body", "[" + eventTestJSON() + "]", "body", "wrong_type"),
    .init("string body", #""event""#, "body", "wrong_type"),
    .init("number body", "42", "body", "wrong_type"),
    .init("null body", "null", "body", "wrong_type"),
    // Malformed JSON
    .init("empty body", "", "body", "malformed_json"),
    .init("whitespace body", " \n\t ", "body", "malformed_json"),
    .init("open brace only", "{", "body", "malformed_json"),
    .init("truncated event", String(eventTestJSON().dropLast()), "body", "malformed_json"),
    .init("truncated inside a string", String(eventTestJSON().prefix(20)), "body", "malformed_json"),
    .init("trailing comma", #"{"event_name": "a",}"#, "body", "malformed_json"),
    .init("missing colon", #"{"event_name" "a"}"#, "body", "malformed_json"),
    .init("missing comma", #"{"event_name": "a" "channel": "b"}"#, "body", "malformed_json"),
    .init("unquoted key", #"{event_name: "a"}"#, "body", "malformed_json"),
    .init("single quotes", #"{'event_name': 'a'}"#, "body", "malformed_json"),
    .init("trailing garbage", eventTestJSON() + " x", "body", "malformed_json"),
    .init("two objects", eventTestJSON() + eventTestJSON(), "body", "malformed_json"),
    .init("raw newline in a string", "{\"event_name\": \"a\nb\"}", "body", "malformed_json"),
    .init("raw tab in a string", "{\"event_name\": \"a\tb\"}", "body", "malformed_json"),
    .init("raw NUL byte", bytes: eventTestJSON(field: "user_id", rawStringContent: [0x00]), "body", "malformed_json"),
    .init("unknown escape", set: ["user_id": #""a\xb""#], "body", "malformed_json"),
    .init("short \\u escape", set: ["user_id": #""\u12""#], "body", "malformed_json"),
    .init("non-hex \\u escape", set: ["user_id": #""\u12g4""#], "body", "malformed_json"),
    .init("leading zero", set: ["x": "01"], "body", "malformed_json"),
    .init("leading plus", set: ["x": "+1"], "body", "malformed_json"),
    .init("bare minus", set: ["x": "-"], "body", "malformed_json"),
    .init("dot without digits", set: ["x": "1."], "body", "malformed_json"),
    .init("exponent without digits", set: ["x": "1e"], "body", "malformed_json"),
    .init("NaN", set: ["x": "NaN"], "body", "malformed_json"),
    .init("truncated literal", set: ["x": "tru"], "body", "malformed_json"),
    .init("capitalised literal", set: ["campaign_id": "Null"], "body", "malformed_json"),
    .init("unterminated string", #"{"event_name": "abc"#, "body", "malformed_json"),
    .init("byte order mark", bytes: [0xEF, 0xBB, 0xBF] + Array(eventTestJSON().utf8), "body", "malformed_json"),
    .init("comment", "// hi\n" + eventTestJSON(), "body", "malformed_json"),
    .init("form feed is not whitespace", "\u{0C}" + eventTestJSON(), "body", "malformed_json"),
    .init("syntax error after a validation problem", #"{"event_name": 5, "channel": }"#, "body", "malformed_json"),
    .init("metadata unbalanced", set: ["metadata": #"{"a": [1, 2}"#], "body", "malformed_json"),
    .init("nesting beyond any limit", set: ["x": "[".times(200) + "]".times(200)], "body", "nesting_too_deep"),
]

@Suite("Event validation")
struct EventValidationTests {
    @Test(arguments: eventRejectionCases)
    func eventRejection(_ c: EventRejectionCase) {
        let result = EventParser().parseEvent(c.body, receivedAtMicros: eventTestNow)
        guard let error = result.failureOrNil else {
            Issue.record("accepted: \(String(decoding: c.body, as: UTF8.self))")
            return
        }
        #expect(error.field == c.field, "\(error)")
        #expect(error.code.description == c.code, "\(error)")
        #expect(!error.message.isEmpty)
    }

    @Test func duplicateCampaignIDEvenWhenNull() {
        let body = #"{"campaign_id": null, "event_name": "a", "channel": "web", "user_id": "u", "timestamp": 1723475612, "campaign_id": "c"}"#
        let error = parseTestEvent(body).failureOrNil
        #expect(error?.field == "campaign_id")
        #expect(error?.code == "duplicate_field")
    }

    @Test func boundariesAreInclusive() {
        let limits = EventLimits.default
        let atLimits = eventTestJSON([
            "event_name": "\"\("e".times(limits.maxEventNameBytes))\"",
            "channel": "\"\("é".times(limits.maxChannelBytes / 2))\"",
            "user_id": "\"\("u".times(limits.maxUserIDBytes))\"",
            "campaign_id": "\"\("c".times(limits.maxCampaignIDBytes))\"",
            "idempotency_key": "\"\("i".times(limits.maxIdempotencyKeyBytes))\"",
            "tags": "[" + (0..<limits.maxTags).map { _ in "\"\("t".times(limits.maxTagBytes))\"" }.joined(separator: ",") + "]",
            "metadata": "{\"a\":".times(limits.maxMetadataDepth - 1) + "{}" + "}".times(limits.maxMetadataDepth - 1),
        ])
        #expect(parsedTestEvent(atLimits) != nil)

        // Metadata exactly at the size limit: `{"k":"` + filler + `"}` = 8 KiB.
        let filler = "m".times(limits.maxMetadataBytes - 8)
        let metadata = "{\"k\":\"\(filler)\"}"
        #expect(metadata.utf8.count == limits.maxMetadataBytes)
        #expect(parsedTestEvent(eventTestJSON(["metadata": metadata]))?.metadataJSON?.count == limits.maxMetadataBytes)

        let nowSeconds = eventTestNow / 1_000_000
        #expect(parsedTestEvent(eventTestJSON(["timestamp": String(nowSeconds + 300)])) != nil)
        #expect(parsedTestEvent(eventTestJSON(["timestamp": "946684800"]))?.timestampMicros == 946_684_800_000_000)
        #expect(parsedTestEvent(eventTestJSON(["timestamp": #""2000-01-01T00:00:00Z""#])) != nil)
    }

    /// The parser accepts exactly the numbers PostgreSQL's jsonb can store: the edges go in, one step
    /// past them is refused (table above), so nothing acknowledged is dead-lettered for its metadata.
    @Test func metadataNumbersAtPostgresLimitsAreStored() throws {
        let metadata = #"{"small": 1e-16383, "big": 9.9e131071, "scaled": 0.5e-16382, "zero": 0e-5, "plain": -12.50}"#
        let event = try #require(parsedTestEvent(eventTestJSON(["metadata": metadata])))
        let connection = try PostgresConnection(url: ScratchDatabase.defaultURL)
        defer { connection.close() }
        let stored = try connection.execute("SELECT ($1::jsonb ->> 'plain'), length($1::jsonb::text) > 140000", [String(decoding: event.metadataJSON ?? [], as: UTF8.self)])
        #expect(stored.string(0, 0) == "-12.50")
        #expect(stored.string(0, 1) == "t")
    }

    @Test func limitsAreConfigurable() {
        var limits = EventLimits.default
        limits.maxFutureSkewSeconds = 3600
        limits.maxEventNameBytes = 5
        let nowSeconds = eventTestNow / 1_000_000
        let inAnHour = eventTestJSON(["event_name": #""short""#, "timestamp": String(nowSeconds + 3000)])
        #expect(parsedTestEvent(inAnHour, limits: limits) != nil)
        #expect(parseTestEvent(inAnHour).failureOrNil?.code == "timestamp_in_future")
        let long = eventTestJSON(["event_name": #""longer""#])
        #expect(parseTestEvent(long, limits: limits).failureOrNil?.code == "too_long")
    }

    @Test func messagesSayWhatToDo() {
        let missing = parseTestEvent(eventTestJSON(removing: ["timestamp"])).failureOrNil
        #expect(missing?.message.contains("RFC 3339") == true)
        let long = parseTestEvent(eventTestJSON(["user_id": "\"\("u".times(101))\""])).failureOrNil
        #expect(long?.message.contains("101") == true)
        #expect(long?.message.contains("100") == true)
        let malformed = parseTestEvent(#"{"event_name": "a",}"#).failureOrNil
        #expect(malformed?.message.contains("byte 19") == true, "\(String(describing: malformed))")
        let ms = parseTestEvent(eventTestJSON(["timestamp": "1723475612000"])).failureOrNil
        #expect(ms?.message.contains("milliseconds") == true)
    }

    @Test func invalidUTF8InATag() {
        let body = Array(#"{"tags": ["ok", ""#.utf8) + [0xE2, 0x82] + Array(#""]}"#.utf8)
        let error = EventParser().parseEvent(body, receivedAtMicros: eventTestNow).failureOrNil
        #expect(error?.field == "tags")
        #expect(error?.code == "invalid_utf8")
    }
}
