// Reading a Segment batch in one pass: each message's bytes are checked and its fields listed as the
// validating scanner of `/events/bulk` walks them, instead of validating the whole body first and then
// walking every message, and its `context`, `properties` and `traits`, again to list their fields.

/// The fields the Segment mapper reads of one message: the message's own, and those of its first
/// `context`, `properties` and `traits` when they are objects (`[]` otherwise), in body order.
struct SegmentFieldLists {
    var fields: [RawField] = []
    var context: [RawField] = []
    var properties: [RawField] = []
    var traits: [RawField] = []

    init() {}

    /// The lists of `message`, read from a body `reader` has validated.
    init(of message: RawValue, reader: RawJSONReader) {
        fields = reader.fields(message)
        context = reader.value("context", in: fields).map(reader.fields) ?? []
        properties = reader.value("properties", in: fields).map(reader.fields) ?? []
        traits = reader.value("traits", in: fields).map(reader.fields) ?? []
    }

    /// Empties the lists and keeps their storage for the next message of the request.
    mutating func removeAll() {
        fields.removeAll(keepingCapacity: true)
        context.removeAll(keepingCapacity: true)
        properties.removeAll(keepingCapacity: true)
        traits.removeAll(keepingCapacity: true)
    }
}

extension EventParser {
    /// ``parseSegment(_:call:headerWriteKey:receivedAtMicros:)`` for the usual body, in one pass over
    /// each message; `nil` for any other body (malformed JSON or too deep anywhere, a top level that is
    /// not an object, no `batch` array, a bad batch `sentAt`, no messages or too many), which the
    /// general reader then parses and reports exactly as before. Whatever this returns, the general
    /// reader returns too (`SegmentOnePassTests` compares them).
    ///
    /// The messages are checked and mapped where `batch` stands, with the batch's `context` and
    /// `sentAt` read so far, and validated (`assemble`) once the body is read. A `sentAt` that follows
    /// `batch` (analytics-python sends it last) then corrects the timestamps that had none of their
    /// own; a non-empty `context` that follows it has the batch mapped again.
    func parseSegmentInOnePass(
        _ body: UnsafeRawBufferPointer, call: SegmentCall?, headerWriteKey: String?, receivedAtMicros: Int64
    ) -> Result<SDKBatch, EventError>? {
        let reader = RawJSONReader(body, nestingLimit: limits.hardNestingLimit)
        guard body.count > 0, limits.hardNestingLimit >= 3 else { return nil }
        var scanner = reader.makeScanner(at: 0)
        var lists = SegmentFieldLists()
        do throws(EventBodyFailure) {
            scanner.skipWhitespace()
            guard scanner.peek == UInt8(ascii: "{") else { return nil }
            if let call {
                // One message: the body is the message.
                let start = scanner.pos
                try Self.scanMessage(&scanner, depth: 1, reader: reader, into: &lists)
                let message = RawValue(start: start, end: scanner.pos)
                scanner.skipWhitespace()
                guard scanner.atEnd else { return nil }
                let writeKey = headerWriteKey ?? reader.value("writeKey", in: lists.fields).flatMap(reader.string)
                var result = BulkParseResult()
                let mapped = mapSegment(
                    message, lists: lists, call: call, outerContext: [], batchSentAtMicros: nil,
                    reader: reader, receivedAtMicros: receivedAtMicros
                )
                let scope = SDKKeyScope(dialect: .segment, writeKey: writeKey ?? "")
                result.append(mapped.flatMap { assemble($0, reader: reader, scope: scope, receivedAtMicros: receivedAtMicros) }, index: 0)
                return .success(SDKBatch(writeKey: writeKey, parsed: result))
            }
            // The top level, with each message checked and mapped where `batch` is found, from the
            // batch's `context` and `sentAt` read so far.
            var batch: RawValue?, context: RawValue?, sentAt: RawValue?, bodyWriteKey: RawValue?
            var contextAfterBatch = false, sentAtAfterBatch = false
            var mapped: [Result<MappedMessage, EventError>] = []
            try Self.forEachField(&scanner, depth: 1, reader: reader) { (scanner, field) throws(EventBodyFailure) in
                let start = scanner.pos
                if batch == nil, reader.hasName(field, "batch") {
                    guard scanner.peek == UInt8(ascii: "["),
                          case .some(let sent) = DialectRules.timestamp(sentAt, reader: reader)
                    else { throw Self.declined }
                    try mapBatch(
                        &scanner, outerContext: context.map(reader.fields) ?? [], batchSentAtMicros: sent,
                        reader: reader, lists: &lists, receivedAtMicros: receivedAtMicros, into: &mapped
                    )
                    batch = RawValue(start: start, end: scanner.pos)
                    return
                }
                var info = EventJSONSkipInfo()
                try scanner.skipValue(depth: 2, info: &info)
                let value = RawValue(start: start, end: scanner.pos)
                if context == nil, reader.hasName(field, "context") {
                    context = value
                    contextAfterBatch = batch != nil
                } else if sentAt == nil, reader.hasName(field, "sentAt") {
                    sentAt = value
                    sentAtAfterBatch = batch != nil
                } else if bodyWriteKey == nil, reader.hasName(field, "writeKey") {
                    bodyWriteKey = value
                }
            }
            scanner.skipWhitespace()
            guard scanner.atEnd, let batch, case .some(let batchSentAt) = DialectRules.timestamp(sentAt, reader: reader) else { return nil }
            let outerContext = context.map(reader.fields) ?? []
            if contextAfterBatch && !outerContext.isEmpty {
                // Mapped without it: again, now that it is known (the batch is checked already).
                var again = reader.makeScanner(at: batch.start)
                mapped.removeAll(keepingCapacity: true)
                try mapBatch(
                    &again, outerContext: outerContext, batchSentAtMicros: batchSentAt,
                    reader: reader, lists: &lists, receivedAtMicros: receivedAtMicros, into: &mapped
                )
            } else if sentAtAfterBatch, let batchSentAt {
                // Mapped as if without it: received − (sentAt − timestamp) = timestamp + (received − sentAt).
                for i in mapped.indices {
                    if case .success(var message) = mapped[i], message.batchSentAtApplies {
                        message.timestampMicros += receivedAtMicros - batchSentAt
                        mapped[i] = .success(message)
                    }
                }
            }
            let writeKey = headerWriteKey ?? bodyWriteKey.flatMap(reader.string)
            let scope = SDKKeyScope(dialect: .segment, writeKey: writeKey ?? "")
            var result = BulkParseResult()
            result.events.reserveCapacity(mapped.count)
            result.eventIndexes.reserveCapacity(mapped.count)
            for (index, message) in mapped.enumerated() {
                result.append(message.flatMap { assemble($0, reader: reader, scope: scope, receivedAtMicros: receivedAtMicros) }, index: index)
            }
            return .success(SDKBatch(writeKey: writeKey, parsed: result))
        } catch {
            return nil
        }
    }

