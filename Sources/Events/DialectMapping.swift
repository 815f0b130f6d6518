// What the Segment and PostHog mappers share: turning one SDK message into our event, validated by
// the field readers of `EventParser`, so an SDK event obeys exactly the rules of `POST /events`.

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
    /// `messageId` (Segment) or `uuid` (PostHog): `.raw` when its bytes are its text (ASCII, no
    /// escapes), so the key is hashed from the body without a String per message.
    var messageID: MappedValue?
    /// Where each of our fields came from, to name the client's field in an error.
    var fieldNames: ClientFieldNames
    /// Segment: the message has a timestamp and no `sentAt` of its own, so the batch's `sentAt`
    /// corrects it (or would, when the one-pass reader has not read the batch's `sentAt` yet).
    var batchSentAtApplies = false
    /// At least as deep as `metadata` nests, when the one-pass reader knows that `metadata` holds no
    /// ill-formed UTF-8, U+0000 or out-of-range number (it checked every byte it is made of); `nil`
    /// has `assemble` check `metadata` again.
    var metadataDepthBound: Int?

    /// Why `messageID` cannot be an idempotency key (empty, or longer than ours may be), if it cannot.
    func invalidMessageID(limits: EventLimits) -> EventError? {
        let count: Int
        switch messageID {
        case nil: return nil
        case .raw(let value): count = value.end - value.start - 2
        case .text(let text): count = text.utf8.count
        }
        guard count == 0 || count > limits.maxIdempotencyKeyBytes else { return nil }
        let name = fieldNames.name(of: .idempotencyKey) ?? "messageId"
        return EventError(
            code: count == 0 ? EventError.Code.empty : EventError.Code.tooLong, field: name,
            message: "\(name) must be 1 to \(limits.maxIdempotencyKeyBytes) bytes of UTF-8."
        )
    }

    /// `error` about one of our fields, naming the client's field instead: `user_id` is `userId` to a
    /// Segment client.
    func namingClientField(_ error: EventError) -> EventError {
        var error = error
        let ours = error.field.split(separator: ".", maxSplits: 1).first.map(String.init) ?? error.field
        if let theirs = EventField(name: ours).flatMap({ fieldNames.name(of: $0) }) {
            error.message = error.message.replacing(ours, with: theirs)
            error.field = theirs + String(error.field.dropFirst(ours.count))
        }
        return error
    }
}

extension EventParser {
    /// `nil` when a request's `count` messages may be mapped; else why not (none, or more than a bulk
    /// body may hold). `noun` is what the dialect calls them.
    func checkCount(_ count: Int, of noun: String) -> EventError? {
        guard count > 0 else { return EventParser.noEvents }
        guard count <= limits.maxEventsPerBulk else {
            return EventError(
                code: EventError.Code.tooManyEvents, field: "batch",
                message: "A batch holds at most \(limits.maxEventsPerBulk) \(noun); split it."
            )
        }
        return nil
    }

    /// Maps each message with `map` and validates it with `assemble`: each is an event or an error
    /// reported by its index, as `/events/bulk` reports them.
    func mapEach(
        _ messages: [RawValue], reader: RawJSONReader, dialect: SDKDialect, writeKey: String?, receivedAtMicros: Int64,
        map: (RawValue) -> Result<MappedMessage, EventError>
    ) -> SDKBatch {
        var result = BulkParseResult()
        result.events.reserveCapacity(messages.count)
        result.eventIndexes.reserveCapacity(messages.count)
        let scope = SDKKeyScope(dialect: dialect, writeKey: writeKey ?? "")
        for (index, message) in messages.enumerated() {
            result.append(map(message).flatMap {
                assemble($0, reader: reader, scope: scope, receivedAtMicros: receivedAtMicros)
            }, index: index)
        }
        return SDKBatch(writeKey: writeKey, parsed: result)
    }
}

