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
                guard scanner.peek == EventJSONBytes.quote else {
                    throw scanner.syntaxError("expected a field name in double quotes")
                }
                let key = try scanner.scanString()
                scanner.skipWhitespace()
                try scanner.expect(UInt8(ascii: ":"), "expected ':' after a field name")
                scanner.skipWhitespace()
                try readField(key, &scanner, into: &values, receivedAtMicros: receivedAtMicros)
                if try scanner.nextElement(closing: UInt8(ascii: "}"), "expected ',' or '}' after a field") { continue }
                break
            }
        }
        return assemble(&values, receivedAtMicros: receivedAtMicros)
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
            values.fail(Self.duplicate(field.name))
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
                values.fail(Self.duplicate(Self.displayName(name)))
            }
        }
        var info = EventJSONSkipInfo()
        try scanner.skipValue(depth: 1, info: &info)
        if info.invalidAt >= 0 {
            values.fail(Self.invalidUTF8(Self.displayName(name)))
        }
    }

    // MARK: field readers

    /// A string field; `nil` when it is null, when it is an empty `campaign_id`, or after a problem
    /// (recorded in `values`).
    private func readString(
        _ scanner: inout EventJSONScanner, _ field: EventField, maxBytes: Int, nullable: Bool,
        into values: inout EventFieldValues
    ) throws(EventBodyFailure) -> String? {
        let c = scanner.peek
        if c == EventJSONBytes.quote {
            let token = try scanner.scanString()
            guard !values.failed else { return nil }
            guard token.isValid else {
                values.fail(Self.invalidUTF8(field.name))
                return nil
            }
            // The client's key is hashed, never stored, so U+0000 in it is harmless.
            if token.containsNUL && field != .idempotencyKey {
                values.fail(Self.nul(field.name))
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
        if c == UInt8(ascii: "n") && nullable {
            try scanner.scanLiteral("null")
            return nil
        }
        try skipWrongType(
            &scanner, field, expected: nullable ? "a string or null" : "a non-empty string", into: &values)
        return nil
    }

    private func readTimestamp(
        _ scanner: inout EventJSONScanner, into values: inout EventFieldValues, receivedAtMicros: Int64
    ) throws(EventBodyFailure) -> Int64? {
        let c = scanner.peek
        let micros: Int64
        if c == EventJSONBytes.quote {
            let token = try scanner.scanString()
            guard !values.failed else { return nil }
            guard token.isValid else {
                values.fail(Self.invalidUTF8("timestamp"))
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

    private func readTags(
        _ scanner: inout EventJSONScanner, into values: inout EventFieldValues
    ) throws(EventBodyFailure) {
        let c = scanner.peek
        if c == UInt8(ascii: "n") {
            try scanner.scanLiteral("null")
            return
        }
        guard c == UInt8(ascii: "[") else {
            try skipWrongType(&scanner, .tags, expected: "an array of strings", into: &values)
            return
        }
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
                        values.fail(Self.invalidUTF8("tags"))
                    } else if token.containsNUL {
                        values.fail(Self.nul("tags"))
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
                let first = scanner.peek
                var info = EventJSONSkipInfo()
                try scanner.skipValue(depth: 2, info: &info)
                values.fail(EventError(
                    code: EventError.Code.wrongType, field: "tags",
                    message: "tags must be an array of strings, but tag \(index) is \(EventJSONBytes.typeName(startingWith: first))."
                ))
            }
            index += 1
            if try scanner.nextElement(closing: UInt8(ascii: "]"), "expected ',' or ']' in tags") { continue }
            break
        }
        if !values.failed { values.tags = tags }
    }

    private func readMetadata(
        _ scanner: inout EventJSONScanner, into values: inout EventFieldValues
    ) throws(EventBodyFailure) {
        let c = scanner.peek
        if c == UInt8(ascii: "n") {
            try scanner.scanLiteral("null")
            return
        }
        guard c == UInt8(ascii: "{") else {
            try skipWrongType(&scanner, .metadata, expected: "a JSON object or null", into: &values)
            return
        }
        let start = scanner.pos
        var info = EventJSONSkipInfo()
        try scanner.skipValue(depth: 1, info: &info)
        guard !values.failed else { return }
        let size = scanner.pos - start
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
            values.fail(Self.invalidUTF8("metadata"))
        } else if info.containsNUL {
            values.fail(Self.nul("metadata"))
        } else if info.numberOutOfRange {
            values.fail(EventError(
                code: EventError.Code.outOfRange, field: "metadata",
                message: "metadata holds a number outside what PostgreSQL can store (at most 131072 digits before the decimal point and 16383 after, exponent applied); send it as a string."
            ))
        } else {
            values.metadata = [UInt8](UnsafeBufferPointer(start: scanner.base + start, count: size))
        }
    }

    private func skipWrongType(
        _ scanner: inout EventJSONScanner, _ field: EventField, expected: String, into values: inout EventFieldValues
    ) throws(EventBodyFailure) {
        let first = scanner.peek
        var info = EventJSONSkipInfo()
        try scanner.skipValue(depth: 1, info: &info)
        values.fail(EventError(
            code: EventError.Code.wrongType, field: field.name,
            message: "\(field.name) must be \(expected), but it is \(EventJSONBytes.typeName(startingWith: first))."
        ))
    }

    // MARK: assembly

    private func assemble(_ values: inout EventFieldValues, receivedAtMicros: Int64) -> Result<Event, EventError> {
        if values.failed, let error = values.error { return .failure(error) }
        guard let eventName = values.eventName.take() else { return .failure(Self.missing(.eventName)) }
        guard let channel = values.channel.take() else { return .failure(Self.missing(.channel)) }
        guard let userID = values.userID.take() else { return .failure(Self.missing(.userID)) }
        guard let timestampMicros = values.timestampMicros else { return .failure(Self.missing(.timestamp)) }
        let campaignID = values.campaignID.take()
        let key: IdempotencyKey
        if let clientKey = values.clientKey.take() {
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

    private static func duplicate(_ name: String) -> EventError {
        EventError(
            code: EventError.Code.duplicateField, field: name,
            message: "The field \"\(name)\" appears more than once; send it once."
        )
    }

    private static func invalidUTF8(_ name: String) -> EventError {
        EventError(
            code: EventError.Code.invalidUTF8, field: name,
            message: "\(name) contains invalid UTF-8 or an unpaired surrogate escape; send valid UTF-8."
        )
    }

    private static func nul(_ name: String) -> EventError {
        EventError(
            code: EventError.Code.invalidCharacter, field: name,
            message: "\(name) contains the character U+0000, which cannot be stored; remove it."
        )
    }

    private static func invalidTimestamp(_ message: String) -> EventError {
        EventError(code: EventError.Code.invalidTimestamp, field: "timestamp", message: message)
    }

    /// An unknown field's name as echoed in errors: at most 64 characters.
    private static func displayName(_ name: String) -> String {
        name.count <= 64 ? name : String(name.prefix(64)) + "…"
    }
}
