import Testing
@testable import Events

private func bulk(
    _ body: String, _ format: BulkFormat = .json, limits: EventLimits = .default
) -> Result<BulkParseResult, EventError> {
    EventParser(limits: limits).parseBulk(Array(body.utf8), format: format, receivedAtMicros: eventTestNow)
}

private func event(_ user: String, _ extra: KeyValuePairs<String, String> = [:]) -> String {
    eventTestJSON(pairs: [("user_id", "\"\(user)\"")] + extra.map { ($0.key, $0.value) })
}

private let malformedBulkCases: [(String, String)] = [
    ("[" + eventTestJSON() + ",]", "malformed_json"),
    ("[" + eventTestJSON() + "," + #"{"event_name": "a",}"# + "]", "malformed_json"),
    ("[" + eventTestJSON(), "malformed_json"),
    ("[" + eventTestJSON() + "] x", "malformed_json"),
    (#"{"events": ["# + eventTestJSON() + "]", "malformed_json"),
    (#"{"events": []"#, "malformed_json"),
    ("[" + eventTestJSON() + " " + eventTestJSON() + "]", "malformed_json"),
    ("[" + "[".times(300) + "]".times(300) + "]", "nesting_too_deep"),
]

private let bulkShapeCases: [(String, BulkFormat, String, String)] = [
    ("", .json, "events", "no_events"),
    ("  \n", .json, "events", "no_events"),
    ("[]", .json, "events", "no_events"),
    (" [ ] ", .json, "events", "no_events"),
    (#"{"events": []}"#, .json, "events", "no_events"),
    ("", .ndjson, "events", "no_events"),
    ("\n\n \r\n\t\n", .ndjson, "events", "no_events"),
    (#"{"batch": 1}"#, .json, "events", "missing_field"),
    ("{}", .json, "events", "missing_field"),
    (#"{"events": {}}"#, .json, "events", "wrong_type"),
    (#"{"events": null}"#, .json, "events", "wrong_type"),
    (#"{"events": [], "events": []}"#, .json, "events", "duplicate_field"),
    ("5", .json, "body", "wrong_type"),
    (#""events""#, .json, "body", "wrong_type"),
]

@Suite("Bulk event bodies")
struct EventBulkTests {
    @Test func eventsObject() throws {
        let result = try bulk(#"{"events": ["# + event("a") + ", " + event("b") + "]}").get()
        #expect(result.events.map(\.userID) == ["a", "b"])
        #expect(result.eventIndexes == [0, 1])
        #expect(result.errors.isEmpty)
        #expect(result.totalCount == 2)
    }

    @Test func eventsObjectWithOtherFields() throws {
        let body = #"{"batch": {"id": [1, 2]}, "events": ["# + event("a") + #"], "sent_at": "now"}"#
        let result = try bulk(body).get()
        #expect(result.events.map(\.userID) == ["a"])
    }

    @Test func bareArray() throws {
        let result = try bulk(" [\n" + event("a") + ",\n" + event("b") + ",\n" + event("c") + "\n] \n").get()
        #expect(result.events.map(\.userID) == ["a", "b", "c"])
        #expect(result.eventIndexes == [0, 1, 2])
    }

    @Test func ndjson() throws {
        let body = "\n" + event("a") + "\r\n  \n" + event("b") + "\n\t\n" + event("c")
        let result = try bulk(body, .ndjson).get()
        #expect(result.events.map(\.userID) == ["a", "b", "c"])
        #expect(result.eventIndexes == [0, 1, 2])
        #expect(try bulk(event("a") + "\n", .ndjson).get().events.count == 1)
    }

    @Test func mixedValidAndInvalidJSON() throws {
        let body = "[" + [
            event("a"),
            eventTestJSON(removing: ["user_id"]),
            "5",
            event("d"),
            event("e", ["timestamp": #""yesterday""#]),
            "[]",
            event("g", ["tags": #"["a", ""]"#]),
            event("h"),
        ].joined(separator: ",") + "]"
        let result = try bulk(body).get()
        #expect(result.events.map(\.userID) == ["a", "d", "h"])
        #expect(result.eventIndexes == [0, 3, 7])
        #expect(result.errors.map(\.index) == [1, 2, 4, 5, 6])
        #expect(result.errors.map(\.field) == ["user_id", "body", "timestamp", "body", "tags"])
        #expect(result.errors.map(\.code) == ["missing_field", "wrong_type", "invalid_timestamp", "wrong_type", "empty"])
        #expect(result.errors.allSatisfy { !$0.message.isEmpty })
    }

    @Test func mixedValidAndInvalidNDJSON() throws {
        let lines = [
            event("a"),
            "",
            #"{"event_name": "broken", "#,
            "   ",
            event("c", ["channel": "7"]),
            "[1, 2]",
            event("e"),
            eventTestJSON() + " trailing",
        ]
        let result = try bulk(lines.joined(separator: "\n"), .ndjson).get()
        #expect(result.events.map(\.userID) == ["a", "e"])
        #expect(result.eventIndexes == [0, 4])
        #expect(result.errors.map(\.index) == [1, 2, 3, 5])
        #expect(result.errors.map(\.code) == ["malformed_json", "wrong_type", "wrong_type", "malformed_json"])
        #expect(result.errors.map(\.field) == ["body", "channel", "body", "body"])
    }

    @Test func invalidUTF8InABulkElementIsPerEvent() throws {
        let body = Array(("[" + event("a") + ",").utf8) + eventTestJSON(field: "user_id", rawStringContent: [0xFF]) + Array("]".utf8)
        let result = try EventParser().parseBulk(body, format: .json, receivedAtMicros: eventTestNow).get()
        #expect(result.eventIndexes == [0])
        #expect(result.errors == [BulkEventError(index: 1, field: "user_id", code: "invalid_utf8", message: result.errors[0].message)])
    }

    @Test(arguments: malformedBulkCases)
    func malformedJSONBulkFailsAsAWhole(_ body: String, _ code: String) {
        let error = bulk(body).failureOrNil
        #expect(error?.field == "body")
        #expect(error?.code.description == code)
    }

    @Test(arguments: bulkShapeCases)
    func bulkShapeErrors(_ body: String, _ format: BulkFormat, _ field: String, _ code: String) {
        let error = bulk(body, format).failureOrNil
        #expect(error?.field == field, "\(String(describing: error))")
        #expect(error?.code.description == code, "\(String(describing: error))")
    }

    @Test func countLimit() throws {
        var limits = EventLimits.default
        limits.maxEventsPerBulk = 3
        let three = (0..<3).map { event("u\($0)") }
        let four = three + ["5"]  // invalid events count too
        #expect(try bulk("[" + three.joined(separator: ",") + "]", limits: limits).get().events.count == 3)
        #expect(try bulk(three.joined(separator: "\n"), .ndjson, limits: limits).get().events.count == 3)
        for (body, format) in [("[" + four.joined(separator: ",") + "]", BulkFormat.json),
                               (#"{"events": ["# + four.joined(separator: ",") + "]}", .json),
                               (four.joined(separator: "\n"), .ndjson),
                               (four.joined(separator: "\n\n\n"), .ndjson)] {
            let error = bulk(body, format, limits: limits).failureOrNil
            #expect(error?.code == "too_many_events")
            #expect(error?.field == "events")
            #expect(error?.message.contains("3") == true)
        }
    }

    @Test func defaultCountLimitIsTenThousand() throws {
        let one = eventTestJSON()
        let atLimit = "[" + Array(repeating: one, count: 10_000).joined(separator: ",") + "]"
        let result = try bulk(atLimit).get()
        #expect(result.events.count == 10_000)
        #expect(result.eventIndexes.last == 9_999)
        let over = "[" + Array(repeating: one, count: 10_001).joined(separator: ",") + "]"
        #expect(bulk(over).failureOrNil?.code == "too_many_events")
    }

    @Test func bulkEventsEqualSingleEvents() throws {
        let bodies = [event("a", ["tags": #"["x", "y"]"#]), event("b", ["metadata": #"{"k": [1, "}"]}"#]),
                      event("c", ["timestamp": #""2025-11-29T10:00:00.5+01:00""#])]
        let singles = try bodies.map { try #require(parsedTestEvent($0)) }
        #expect(try bulk("[" + bodies.joined(separator: ",") + "]").get().events == singles)
        #expect(try bulk(bodies.joined(separator: "\n"), .ndjson).get().events == singles)
    }
}
