import Time
// The event object itself: field dispatch, per-field validation, and assembly of an `Event`.

/// The fields an event object may carry.
enum EventField: UInt8, CaseIterable {
    case eventName, channel, userID, timestamp, campaignID, tags, metadata, idempotencyKey

    var name: String {
        switch self {
        case .eventName: "event_name"
        case .channel: "channel"
        case .userID: "user_id"
        case .timestamp: "timestamp"
        case .campaignID: "campaign_id"
        case .tags: "tags"
        case .metadata: "metadata"
        case .idempotencyKey: "idempotency_key"
        }
    }

    var bit: UInt16 { 1 << UInt16(rawValue) }

    init?(name: String) {
        guard let field = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = field
    }

    /// Matches an unescaped field name in place, without building a String.
    @inline(__always)
    static func match(_ p: UnsafePointer<UInt8>, count: Int) -> EventField? {
        @inline(__always) func eq(_ literal: StaticString) -> Bool {
            let q = literal.utf8Start
            for i in 0..<count where p[i] != q[i] { return false }
            return true
        }
        switch count {
        case 4: return eq("tags") ? .tags : nil
        case 7:
            if eq("user_id") { return .userID }
            return eq("channel") ? .channel : nil
        case 8: return eq("metadata") ? .metadata : nil
        case 9: return eq("timestamp") ? .timestamp : nil
        case 10: return eq("event_name") ? .eventName : nil
        case 11: return eq("campaign_id") ? .campaignID : nil
        case 15: return eq("idempotency_key") ? .idempotencyKey : nil
        default: return nil
        }
    }
}

/// What has been read of one event object so far.
struct EventFieldValues {
    var eventName: String?
    var channel: String?
    var userID: String?
    var campaignID: String?
    var timestampMicros: Int64?
    var tags: [String] = []
    var metadata: [UInt8]?
    var clientKey: String?
    var seen: UInt16 = 0
    var unknownNames: Set<String>?
    /// The first problem found; once set, the rest of the object is only checked for syntax.
    var error: EventError?
    /// `error != nil`, cheap to test (comparing an optional struct with nil copies it).
    var failed = false

    @inline(__always)
    mutating func fail(_ error: @autoclosure () -> EventError) {
        if !failed {
            self.error = error()
            failed = true
        }
    }
}

extension EventParser {
    /// Parses the object at `scanner.pos` (a `{`) and leaves `scanner.pos` after its `}`.
    /// Throws only when the JSON itself is broken; problems with the event's content are returned.
    func parseEventObject(
        _ scanner: inout EventJSONScanner, receivedAtMicros: Int64
    ) throws(EventBodyFailure) -> Result<Event, EventError> {
        var values = EventFieldValues()
        scanner.pos += 1
        scanner.skipWhitespace()
        if scanner.peek == UInt8(ascii: "}") {
            scanner.pos += 1
        } else {
            while true {
                let key = try scanner.scanFieldName()
                try readField(key, &scanner, into: &values, receivedAtMicros: receivedAtMicros)
                if try scanner.nextElement(closing: UInt8(ascii: "}"), "expected ',' or '}' after a field") { continue }
                break
            }
        }
        return makeEvent(&values, receivedAtMicros: receivedAtMicros)
    }