extension EventParser {
    /// Validates `message` field by field, in the order of our event's fields, with the very checks
    /// `POST /events` applies (the field readers of `EventObjectParser`), reading the client's values
    /// in place in `reader`'s body: no event JSON is built and parsed again. The idempotency key is
    /// the client's message id scoped by dialect and write key when there is one, else the derived key.
    func assemble(
        _ message: MappedMessage, reader: RawJSONReader, dialect: SDKDialect, writeKey: String?, receivedAtMicros: Int64
    ) -> Result<Event, EventError> {
        assemble(message, reader: reader, scope: SDKKeyScope(dialect: dialect, writeKey: writeKey ?? ""), receivedAtMicros: receivedAtMicros)
    }

    /// ``assemble(_:reader:dialect:writeKey:receivedAtMicros:)`` with the key scope of the request
    /// built once for all its messages.
    func assemble(
        _ message: MappedMessage, reader: RawJSONReader, scope: SDKKeyScope, receivedAtMicros: Int64
    ) -> Result<Event, EventError> {
        var values = EventFieldValues()
        values.eventName = mappedString(message.eventName, .eventName, maxBytes: limits.maxEventNameBytes, reader: reader, into: &values)
        values.userID = mappedString(message.userID, .userID, maxBytes: limits.maxUserIDBytes, reader: reader, into: &values)
        values.channel = mappedString(message.channel, .channel, maxBytes: limits.maxChannelBytes, reader: reader, into: &values)
        values.timestampMicros = mappedTimestamp(message.timestampMicros, into: &values, receivedAtMicros: receivedAtMicros)
        if let campaign = message.campaignID {
            values.campaignID = mappedString(.raw(campaign), .campaignID, maxBytes: limits.maxCampaignIDBytes, reader: reader, into: &values)
        }
        if let tags = message.tags, !values.failed {
            var scanner = reader.makeScanner(at: tags.start)
            try? readTags(&scanner, into: &values)  // cannot throw: the body was validated
        }
        if !values.failed {
            let accepted: Bool
            if let bound = message.metadataDepthBound, bound <= limits.maxMetadataDepth {
                // Nothing for the check to find but the size.
                accepted = acceptMetadata(size: message.metadata.count, EventJSONSkipInfo(), into: &values)
            } else {
                accepted = message.metadata.withUnsafeBufferPointer { bytes in
                    var scanner = EventJSONScanner(base: bytes.baseAddress!, count: bytes.count, nestingLimit: limits.hardNestingLimit)
                    var info = EventJSONSkipInfo()
                    try? scanner.skipValue(depth: 1, info: &info)  // cannot throw: built from validated parts
                    return acceptMetadata(size: bytes.count, info, into: &values)
                }
            }
            if accepted { values.metadata = message.metadata }
        }

        // The client's id is checked once the fields are; it replaces the derived key, so that one
        // is never computed.
        var key: IdempotencyKey?
        if !values.failed, let id = message.messageID {
            if let error = message.invalidMessageID(limits: limits) { return .failure(error) }
            key = scope.key(messageID: id, reader: reader)
        }
        return makeEvent(&values, receivedAtMicros: receivedAtMicros, key: key).mapError(message.namingClientField)
    }

    /// One of our string fields from a mapped value: the client's string as `readString` checks it,
    /// a client's number as its digits (some SDKs send numeric user ids; our `user_id` is text), any
    /// other client value as the wrong type, or the mapper's own text.
    private func mappedString(
        _ value: MappedValue, _ field: EventField, maxBytes: Int, reader: RawJSONReader, into values: inout EventFieldValues
    ) -> String? {
        guard !values.failed else { return nil }
        switch value {
        case .raw(let raw) where reader.isNumber(raw):
            let count = raw.end - raw.start
            let digits = EventJSONString(
                start: raw.start, end: raw.end, decodedCount: count, hasEscapes: false, invalidAt: -1, containsNUL: false
            )
            return acceptString(digits, of: reader.makeScanner(at: raw.start), field, maxBytes: maxBytes, into: &values)
        case .raw(let raw):
            var scanner = reader.makeScanner(at: raw.start)
            return try? readString(&scanner, field, maxBytes: maxBytes, nullable: field == .campaignID, into: &values)
        case .text(let text):
            var text = text
            return text.withUTF8 { bytes in
                let scanner = EventJSONScanner(base: bytes.baseAddress ?? reader.base, count: bytes.count, nestingLimit: 1)
                let token = EventJSONString(
                    start: 0, end: bytes.count, decodedCount: bytes.count, hasEscapes: false, invalidAt: -1, containsNUL: false
                )
                return acceptString(token, of: scanner, field, maxBytes: maxBytes, into: &values)
            }
        }
    }