    /// Thrown to leave a body to the general reader.
    private static let declined = EventBodyFailure(error: EventParser.emptyBody)

    /// Checks the batch array at `scanner.pos` (level 2) and maps each message (level 3) as it is
    /// read, into `mapped`; throws ``declined`` when it holds no messages or too many.
    private func mapBatch(
        _ scanner: inout EventJSONScanner, outerContext: [RawField], batchSentAtMicros: Int64?,
        reader: RawJSONReader, lists: inout SegmentFieldLists, receivedAtMicros: Int64,
        into mapped: inout [Result<MappedMessage, EventError>]
    ) throws(EventBodyFailure) {
        scanner.pos += 1
        scanner.skipWhitespace()
        guard scanner.peek != UInt8(ascii: "]") else { throw Self.declined }
        mapped.reserveCapacity(min(limits.maxEventsPerBulk, (scanner.end - scanner.pos) / 128 + 1))
        repeat {
            guard mapped.count < limits.maxEventsPerBulk else { throw Self.declined }
            let start = scanner.pos
            if scanner.peek == UInt8(ascii: "{") {
                try Self.scanMessage(&scanner, depth: 3, reader: reader, into: &lists)
            } else {
                lists.removeAll()
                var info = EventJSONSkipInfo()
                try scanner.skipValue(depth: 3, info: &info)
            }
            mapped.append(mapSegment(
                RawValue(start: start, end: scanner.pos), lists: lists, call: nil, outerContext: outerContext,
                batchSentAtMicros: batchSentAtMicros, reader: reader, receivedAtMicros: receivedAtMicros
            ))
        } while try scanner.nextElement(closing: UInt8(ascii: "]"), "expected ',' or ']' after a message")
    }