    private func readField(
        _ key: EventJSONString, _ scanner: inout EventJSONScanner, into values: inout EventFieldValues,
        receivedAtMicros: Int64
    ) throws(EventBodyFailure) {
        guard key.isValid else {
            values.fail(EventError(
                code: EventError.Code.invalidUTF8, field: "body",
                message: "A field name contains invalid UTF-8 or an unpaired surrogate escape; send valid UTF-8."
            ))
            var info = EventJSONSkipInfo()
            try scanner.skipValue(depth: 1, info: &info)
            return
        }
        let field: EventField?
        var unknownName: String? = nil
        if !key.hasEscapes {
            field = EventField.match(scanner.base + key.start, count: key.end - key.start)
        } else {
            let name = scanner.makeString(key)
            field = EventField(name: name)
            unknownName = name
        }
        guard let field else {
            try readUnknownField(unknownName ?? scanner.makeString(key), &scanner, into: &values)
            return
        }
        if values.seen & field.bit != 0 {
            values.fail(Self.problem(EventError.Code.duplicateField, field.name))
            var info = EventJSONSkipInfo()
            try scanner.skipValue(depth: 1, info: &info)
            return
        }
        values.seen |= field.bit
        switch field {
        case .eventName:
            values.eventName = try readString(
                &scanner, field, maxBytes: limits.maxEventNameBytes, nullable: false, into: &values)
        case .channel:
            values.channel = try readString(
                &scanner, field, maxBytes: limits.maxChannelBytes, nullable: false, into: &values)
        case .userID:
            values.userID = try readString(
                &scanner, field, maxBytes: limits.maxUserIDBytes, nullable: false, into: &values)
        case .campaignID:
            values.campaignID = try readString(
                &scanner, field, maxBytes: limits.maxCampaignIDBytes, nullable: true, into: &values)
        case .idempotencyKey:
            values.clientKey = try readString(
                &scanner, field, maxBytes: limits.maxIdempotencyKeyBytes, nullable: true, into: &values)
        case .timestamp:
            values.timestampMicros = try readTimestamp(&scanner, into: &values, receivedAtMicros: receivedAtMicros)
        case .tags:
            try readTags(&scanner, into: &values)
        case .metadata:
            try readMetadata(&scanner, into: &values)
        }
    }

    private func readUnknownField(
        _ name: String, _ scanner: inout EventJSONScanner, into values: inout EventFieldValues
    ) throws(EventBodyFailure) {
        if !values.failed {
            if values.unknownNames == nil { values.unknownNames = [] }
            if !values.unknownNames!.insert(name).inserted {
                values.fail(Self.problem(EventError.Code.duplicateField, Self.displayName(name)))
            }
        }
        var info = EventJSONSkipInfo()
        try scanner.skipValue(depth: 1, info: &info)
        if info.invalidAt >= 0 {
            values.fail(Self.problem(EventError.Code.invalidUTF8, Self.displayName(name)))
        }
    }

    // MARK: field readers

    /// A string field; `nil` when it is null, when it is an empty `campaign_id`, or after a problem
    /// (recorded in `values`).
    func readString(
        _ scanner: inout EventJSONScanner, _ field: EventField, maxBytes: Int, nullable: Bool,
        into values: inout EventFieldValues
    ) throws(EventBodyFailure) -> String? {
        let c = scanner.peek
        if c == EventJSONBytes.quote {
            let token = try scanner.scanString()
            return acceptString(token, of: scanner, field, maxBytes: maxBytes, into: &values)
        }
        if c == UInt8(ascii: "n") && nullable {
            try scanner.scanLiteral("null")
            return nil
        }
        try skipWrongType(
            &scanner, field, expected: nullable ? "a string or null" : "a non-empty string", into: &values)
        return nil
    }

    /// The text of a scanned string token for `field`, or `nil` after recording why it cannot be
    /// (also `nil`, without a problem, for an empty `campaign_id`). The SDK mappers call it on
    /// tokens of the client's body, so an SDK event obeys exactly the rules of `POST /events`.
    func acceptString(
        _ token: EventJSONString, of scanner: EventJSONScanner, _ field: EventField, maxBytes: Int,
        into values: inout EventFieldValues
    ) -> String? {
        guard !values.failed else { return nil }
        guard token.isValid else {
            values.fail(Self.problem(EventError.Code.invalidUTF8, field.name))
            return nil
        }
        // The client's key is hashed, never stored, so U+0000 in it is harmless.
        if token.containsNUL && field != .idempotencyKey {
            values.fail(Self.problem(EventError.Code.invalidCharacter, field.name))
            return nil
        }
        if token.decodedCount == 0 {
            if field == .campaignID { return nil }
            values.fail(EventError(
                code: EventError.Code.empty, field: field.name,
                message: "\(field.name) must not be empty; send 1 to \(maxBytes) bytes of UTF-8."
            ))
            return nil
        }
        guard token.decodedCount <= maxBytes else {
            values.fail(EventError(
                code: EventError.Code.tooLong, field: field.name,
                message: "\(field.name) is \(token.decodedCount) bytes long; shorten it to at most \(maxBytes) bytes of UTF-8."
            ))
            return nil
        }
        return scanner.makeString(token)
    }