    /// The mapped time through `acceptTimestamp`. Times our event JSON cannot carry as RFC 3339 (before
    /// 1970, or after 9999) are judged as that JSON would carry them: whole seconds, or the text that
    /// `UTCTime.rfc3339Micros` writes, read back by `readTimestamp`.
    private func mappedTimestamp(_ micros: Int64, into values: inout EventFieldValues, receivedAtMicros: Int64) -> Int64? {
        guard !values.failed else { return nil }
        if micros >= 0 && micros < UTCTime.maxMicros {
            return acceptTimestamp(micros, into: &values, receivedAtMicros: receivedAtMicros)
        }
        var json: [UInt8] = []
        if micros >= 0 {
            JSONOut.appendQuoted(UTCTime.rfc3339Micros(micros), to: &json)
        } else {
            json.append(contentsOf: Array("\(micros / 1_000_000)".utf8))
        }
        return json.withUnsafeBufferPointer { bytes in
            var scanner = EventJSONScanner(base: bytes.baseAddress!, count: bytes.count, nestingLimit: 1)
            return try? readTimestamp(&scanner, into: &values, receivedAtMicros: receivedAtMicros)
        }
    }
}

extension IdempotencyKey {
    /// The key of an SDK message that carries its own id (`messageId`, `uuid`): the first 16 bytes of
    /// SHA-256(`sdk:<dialect>:<write key length>:<write key><id>`). The write key is part of it, so
    /// two projects that reuse an id store two events; its length is too, so no two (key, id) pairs
    /// hash the same text; the `sdk:` domain keeps it apart from `client:` keys of our own API.
    public static func scoped(dialect: SDKDialect, writeKey: String, messageID: String) -> IdempotencyKey {
        SDKKeyScope(dialect: dialect, writeKey: writeKey).key(messageID: messageID)
    }
}

/// `sdk:<dialect>:<write key length>:<write key>`, the text every message id of one request is hashed
/// after: built once per request, since formatting it per message cost more than the hash.
struct SDKKeyScope {
    let prefix: String

    init(dialect: SDKDialect, writeKey: String) {
        prefix = "sdk:\(dialect.rawValue):\(writeKey.utf8.count):" + writeKey
    }

    func key(messageID: String) -> IdempotencyKey {
        IdempotencyKey.hashed(prefix, messageID)
    }

    /// ``key(messageID:)`` of a mapped id: a `.raw` one hashed from its bytes in the body.
    func key(messageID: MappedValue, reader: RawJSONReader) -> IdempotencyKey {
        switch messageID {
        // `.raw` only for a string without escapes (``DialectRules/messageID(_:_:reader:)``).
        case .raw(let value): IdempotencyKey.hashed(prefix, reader.unescapedText(value)!)
        case .text(let text): key(messageID: text)
        }
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
        if let text = reader.unescapedText(value) {
            // Without escapes the text is the bytes between the quotes (and if they parse, valid UTF-8).
            guard let micros = text.baseAddress.flatMap({ UTCTime.parseRFC3339($0, count: text.count, spaceBeforeOffset: true) }),
                  micros >= 0, micros < UTCTime.maxMicros
            else { return nil }
            return .some(micros)
        }
        guard let text = reader.string(value) else { return nil }
        guard let micros = UTCTime.parseRFC3339(text) else { return nil }
        return .some(micros)
    }

