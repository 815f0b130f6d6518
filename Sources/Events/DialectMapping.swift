// What the Segment and PostHog mappers share: turning one SDK message into our event JSON and
// validating it with `EventParser`, so an SDK event obeys exactly the rules of `POST /events`.

import Crypto
import Time

/// The wire formats of the analytics SDKs the service accepts besides its own.
public enum SDKDialect: String, Sendable {
    /// Segment's HTTP Tracking API (Segment and RudderStack SDKs, Jitsu).
    case segment
    /// PostHog's capture API.
    case posthog
}

/// A decoded SDK request: the write key it named (header or body) and its messages, each valid or
/// reported by index as `/events/bulk` does.
public struct SDKBatch: Sendable {
    /// The write key (Segment) or project API key (PostHog): from the `Authorization` header when
    /// it has one, else from the body.
    public var writeKey: String?
    public var parsed: BulkParseResult

    public init(writeKey: String?, parsed: BulkParseResult) {
        self.writeKey = writeKey
        self.parsed = parsed
    }
}

/// A value of our event: copied from the client's bytes, or text the mapper chose.
enum MappedValue {
    case raw(RawValue)
    case text(String)
}

/// One SDK message, mapped field by field onto our event, before validation.
struct MappedMessage {
    var eventName: MappedValue
    var userID: MappedValue
    var channel: MappedValue
    var campaignID: RawValue?
    var tags: RawValue?
    var timestampMicros: Int64
    /// The `metadata` object, already built (and cut to size).
    var metadata: [UInt8]
    /// `messageId` (Segment) or `uuid` (PostHog).
    var messageID: String?
    /// Where each of our fields came from, to name the client's field in an error.
    var fieldNames: ClientFieldNames
}

