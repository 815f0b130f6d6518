// Parsing and validating event bodies: single events, `{"events": [...]}`, bare arrays and NDJSON.

/// Turns request bodies into validated `Event`s, or says precisely what is wrong with them.
///
/// Rules, beyond those `EventLimits` sets:
/// - Unknown fields are ignored (forward compatibility); a field named twice is rejected
///   (`duplicate_field`). Field names are compared after unescaping.
/// - `campaign_id`, `tags`, `metadata` and `idempotency_key` may be `null`, which means absent;
///   `campaign_id: ""` also means absent. Required fields may not be `null` (`wrong_type`).
/// - `timestamp` is whole Unix seconds (a JSON integer without fraction or exponent) or an RFC 3339
///   string; it may not lie more than `maxFutureSkewSeconds` after `receivedAtMicros`, nor before
///   `minTimestampSeconds`.
/// - Strings must be valid UTF-8 with paired surrogate escapes (`invalid_utf8`), and the strings that
///   PostgreSQL stores (everything but `idempotency_key`, `metadata` included) may not contain U+0000
///   (`invalid_character`): PostgreSQL's `text` and `jsonb` refuse it, and an accepted event that
///   cannot be inserted would stall replay.
/// - `metadata` is checked to be well-formed JSON but is otherwise kept verbatim; duplicate names
///   inside it are not checked.
/// - A syntax error anywhere makes the body (or the NDJSON line) `malformed_json` with field `body`,
///   and nesting deeper than 128 levels (or `maxMetadataDepth` + 8) anywhere is `nesting_too_deep`;
///   otherwise the first problem in document order is reported, then missing fields.
public struct EventParser: Sendable {
    public var limits: EventLimits

    public init(limits: EventLimits = .default) {
        self.limits = limits
    }

    // MARK: single events

    /// Parses one event: a JSON object, optionally surrounded by whitespace.
    public func parseEvent(_ body: UnsafeRawBufferPointer, receivedAtMicros: Int64) -> Result<Event, EventError> {
        guard let base = body.baseAddress, body.count > 0 else {
            return .failure(Self.emptyBody)
        }
        var scanner = EventJSONScanner(
            base: base.assumingMemoryBound(to: UInt8.self), count: body.count, nestingLimit: limits.hardNestingLimit
        )
        do {
            return try parseSingle(&scanner, receivedAtMicros: receivedAtMicros)
        } catch {
            return .failure(error.error)
        }
    }

    /// Parses one event from any contiguous bytes (`[UInt8]`, `ArraySlice<UInt8>`, `Data`, a
    /// `ByteBufferView`...); other collections are copied first.
    @inlinable
    public func parseEvent<Bytes: Collection<UInt8>>(_ body: Bytes, receivedAtMicros: Int64) -> Result<Event, EventError> {
        if let result = body.withContiguousStorageIfAvailable({
            parseEvent(UnsafeRawBufferPointer($0), receivedAtMicros: receivedAtMicros)
        }) {
            return result
        }
        return Array(body).withUnsafeBytes { parseEvent($0, receivedAtMicros: receivedAtMicros) }
    }

    // MARK: bulk

    /// Parses a bulk body.
    ///
    /// `.failure` when the body as a whole is unusable: malformed JSON anywhere in a `.json` body (an
    /// element of an array cannot be skipped reliably once the syntax is broken), a top level that is
    /// neither an array nor an object with an `events` array, more than `maxEventsPerBulk` events, or
    /// no events at all (`no_events`). Otherwise `.success`, with each event either valid or reported by
    /// index. In `.ndjson` every non-blank line stands alone: a malformed line is reported at its index.
    public func parseBulk(
        _ body: UnsafeRawBufferPointer, format: BulkFormat, receivedAtMicros: Int64
    ) -> Result<BulkParseResult, EventError> {
        guard let base = body.baseAddress, body.count > 0 else {
            return .failure(Self.noEvents)
        }
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        let result: BulkParseResult
        do {
            switch format {
            case .json:
                var scanner = EventJSONScanner(base: bytes, count: body.count, nestingLimit: limits.hardNestingLimit)
                result = try parseJSONBulk(&scanner, receivedAtMicros: receivedAtMicros)
            case .ndjson:
                result = try parseNDJSON(bytes, count: body.count, receivedAtMicros: receivedAtMicros)
            }
        } catch {
            return .failure(error.error)
        }
        if result.totalCount == 0 {
            return .failure(Self.noEvents)
        }
        return .success(result)
    }