    /// When the message happened: `timestamp` corrected for the client's clock skew with `sentAt`
    /// (`received − (sentAt − timestamp)`, as Segment and PostHog do), else `timestamp` as sent,
    /// else the time received. `nil` with the field's name when a timestamp is not RFC 3339.
    static func eventTime(
        timestamp: (name: StaticString, value: RawValue?), sentAt: (name: StaticString, value: RawValue?),
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

    static func invalidTimestamp(_ name: StaticString) -> EventError {
        EventError(
            code: EventError.Code.invalidTimestamp, field: "\(name)",
            message: "\(name) must be an RFC 3339 date-time string such as 2025-11-29T10:00:00.000Z."
        )
    }

    /// What both dialects take from `properties`: `channel` when it is a string and `tags` when it is
    /// an array of strings (else they stay in metadata). Each becomes our field, is left out of
    /// metadata, and is named in errors by where it came from.
    static func channelAndTags(
        in properties: [RawField], reader: RawJSONReader, consumed: inout ConsumedFields, names: inout ClientFieldNames
    ) -> (channel: RawValue?, tags: RawValue?) {
        var channel: RawValue?
        if let value = reader.value("channel", in: properties), reader.isString(value) {
            channel = value
            consumed.insert("channel")
            names[.channel] = "properties.channel"
        }
        var tags: RawValue?
        if let value = reader.value("tags", in: properties), isStringArray(value, reader: reader) {
            tags = value
            consumed.insert("tags")
            names[.tags] = "properties.tags"
        }
        return (channel, tags)
    }

    /// The client's id of a message (Segment `messageId`, PostHog `uuid`): `nil` when absent or
    /// null, an error when it is not a string.
    static func messageID(_ name: StaticString, in fields: [RawField], reader: RawJSONReader) -> Result<MappedValue?, EventError> {
        messageID(name, reader.value(name, in: fields), reader: reader)
    }

    /// ``messageID(_:in:reader:)`` of the field's value, found already: `.raw` when the string's
    /// bytes are its text (ASCII without escapes, the usual uuid or message id), else its text.
    static func messageID(_ name: StaticString, _ value: RawValue?, reader: RawJSONReader) -> Result<MappedValue?, EventError> {
        guard let value, !reader.isNull(value) else { return .success(nil) }
        if let text = reader.unescapedText(value), text.allSatisfy({ $0 < 0x80 }) { return .success(.raw(value)) }
        guard let text = reader.string(value) else {
            return .failure(EventError(code: EventError.Code.wrongType, field: "\(name)", message: "\(name) must be a string."))
        }
        return .success(.text(text))
    }

    /// Tags from `properties.tags` when it is an array of strings (else it stays in metadata).
    static func isStringArray(_ value: RawValue, reader: RawJSONReader) -> Bool {
        reader.isArray(value) && reader.allElements(of: value) { reader.isString($0) }
    }
}

/// Which client field each of our fields came from (`user_id` → `userId`), to name it in an error.
/// Fixed slots of the static names' addresses and lengths rather than a dictionary, Strings or
/// StaticStrings: it is built and copied for every message and read only on errors, so it holds
/// nothing to retain or release, in 72 bytes rather than 8 StaticStrings' 192.
struct ClientFieldNames {
    private var starts = InlineArray<8, UnsafePointer<UInt8>?>(repeating: nil)
    private var counts = InlineArray<8, UInt8>(repeating: 0)

    /// The names every message of a dialect has; the others are set as the mapper finds them.
    init(eventName: StaticString, metadata: StaticString, idempotencyKey: StaticString) {
        self[.eventName] = eventName
        self[.metadata] = metadata
        self[.idempotencyKey] = idempotencyKey
    }

    /// The client's name of `ours`, as text (errors only).
    func name(of ours: EventField) -> String? {
        let slot = Int(ours.rawValue)
        return starts[slot].map { String(decoding: UnsafeBufferPointer(start: $0, count: Int(counts[slot])), as: UTF8.self) }
    }