    func readTimestamp(
        _ scanner: inout EventJSONScanner, into values: inout EventFieldValues, receivedAtMicros: Int64
    ) throws(EventBodyFailure) -> Int64? {
        let c = scanner.peek
        let micros: Int64
        if c == EventJSONBytes.quote {
            let token = try scanner.scanString()
            guard !values.failed else { return nil }
            guard token.isValid else {
                values.fail(Self.problem(EventError.Code.invalidUTF8, "timestamp"))
                return nil
            }
            let parsed: Int64?
            if !token.hasEscapes {
                parsed = UTCTime.parseRFC3339(scanner.base + token.start, count: token.end - token.start)
            } else {
                parsed = scanner.makeBytes(token).withUnsafeBufferPointer { buffer in
                    buffer.baseAddress.flatMap { UTCTime.parseRFC3339($0, count: buffer.count) }
                }
            }
            guard let parsed else {
                values.fail(Self.invalidTimestamp(
                    "timestamp is not an RFC 3339 date-time; send Unix seconds as an integer, or a string such as \"2025-11-29T10:00:00Z\" or \"2025-11-29T10:00:00.123+03:00\"."
                ))
                return nil
            }
            micros = parsed
        } else if c == UInt8(ascii: "-") || EventJSONBytes.isDigit(c) {
            let number = try scanner.scanNumber()
            guard !values.failed else { return nil }
            guard number.isInteger else {
                values.fail(Self.invalidTimestamp(
                    "timestamp must be whole Unix seconds, without fraction or exponent; send an RFC 3339 string for sub-second precision."
                ))
                return nil
            }
            guard !number.negative || number.magnitude == 0 else {
                values.fail(Self.invalidTimestamp("timestamp must not be negative; send Unix seconds."))
                return nil
            }
            guard !number.overflow, number.magnitude <= UInt64(Int64.max / 1_000_000) else {
                values.fail(Self.invalidTimestamp("timestamp is far too large; send Unix seconds (not milliseconds)."))
                return nil
            }
            micros = Int64(number.magnitude) * 1_000_000
        } else {
            try skipWrongType(
                &scanner, .timestamp, expected: "Unix seconds as an integer or an RFC 3339 string", into: &values)
            return nil
        }
        return acceptTimestamp(micros, into: &values, receivedAtMicros: receivedAtMicros)
    }

    /// `micros` when it lies within the accepted window (not before `minTimestampSeconds`, at most
    /// `maxFutureSkewSeconds` after `receivedAtMicros`), else `nil` after recording the problem.
    func acceptTimestamp(_ micros: Int64, into values: inout EventFieldValues, receivedAtMicros: Int64) -> Int64? {
        guard !values.failed else { return nil }
        let (oldest, o1) = limits.minTimestampSeconds.multipliedReportingOverflow(by: 1_000_000)
        if micros < (o1 ? Int64.min : oldest) {
            values.fail(EventError(
                code: EventError.Code.timestampTooOld, field: "timestamp",
                message: "timestamp is before 2000-01-01T00:00:00Z; send when the event happened, as Unix seconds or RFC 3339."
            ))
            return nil
        }
        let (skew, o2) = limits.maxFutureSkewSeconds.multipliedReportingOverflow(by: 1_000_000)
        let (latest, o3) = receivedAtMicros.addingReportingOverflow(o2 ? Int64.max : skew)
        if micros > (o3 ? Int64.max : latest) {
            let ahead = (micros - receivedAtMicros) / 1_000_000
            values.fail(EventError(
                code: EventError.Code.timestampInFuture, field: "timestamp",
                message: "timestamp is \(ahead) s ahead of the server's clock (at most \(limits.maxFutureSkewSeconds) s allowed); send when the event happened, as Unix seconds (not milliseconds) or RFC 3339."
            ))
            return nil
        }
        return micros
    }