    @inlinable
    public func parseBulk<Bytes: Collection<UInt8>>(
        _ body: Bytes, format: BulkFormat, receivedAtMicros: Int64
    ) -> Result<BulkParseResult, EventError> {
        if let result = body.withContiguousStorageIfAvailable({
            parseBulk(UnsafeRawBufferPointer($0), format: format, receivedAtMicros: receivedAtMicros)
        }) {
            return result
        }
        return Array(body).withUnsafeBytes { parseBulk($0, format: format, receivedAtMicros: receivedAtMicros) }
    }

    /// Whether the first byte that is not JSON whitespace is `[`: `POST /events` treats such a body as
    /// bulk.
    public static func startsWithJSONArray(_ body: UnsafeRawBufferPointer) -> Bool {
        for byte in body where !EventJSONBytes.isWhitespace(byte) {
            return byte == UInt8(ascii: "[")
        }
        return false
    }

    @inlinable
    public static func startsWithJSONArray<Bytes: Collection<UInt8>>(_ body: Bytes) -> Bool {
        for byte in body where !(byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09) {
            return byte == UInt8(ascii: "[")
        }
        return false
    }

    // MARK: -

    static let emptyBody = EventError(
        code: EventError.Code.malformedJSON, field: "body",
        message: "The body is empty; send one event as a JSON object."
    )

    static let noEvents = EventError(
        code: EventError.Code.noEvents, field: "events",
        message: "The body contains no events; send at least one event."
    )

    private func tooManyEvents() -> EventBodyFailure {
        EventBodyFailure(error: EventError(
            code: EventError.Code.tooManyEvents, field: "events",
            message: "A bulk body may hold at most \(limits.maxEventsPerBulk) events; split it into smaller requests."
        ))
    }

    /// One event object and nothing after it but whitespace.
    private func parseSingle(
        _ scanner: inout EventJSONScanner, receivedAtMicros: Int64
    ) throws(EventBodyFailure) -> Result<Event, EventError> {
        scanner.skipWhitespace()
        let result: Result<Event, EventError>
        switch scanner.peek {
        case UInt8(ascii: "{"):
            result = try parseEventObject(&scanner, receivedAtMicros: receivedAtMicros)
        case 0 where scanner.atEnd:
            throw EventBodyFailure(error: Self.emptyBody)
        default:
            let type = try scanner.skipValueNamingType(depth: 1)
            result = .failure(EventError(
                code: EventError.Code.wrongType, field: "body",
                message: "An event must be a JSON object, but the body is \(type)."
            ))
        }
        scanner.skipWhitespace()
        guard scanner.atEnd else {
            throw scanner.syntaxError("expected the end of the body after the event")
        }
        return result
    }