    /// Sets the client's name of `ours`: a literal (its text lives as long as the program).
    subscript(ours: EventField) -> StaticString {
        @available(*, unavailable) get { fatalError() }
        set {
            precondition(newValue.hasPointerRepresentation && newValue.utf8CodeUnitCount <= 255)
            starts[Int(ours.rawValue)] = newValue.utf8Start
            counts[Int(ours.rawValue)] = UInt8(newValue.utf8CodeUnitCount)
        }
    }
}

/// The few `properties` fields that became our own fields and are left out of metadata (at most
/// five), as the addresses and lengths of their names: no set's allocation and hashing, nor an
/// optional per slot, for a check made for every field of every message's properties.
struct ConsumedFields {
    private var starts = InlineArray<5, UnsafePointer<UInt8>?>(repeating: nil)
    private var counts = InlineArray<5, Int>(repeating: 0)
    private var count = 0

    /// None yet (an array literal would allocate its array per message).
    init() {}

    var isEmpty: Bool { count == 0 }

    mutating func insert(_ name: StaticString) {
        precondition(count < 5, "more than five consumed fields")
        starts[count] = name.utf8Start
        counts[count] = name.utf8CodeUnitCount
        count += 1
    }

    func contains(_ field: RawField, reader: RawJSONReader) -> Bool {
        for i in 0..<count where reader.hasName(field, utf8Start: starts[i]!, count: counts[i]) { return true }
        return false
    }
}

/// A field of a metadata part whose object value lost one of its own fields to our event (Segment
/// `context.campaign`, whose `name` or `id` became `campaign_id`).
struct NestedConsumedField {
    /// The object value, as it lies in the body.
    var object: RawValue
    /// The value of its field that became ours.
    var consumedValue: RawValue
}

/// Builds `metadata` in one buffer: `{"type":…}`, then named parts in order, copied from the body.
/// When it is larger than `maxBytes`, parts are cut from the end (the least useful last) until it
/// fits, and `"cut": [names]` says which.
struct MetadataBuilder {
    private var out: [UInt8] = []
    /// Where each part starts in `out` (at the comma of its `,"name":`): at most six (name, category,
    /// groupId, previousId, properties, context), in fixed slots rather than an array per message.
    /// Their names are read back from `out` when parts are cut (rarely), rather than kept in a
    /// StaticString slot per part that every message would write.
    private var partStarts = InlineArray<6, Int>(repeating: 0)
    private var partCount = 0