extension EventParser {
    /// Builds our event JSON from `message` and validates it; the idempotency key is the client's
    /// message id scoped by dialect and write key when there is one, else the derived key.
    func assemble(
        _ message: MappedMessage, reader: RawJSONReader, dialect: SDKDialect, writeKey: String?, receivedAtMicros: Int64
    ) -> Result<Event, EventError> {
        var json: [UInt8] = []
        json.reserveCapacity(message.metadata.count + 256)
        func put(_ value: MappedValue) {
            switch value {
            case .raw(let raw):
                if reader.isNumber(raw) {
                    // Some SDKs send numeric user ids; our user_id is text.
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

        var result = parseEvent(json, receivedAtMicros: receivedAtMicros)
        switch result {
        case .success(var event):
            if let id = message.messageID {
                guard !id.isEmpty, id.utf8.count <= limits.maxIdempotencyKeyBytes else {
                    let name = message.fieldNames["idempotency_key"] ?? "messageId"
                    return .failure(EventError(
                        code: id.isEmpty ? EventError.Code.empty : EventError.Code.tooLong, field: name,
                        message: "\(name) must be 1 to \(limits.maxIdempotencyKeyBytes) bytes of UTF-8."
                    ))
                }
                event.idempotencyKey = .scoped(dialect: dialect, writeKey: writeKey ?? "", messageID: id)
            }
            result = .success(event)
        case .failure(var error):
            // Name the client's field, not ours: `user_id` is `userId` to a Segment client.
            let ours = error.field.split(separator: ".", maxSplits: 1).first.map(String.init) ?? error.field
            if let theirs = message.fieldNames[ours] {
                error.message = error.message.replacing(ours, with: theirs)
                error.field = theirs + String(error.field.dropFirst(ours.count))
            }
            result = .failure(error)
        }
        return result
    }
}

extension IdempotencyKey {
    /// The key of an SDK message that carries its own id (`messageId`, `uuid`): the first 16 bytes of
    /// SHA-256(`sdk:<dialect>:<write key length>:<write key><id>`). The write key is part of it, so
    /// two projects that reuse an id store two events; its length is too, so no two (key, id) pairs
    /// hash the same text; the `sdk:` domain keeps it apart from `client:` keys of our own API.
    public static func scoped(dialect: SDKDialect, writeKey: String, messageID: String) -> IdempotencyKey {
        var text = Array("sdk:\(dialect.rawValue):\(writeKey.utf8.count):".utf8)
        text.append(contentsOf: writeKey.utf8)
        text.append(contentsOf: messageID.utf8)
        var hasher = SHA256()
        text.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        return hasher.finalize().withUnsafeBytes { IdempotencyKey(bytes: $0.prefix(16))! }
    }
}

/// The rules both dialects share.
enum DialectRules {
    /// The channel of a message that names none, from the SDK that sent it (Segment
    /// `context.library.name`, PostHog `properties.$lib`): browser SDKs are `web`, iOS/Android and
    /// cross-platform mobile SDKs `mobile_app`, everything else (server SDKs) `server`.
    static func defaultChannel(library: String?) -> String {
        guard let name = library?.lowercased() else { return "server" }
        let mobile = ["ios", "android", "react-native", "flutter", "kotlin", "swift", "xamarin", "unity", "cordova"]
        if mobile.contains(where: { name.contains($0) }) { return "mobile_app" }
        let web = ["analytics.js", "analytics-next", "javascript", "posthog-js", "web", "browser"]
        if web.contains(where: { name.contains($0) }) { return "web" }
        return "server"
    }

    /// Parses an RFC 3339 string value to Unix microseconds.
    static func timestamp(_ value: RawValue?, reader: RawJSONReader) -> Int64?? {
        guard let value, !reader.isNull(value) else { return .some(nil) }
        guard let text = reader.string(value) else { return nil }
        guard let micros = UTCTime.parseRFC3339(text) else { return nil }
        return .some(micros)
    }

    /// When the message happened: `timestamp` corrected for the client's clock skew with `sentAt`
    /// (`received − (sentAt − timestamp)`, as Segment and PostHog do), else `timestamp` as sent,
    /// else the time received. `nil` with the field's name when a timestamp is not RFC 3339.
    static func eventTime(
        timestamp: (name: String, value: RawValue?), sentAt: (name: String, value: RawValue?),
        batchSentAtMicros: Int64?, reader: RawJSONReader, receivedAtMicros: Int64
    ) -> Result<Int64, EventError> {
        guard let stamp = Self.timestamp(timestamp.value, reader: reader) else {
            return .failure(invalidTimestamp(timestamp.name))
        }
        guard let sent = Self.timestamp(sentAt.value, reader: reader) else {
            return .failure(invalidTimestamp(sentAt.name))
        }
        guard let stamp else { return .success(receivedAtMicros) }
        guard let sentMicros = sent ?? batchSentAtMicros else { return .success(stamp) }
        return .success(receivedAtMicros - (sentMicros - stamp))
    }

    static func invalidTimestamp(_ name: String) -> EventError {
        EventError(
            code: EventError.Code.invalidTimestamp, field: name,
            message: "\(name) must be an RFC 3339 date-time string such as 2025-11-29T10:00:00.000Z."
        )
    }

    /// `properties` without the fields that became our channel, tags or campaign.
    static func remainingObject(_ fields: [RawField], without consumed: ConsumedFields, reader: RawJSONReader, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        var first = true
        for field in fields where !consumed.contains(field.name) {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            out.append(contentsOf: reader.bytes(field.nameSpan))
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: reader.bytes(field.value))
        }
        out.append(UInt8(ascii: "}"))
    }

    /// Builds `metadata` from named parts, in order; when it is larger than `maxBytes`, parts are cut
    /// from the end of `parts` (the least useful last) until it fits, and `"cut": [names]` says which.
    static func metadata(
        type: String, parts: [(name: String, bytes: [UInt8])], maxBytes: Int
    ) -> [UInt8] {
        var kept = parts
        var cut: [String] = []
        while true {
            var out: [UInt8] = []
            JSONOut.append(#"{"type":"#, to: &out)
            JSONOut.appendQuoted(type, to: &out)
            for part in kept {
                out.append(UInt8(ascii: ","))
                JSONOut.appendQuoted(part.name, to: &out)
                out.append(UInt8(ascii: ":"))
                out.append(contentsOf: part.bytes)
            }
            if !cut.isEmpty {
                JSONOut.append(#","cut":["#, to: &out)
                for (i, name) in cut.enumerated() {
                    if i > 0 { out.append(UInt8(ascii: ",")) }
                    JSONOut.appendQuoted(name, to: &out)
                }
                out.append(UInt8(ascii: "]"))
            }
            out.append(UInt8(ascii: "}"))
            if out.count <= maxBytes || kept.isEmpty { return out }
            cut.insert(kept.removeLast().name, at: 0)
        }
    }

    /// Tags from `properties.tags` when it is an array of strings (else it stays in metadata).
    static func isStringArray(_ value: RawValue, reader: RawJSONReader) -> Bool {
        reader.isArray(value) && reader.elements(value).allSatisfy { reader.isString($0) }
    }
}

/// Which client field each of our fields came from (`user_id` → `userId`), to name it in an error.
/// Fixed slots rather than a dictionary: it is built for every message and read only on errors.
struct ClientFieldNames: ExpressibleByDictionaryLiteral {
    private var eventName: String?, userID: String?, channel: String?, campaignID: String?
    private var tags: String?, timestamp: String?, metadata: String?, idempotencyKey: String?

    init(dictionaryLiteral elements: (String, String)...) {
        for (ours, theirs) in elements { self[ours] = theirs }
    }

    subscript(ours: String) -> String? {
        get {
            switch ours {
            case "event_name": eventName
            case "user_id": userID
            case "channel": channel
            case "campaign_id": campaignID
            case "tags": tags
            case "timestamp": timestamp
            case "metadata": metadata
            case "idempotency_key": idempotencyKey
            default: nil
            }
        }
        set {
            switch ours {
            case "event_name": eventName = newValue
            case "user_id": userID = newValue
            case "channel": channel = newValue
            case "campaign_id": campaignID = newValue
            case "tags": tags = newValue
            case "timestamp": timestamp = newValue
            case "metadata": metadata = newValue
            case "idempotency_key": idempotencyKey = newValue
            default: break
            }
        }
    }
}

/// The few `properties` fields that became our own fields and are left out of metadata (at most
/// four), without a set's allocation and hashing per message.
struct ConsumedFields: ExpressibleByArrayLiteral {
    private var names: (String?, String?, String?, String?) = (nil, nil, nil, nil)

    init(arrayLiteral elements: String...) {
        for name in elements { insert(name) }
    }

    mutating func insert(_ name: String) {
        if names.0 == nil { names.0 = name } else if names.1 == nil { names.1 = name }
        else if names.2 == nil { names.2 = name } else { names.3 = name }
    }

    func contains(_ name: String) -> Bool {
        names.0 == name || names.1 == name || names.2 == name || names.3 == name
    }
}
