import TestSupport
import Testing
@testable import Events

/// "Now" for every event test: 2025-11-29T10:16:40Z, in Unix microseconds.
let eventTestNow: Int64 = 1_764_411_400_000_000

/// The required fields of a valid event, in order, as raw JSON values.
let eventTestBaseFields: [(String, String)] = [
    ("event_name", #""product_view""#),
    ("channel", #""web""#),
    ("user_id", #""user_123""#),
    ("timestamp", "1723475612"),
]

/// A JSON event object: the base fields with `set` values replaced (or appended, in the given order)
/// and `removing` left out. Values are raw JSON text.
func eventTestJSON(_ set: KeyValuePairs<String, String> = [:], removing: Set<String> = []) -> String {
    eventTestJSON(pairs: set.map { ($0.key, $0.value) }, removing: removing)
}

func eventTestJSON(pairs set: [(String, String)], removing: Set<String> = []) -> String {
    var fields = eventTestBaseFields.filter { !removing.contains($0.0) }
    for (key, value) in set {
        if let i = fields.firstIndex(where: { $0.0 == key }) {
            fields[i].1 = value
        } else {
            fields.append((key, value))
        }
    }
    return "{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
}

/// A valid event object with one field's value given as raw bytes (for ill-formed UTF-8).
func eventTestJSON(field: String, rawStringContent: [UInt8]) -> [UInt8] {
    let marker = "@@RAW@@"
    let text = eventTestJSON([field: "\"\(marker)\""])
    let range = text.firstRange(of: marker)!
    return Array(text[..<range.lowerBound].utf8) + rawStringContent + Array(text[range.upperBound...].utf8)
}

func parseTestEvent(
    _ body: String, limits: EventLimits = .default, now: Int64 = eventTestNow
) -> Result<Event, EventError> {
    EventParser(limits: limits).parseEvent(Array(body.utf8), receivedAtMicros: now)
}

func parsedTestEvent(
    _ body: String, limits: EventLimits = .default, now: Int64 = eventTestNow,
    sourceLocation: SourceLocation = #_sourceLocation
) -> Event? {
    switch parseTestEvent(body, limits: limits, now: now) {
    case .success(let event):
        return event
    case .failure(let error):
        Issue.record("expected a valid event, got \(error) for \(body)", sourceLocation: sourceLocation)
        return nil
    }
}

extension String {
    func times(_ n: Int) -> String { String(repeating: self, count: n) }
}

extension Result {
    var failureOrNil: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }

    var successOrNil: Success? {
        if case .success(let value) = self { return value }
        return nil
    }
}

/// A small deterministic PRNG, so that randomized tests repeat exactly.
typealias EventTestRandom = SplitMix64

/// A random event that stays inside no particular limit: the codec must carry anything.
func randomTestEvent(_ rng: inout EventTestRandom) -> Event {
    let scalars: [Character] = ["a", "Z", "0", "_", " ", "\"", "\\", "\u{0}", "é", "ğ", "€", "日", "🎉", "👍🏽", "\u{10FFFF}"]
    func string(_ maxLength: Int) -> String {
        String((0..<Int.random(in: 0...maxLength, using: &rng)).map { _ in scalars.randomElement(using: &rng)! })
    }
    return Event(
        eventName: string(40),
        channel: string(20),
        campaignID: Bool.random(using: &rng) ? string(40) : nil,
        userID: string(40),
        timestampMicros: Int64.random(in: .min ... .max, using: &rng),
        tags: (0..<Int.random(in: 0...(Bool.random(using: &rng) ? 3 : 40), using: &rng)).map { _ in string(20) },
        metadataJSON: Bool.random(using: &rng)
            ? (0..<Int.random(in: 0...400, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) } : nil,
        idempotencyKey: IdempotencyKey(high: rng.next(), low: rng.next()),
        receivedAtMicros: Int64.random(in: .min ... .max, using: &rng)
    )
}