    private func parseJSONBulk(
        _ scanner: inout EventJSONScanner, receivedAtMicros: Int64
    ) throws(EventBodyFailure) -> BulkParseResult {
        var result = BulkParseResult()
        scanner.skipWhitespace()
        var shapeError: EventError? = nil
        switch scanner.peek {
        case UInt8(ascii: "["):
            try parseEventArray(&scanner, into: &result, receivedAtMicros: receivedAtMicros)
        case UInt8(ascii: "{"):
            scanner.pos += 1
            scanner.skipWhitespace()
            var sawEvents = false
            if scanner.peek == UInt8(ascii: "}") {
                scanner.pos += 1
            } else {
                while true {
                    let key = try scanner.scanFieldName()
                    if key.isValid && key.decodedCount == 6 && scanner.makeString(key) == "events" {
                        if sawEvents {
                            throw EventBodyFailure(error: EventError(
                                code: EventError.Code.duplicateField, field: "events",
                                message: "The field events appears twice; send it once."
                            ))
                        }
                        sawEvents = true
                        if scanner.peek == UInt8(ascii: "[") {
                            try parseEventArray(&scanner, into: &result, receivedAtMicros: receivedAtMicros)
                        } else {
                            let type = try scanner.skipValueNamingType(depth: 2)
                            if shapeError == nil {
                                shapeError = EventError(
                                    code: EventError.Code.wrongType, field: "events",
                                    message: "events must be an array of event objects, but it is \(type)."
                                )
                            }
                        }
                    } else {
                        var info = EventJSONSkipInfo()
                        try scanner.skipValue(depth: 2, info: &info)
                        if (!key.isValid || info.invalidAt >= 0) && shapeError == nil {
                            shapeError = EventError(
                                code: EventError.Code.invalidUTF8, field: "body",
                                message: "The body contains invalid UTF-8 or an unpaired surrogate escape; send valid UTF-8."
                            )
                        }
                    }
                    if try scanner.nextElement(closing: UInt8(ascii: "}"), "expected ',' or '}' in an object") { continue }
                    break
                }
            }
            if !sawEvents && shapeError == nil {
                shapeError = EventError(
                    code: EventError.Code.missingField, field: "events",
                    message: "A bulk body must be a JSON array of events or an object with an events array."
                )
            }
        case 0 where scanner.atEnd:
            throw EventBodyFailure(error: Self.noEvents)
        default:
            let type = try scanner.skipValueNamingType(depth: 1)
            shapeError = EventError(
                code: EventError.Code.wrongType, field: "body",
                message: "A bulk body must be a JSON array of events or an object with an events array, but it is \(type)."
            )
        }
        scanner.skipWhitespace()
        guard scanner.atEnd else {
            throw scanner.syntaxError("expected the end of the body")
        }
        if let shapeError { throw EventBodyFailure(error: shapeError) }
        return result
    }

    /// The array at `scanner.pos`, each element an event.
    private func parseEventArray(
        _ scanner: inout EventJSONScanner, into result: inout BulkParseResult, receivedAtMicros: Int64
    ) throws(EventBodyFailure) {
        scanner.pos += 1
        scanner.skipWhitespace()
        if scanner.peek == UInt8(ascii: "]") {
            scanner.pos += 1
            return
        }
        let estimate = min(limits.maxEventsPerBulk, (scanner.end - scanner.pos) / 128 + 1)
        result.events.reserveCapacity(estimate)
        result.eventIndexes.reserveCapacity(estimate)
        var index = 0
        while true {
            guard index < limits.maxEventsPerBulk else { throw tooManyEvents() }
            if scanner.peek == UInt8(ascii: "{") {
                result.append(try parseEventObject(&scanner, receivedAtMicros: receivedAtMicros), index: index)
            } else {
                let type = try scanner.skipValueNamingType(depth: 2)
                result.errors.append(BulkEventError(
                    index: index, field: "body", code: EventError.Code.wrongType,
                    message: "Each event must be a JSON object, but this one is \(type)."
                ))
            }
            index += 1
            if try scanner.nextElement(closing: UInt8(ascii: "]"), "expected ',' or ']' after an event") { continue }
            return
        }
    }

    private func parseNDJSON(
        _ bytes: UnsafePointer<UInt8>, count: Int, receivedAtMicros: Int64
    ) throws(EventBodyFailure) -> BulkParseResult {
        var result = BulkParseResult()
        let estimate = min(limits.maxEventsPerBulk, count / 128 + 1)
        result.events.reserveCapacity(estimate)
        result.eventIndexes.reserveCapacity(estimate)
        var index = 0
        var lineStart = 0
        while lineStart < count {
            var firstNonBlank = lineStart
            while firstNonBlank < count, bytes[firstNonBlank] != 0x0A, EventJSONBytes.isWhitespace(bytes[firstNonBlank]) {
                firstNonBlank += 1
            }
            let lineEnd = EventJSONBytes.firstIndex(of: 0x0A, in: bytes, from: firstNonBlank, end: count)
            if firstNonBlank < lineEnd {
                guard index < limits.maxEventsPerBulk else { throw tooManyEvents() }
                var scanner = EventJSONScanner(
                    base: bytes + lineStart, count: lineEnd - lineStart, nestingLimit: limits.hardNestingLimit
                )
                let outcome: Result<Event, EventError>
                do {
                    outcome = try parseSingle(&scanner, receivedAtMicros: receivedAtMicros)
                } catch {
                    outcome = .failure(error.error)
                }
                result.append(outcome, index: index)
                index += 1
            }
            lineStart = lineEnd + 1
        }
        return result
    }
}