    /// `type` is plain ASCII (a Segment call, `capture`): it is written as it is, in quotes.
    init(type: StaticString, reserving capacity: Int) {
        out.reserveCapacity(capacity + 64)
        JSONOut.append(#"{"type":"#, to: &out)
        JSONOut.append(type, quoted: true, to: &out)
    }

    /// A part that is a value of the body, as sent.
    mutating func add(_ name: StaticString, _ value: RawValue, reader: RawJSONReader) {
        begin(name)
        out.append(contentsOf: reader.bytes(value))
    }

    /// A part that is an object of `fields`, without the `consumed` ones (those that became our
    /// channel, tags or user): `{` and each field's name and value as sent, `:` between them and `,`
    /// between fields. Fields that lie so in the body already (no white space between) are copied as
    /// one run.
    ///
    /// `trimming`, when given, is one of `fields` whose object value loses one of its own fields
    /// (`context.campaign` without the `name` or `id` that became our campaign): it is written
    /// without it, or left out when nothing else is in it. With `omittedWhenEmpty`, a part left with
    /// no field at all is taken out again (its name included).
    mutating func add(
        _ name: StaticString, _ fields: [RawField], without consumed: ConsumedFields, trimming: NestedConsumedField? = nil,
        omittedWhenEmpty: Bool = false, reader: RawJSONReader
    ) {
        begin(name)
        out.append(UInt8(ascii: "{"))
        var run = RawValue(start: 0, end: 0)
        for field in fields where consumed.isEmpty || !consumed.contains(field, reader: reader) {
            if let trimming, field.value.start == trimming.object.start {
                if run.end > run.start {
                    out.append(contentsOf: reader.bytes(run))
                    out.append(UInt8(ascii: ","))
                }
                run = RawValue(start: 0, end: 0)
                var opened = false
                reader.forEachField(of: trimming.object) { inner in
                    guard inner.value.start != trimming.consumedValue.start else { return }
                    if opened {
                        out.append(UInt8(ascii: ","))
                    } else {
                        out.append(contentsOf: reader.bytes(field.nameSpan))
                        out.append(contentsOf: ":{".utf8)
                        opened = true
                    }
                    appendField(inner, reader: reader)
                }
                if opened { out.append(contentsOf: "},".utf8) }
                continue
            }
            let compact = field.value.start == field.nameSpan.end + 1
            if run.end > run.start && compact && field.nameSpan.start == run.end + 1 {
                run.end = field.value.end
                continue
            }
            if run.end > run.start {
                out.append(contentsOf: reader.bytes(run))
                out.append(UInt8(ascii: ","))
            }
            if compact {
                run = RawValue(start: field.nameSpan.start, end: field.value.end)
            } else {
                run = RawValue(start: 0, end: 0)
                appendField(field, reader: reader)
                out.append(UInt8(ascii: ","))
            }
        }
        if run.end > run.start {
            out.append(contentsOf: reader.bytes(run))
        } else if out.last == UInt8(ascii: ",") {
            out.removeLast()
        }
        if omittedWhenEmpty && out.last == UInt8(ascii: "{") {
            partCount -= 1
            out.removeSubrange(partStarts[partCount]...)
            return
        }
        out.append(UInt8(ascii: "}"))
    }

    /// `"name":value` as sent, without the white space around the colon.
    private mutating func appendField(_ field: RawField, reader: RawJSONReader) {
        out.append(contentsOf: reader.bytes(field.nameSpan))
        out.append(UInt8(ascii: ":"))
        out.append(contentsOf: reader.bytes(field.value))
    }

    private mutating func begin(_ name: StaticString) {
        partStarts[partCount] = out.count
        partCount += 1
        out.append(UInt8(ascii: ","))
        JSONOut.append(name, quoted: true, to: &out)
        out.append(UInt8(ascii: ":"))
    }

    /// The object, cut to `maxBytes` when parts can be cut (`{"type":…}` alone is never cut); the
    /// builder is left empty. Mutating rather than `consuming`: a consumed copy of the builder shared
    /// `out` with the caller's, so the closing brace copied the whole buffer (an allocation and a
    /// `memmove` per message).
    mutating func finish(maxBytes: Int) -> [UInt8] {
        var kept = partCount
        // `,"cut":[` + the quoted names of the parts from `kept` on, with commas between, + `]`.
        var cutBytes = 0
        while (kept == partCount ? out.count : partStarts[kept] + cutBytes) + 1 > maxBytes && kept > 0 {
            kept -= 1
            cutBytes += (cutBytes == 0 ? 9 : 1) + quotedName(kept).count
        }
        if kept < partCount {
            var cut = Array(#","cut":["#.utf8)
            for i in kept..<partCount {
                if i > kept { cut.append(UInt8(ascii: ",")) }
                cut.append(contentsOf: out[quotedName(i)])
            }
            cut.append(UInt8(ascii: "]"))
            out.replaceSubrange(partStarts[kept]..., with: cut)
        }
        out.append(UInt8(ascii: "}"))
        partCount = 0
        var result: [UInt8] = []
        swap(&result, &out)
        return result
    }

    /// Where part `i`'s name lies in `out`, quotes included: after the comma that starts the part, up
    /// to the next quote (names are ASCII literals without quotes or escapes).
    private func quotedName(_ i: Int) -> Range<Int> {
        let start = partStarts[i] + 1
        var end = start + 1
        while out[end] != UInt8(ascii: "\"") { end += 1 }
        return start..<(end + 1)
    }
}