    func readTags(
        _ scanner: inout EventJSONScanner, into values: inout EventFieldValues
    ) throws(EventBodyFailure) {
        guard try opensContainer(&scanner, UInt8(ascii: "["), .tags, expected: "an array of strings", into: &values) else { return }
        scanner.pos += 1
        scanner.skipWhitespace()
        if scanner.peek == UInt8(ascii: "]") {
            scanner.pos += 1
            return
        }
        var tags: [String] = []
        var index = 0
        while true {
            if scanner.peek == EventJSONBytes.quote {
                let token = try scanner.scanString()
                if !values.failed {
                    if index >= limits.maxTags {
                        values.fail(EventError(
                            code: EventError.Code.tooMany, field: "tags",
                            message: "tags has more than \(limits.maxTags) entries; send at most \(limits.maxTags)."
                        ))
                    } else if !token.isValid {
                        values.fail(Self.problem(EventError.Code.invalidUTF8, "tags"))
                    } else if token.containsNUL {
                        values.fail(Self.problem(EventError.Code.invalidCharacter, "tags"))
                    } else if token.decodedCount == 0 {
                        values.fail(EventError(
                            code: EventError.Code.empty, field: "tags",
                            message: "tag \(index) is empty; each tag must be 1 to \(limits.maxTagBytes) bytes of UTF-8."
                        ))
                    } else if token.decodedCount > limits.maxTagBytes {
                        values.fail(EventError(
                            code: EventError.Code.tooLong, field: "tags",
                            message: "tag \(index) is \(token.decodedCount) bytes long; shorten each tag to at most \(limits.maxTagBytes) bytes of UTF-8."
                        ))
                    } else {
                        if tags.isEmpty { tags.reserveCapacity(4) }
                        tags.append(scanner.makeString(token))
                    }
                }
            } else {
                let type = try scanner.skipValueNamingType(depth: 2)
                values.fail(EventError(
                    code: EventError.Code.wrongType, field: "tags",
                    message: "tags must be an array of strings, but tag \(index) is \(type)."
                ))
            }
            index += 1
            if try scanner.nextElement(closing: UInt8(ascii: "]"), "expected ',' or ']' in tags") { continue }
            break
        }
        if !values.failed { values.tags = tags }
    }

    func readMetadata(
        _ scanner: inout EventJSONScanner, into values: inout EventFieldValues
    ) throws(EventBodyFailure) {
        guard try opensContainer(&scanner, UInt8(ascii: "{"), .metadata, expected: "a JSON object or null", into: &values) else { return }
        let start = scanner.pos
        var info = EventJSONSkipInfo()
        try scanner.skipValue(depth: 1, info: &info)
        if acceptMetadata(size: scanner.pos - start, info, into: &values) {
            values.metadata = [UInt8](UnsafeBufferPointer(start: scanner.base + start, count: scanner.pos - start))
        }
    }

    /// Whether a metadata object of `size` bytes, whose skipping found `info`, may be stored; when
    /// not, the problem is recorded in `values`.
    func acceptMetadata(size: Int, _ info: EventJSONSkipInfo, into values: inout EventFieldValues) -> Bool {
        guard !values.failed else { return false }
        if size > limits.maxMetadataBytes {
            values.fail(EventError(
                code: EventError.Code.tooLarge, field: "metadata",
                message: "metadata is \(size) bytes; keep it within \(limits.maxMetadataBytes) bytes."
            ))
        } else if info.maxDepth > limits.maxMetadataDepth {
            values.fail(EventError(
                code: EventError.Code.tooDeep, field: "metadata",
                message: "metadata nests \(info.maxDepth) levels deep; keep it within \(limits.maxMetadataDepth) levels."
            ))
        } else if info.invalidAt >= 0 {
            values.fail(Self.problem(EventError.Code.invalidUTF8, "metadata"))
        } else if info.containsNUL {
            values.fail(Self.problem(EventError.Code.invalidCharacter, "metadata"))
        } else if info.numberOutOfRange {
            values.fail(EventError(
                code: EventError.Code.outOfRange, field: "metadata",
                message: "metadata holds a number outside what PostgreSQL can store (at most 131072 digits before the decimal point and 16383 after, exponent applied); send it as a string."
            ))
        } else {
            return true
        }
        return false
    }