    /// Checks the message object at `scanner.pos` (nesting level `depth`) and lists its fields, and
    /// those of its first `context`, `properties` and `traits` if they are objects, in `lists`.
    static func scanMessage(
        _ scanner: inout EventJSONScanner, depth: Int, reader: RawJSONReader, into lists: inout SegmentFieldLists
    ) throws(EventBodyFailure) {
        lists.removeAll()
        var sawContext = false, sawProperties = false, sawTraits = false
        try forEachField(&scanner, depth: depth, reader: reader) { (scanner, field) throws(EventBodyFailure) in
            let start = scanner.pos
            let isObject = scanner.peek == UInt8(ascii: "{")
            // The first field of each name is the one the mapper reads, whatever its type.
            if !sawContext, reader.hasName(field, "context") {
                sawContext = true
                if isObject { try listFields(&scanner, depth: depth + 1, reader: reader, into: &lists.context) }
            } else if !sawProperties, reader.hasName(field, "properties") {
                sawProperties = true
                if isObject { try listFields(&scanner, depth: depth + 1, reader: reader, into: &lists.properties) }
            } else if !sawTraits, reader.hasName(field, "traits") {
                sawTraits = true
                if isObject { try listFields(&scanner, depth: depth + 1, reader: reader, into: &lists.traits) }
            }
            if scanner.pos == start {
                var info = EventJSONSkipInfo()
                try scanner.skipValue(depth: depth + 1, info: &info)
            }
            var listed = field
            listed.value = RawValue(start: start, end: scanner.pos)
            lists.fields.append(listed)
        }
    }

    /// Checks the object at `scanner.pos` (level `depth`) and appends its fields to `list`.
    private static func listFields(
        _ scanner: inout EventJSONScanner, depth: Int, reader: RawJSONReader, into list: inout [RawField]
    ) throws(EventBodyFailure) {
        try forEachField(&scanner, depth: depth, reader: reader) { (scanner, field) throws(EventBodyFailure) in
            let start = scanner.pos
            var info = EventJSONSkipInfo()
            try scanner.skipValue(depth: depth + 1, info: &info)
            var listed = field
            listed.value = RawValue(start: start, end: scanner.pos)
            list.append(listed)
        }
    }

    /// Checks the object at `scanner.pos` (a `{` at nesting level `depth`) field by field: `visit` gets
    /// each field's name (its `value` not yet known) with the scanner at the value, and must leave the
    /// scanner after it.
    private static func forEachField(
        _ scanner: inout EventJSONScanner, depth: Int, reader: RawJSONReader,
        _ visit: (inout EventJSONScanner, RawField) throws(EventBodyFailure) -> Void
    ) throws(EventBodyFailure) {
        guard depth <= scanner.nestingLimit else { throw scanner.nestingError() }
        scanner.pos += 1
        scanner.skipWhitespace()
        if scanner.peek == UInt8(ascii: "}") {
            scanner.pos += 1
            return
        }
        repeat {
            let nameStart = scanner.pos
            let key = try scanner.scanFieldName()
            let field = RawField(
                name: key, nameSpan: RawValue(start: nameStart, end: key.end + 1),
                value: RawValue(start: scanner.pos, end: scanner.pos), plainName: reader.isPlain(key)
            )
            try visit(&scanner, field)
        } while try scanner.nextElement(closing: UInt8(ascii: "}"), "expected ',' or '}' in an object")
    }
}