    /// Whether the optional field's value at `scanner.pos` is the container that `opening` starts;
    /// `null` (absent) and any other value (the wrong type, recorded) are skipped.
    private func opensContainer(
        _ scanner: inout EventJSONScanner, _ opening: UInt8, _ field: EventField, expected: String,
        into values: inout EventFieldValues
    ) throws(EventBodyFailure) -> Bool {
        let c = scanner.peek
        if c == UInt8(ascii: "n") {
            try scanner.scanLiteral("null")
            return false
        }
        guard c == opening else {
            try skipWrongType(&scanner, field, expected: expected, into: &values)
            return false
        }
        return true
    }

    private func skipWrongType(
        _ scanner: inout EventJSONScanner, _ field: EventField, expected: String, into values: inout EventFieldValues
    ) throws(EventBodyFailure) {
        let type = try scanner.skipValueNamingType(depth: 1)
        values.fail(EventError(
            code: EventError.Code.wrongType, field: field.name,
            message: "\(field.name) must be \(expected), but it is \(type)."
        ))
    }

    // MARK: assembly

    /// The event of `values`, or its first problem; `key` (an SDK message's own) instead of the key
    /// `values` would give.
    func makeEvent(_ values: inout EventFieldValues, receivedAtMicros: Int64, key given: IdempotencyKey? = nil) -> Result<Event, EventError> {
        if values.failed, let error = values.error { return .failure(error) }
        guard let eventName = values.eventName.take() else { return .failure(Self.missing(.eventName)) }
        guard let channel = values.channel.take() else { return .failure(Self.missing(.channel)) }
        guard let userID = values.userID.take() else { return .failure(Self.missing(.userID)) }
        guard let timestampMicros = values.timestampMicros else { return .failure(Self.missing(.timestamp)) }
        let campaignID = values.campaignID.take()
        let key: IdempotencyKey
        if let given {
            key = given
        } else if let clientKey = values.clientKey.take() {
            key = .client(clientKey)
        } else {
            key = .derived(
                userID: userID, eventName: eventName, channel: channel,
                timestampMicros: timestampMicros, campaignID: campaignID
            )
        }
        var tags: [String] = []
        swap(&tags, &values.tags)
        return .success(Event(
            eventName: eventName,
            channel: channel,
            campaignID: campaignID,
            userID: userID,
            timestampMicros: timestampMicros,
            tags: tags,
            metadataJSON: values.metadata.take(),
            idempotencyKey: key,
            receivedAtMicros: receivedAtMicros
        ))
    }

    // MARK: errors

    private static func missing(_ field: EventField) -> EventError {
        let what = switch field {
        case .timestamp: "Unix seconds as an integer or an RFC 3339 string such as \"2025-11-29T10:00:00Z\""
        default: "a non-empty string"
        }
        return EventError(
            code: EventError.Code.missingField, field: field.name,
            message: "\(field.name) is required; add it as \(what)."
        )
    }

    /// A problem with the value (or the name) of the field `name`, in the words `POST /events` uses:
    /// `duplicateField`, `invalidUTF8` or `invalidCharacter` (U+0000).
    private static func problem(_ code: EventError.Code, _ name: String) -> EventError {
        let message = switch code {
        case EventError.Code.duplicateField: "The field \"\(name)\" appears more than once; send it once."
        case EventError.Code.invalidUTF8: "\(name) contains invalid UTF-8 or an unpaired surrogate escape; send valid UTF-8."
        default: "\(name) contains the character U+0000, which cannot be stored; remove it."
        }
        return EventError(code: code, field: name, message: message)
    }

    private static func invalidTimestamp(_ message: String) -> EventError {
        EventError(code: EventError.Code.invalidTimestamp, field: "timestamp", message: message)
    }

    /// An unknown field's name as echoed in errors: at most 64 characters.
    private static func displayName(_ name: String) -> String {
        name.count <= 64 ? name : String(name.prefix(64)) + "…"
    }
}
