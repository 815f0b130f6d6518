// Reading a Segment batch in one pass: each message's bytes are checked, and the fields the mapper
// reads picked, as the validating scanner of `/events/bulk` walks them, instead of validating the whole
// body first and then walking every message, and its `context`, `properties` and `traits`, again.

/// The fields the Segment mapper reads of one message: the value of the first of its own fields of
/// each name it reads, and the fields of its first `context`, `properties` and `traits` when they are
/// objects (`[]` otherwise), in body order.
struct SegmentFieldLists {
    var context: [RawField] = []
    var properties: [RawField] = []
    var traits: [RawField] = []
    /// What checking the message found in every name and value it holds (nesting levels counted from
    /// the body's top), so that its metadata, made of those bytes, need not be checked again.
    var info = EventJSONSkipInfo()
    /// The value of the first field of each name the mapper reads (`start` -1: none), kept as the
    /// fields are read, so that the mapper does not search them name by name.
    private var firstValues = InlineArray<17, RawValue>(repeating: RawValue(start: -1, end: -1))
    /// The slot in `firstValues` of the field read last, if it was the first of its name; else -1.
    private var lastFirst = -1

    init() {}

    /// The lists of `message`, read from a body `reader` has validated.
    init(of message: RawValue, reader: RawJSONReader) {
        for field in reader.fields(message) { _ = add(field, reader: reader) }
        context = value(.context).map(reader.fields) ?? []
        properties = value(.properties).map(reader.fields) ?? []
        traits = value(.traits).map(reader.fields) ?? []
    }

    /// Reads a field of the message; returns its name when it is the first field of that name.
    mutating func add(_ field: RawField, reader: RawJSONReader) -> SegmentFieldName? {
        lastFirst = -1
        guard let name = SegmentFieldName(of: field, reader: reader), firstValues[name.rawValue].start < 0 else { return nil }
        firstValues[name.rawValue] = field.value
        lastFirst = name.rawValue
        return name
    }

    /// The value of the first field named `name`: what `reader.value(name.literal, in: fields)`
    /// gives for the message's fields.
    func value(_ name: SegmentFieldName) -> RawValue? {
        let value = firstValues[name.rawValue]
        return value.start < 0 ? nil : value
    }

    /// The list of the object field `name` (`context`, `properties` or `traits`).
    subscript(listOf name: SegmentFieldName) -> [RawField] {
        get { name == .context ? context : name == .properties ? properties : traits }
        set {
            switch name {
            case .context: context = newValue
            case .properties: properties = newValue
            default: traits = newValue
            }
        }
    }

    /// Where the value of the field read last ends, once it is read.
    mutating func setLastValueEnd(_ end: Int) {
        if lastFirst >= 0 { firstValues[lastFirst].end = end }
    }

    /// Empties the lists and keeps their storage for the next message of the request.
    mutating func removeAll() {
        context.removeAll(keepingCapacity: true)
        properties.removeAll(keepingCapacity: true)
        traits.removeAll(keepingCapacity: true)
        firstValues = InlineArray(repeating: RawValue(start: -1, end: -1))
        lastFirst = -1
        info = EventJSONSkipInfo()
    }
}

/// The names of a Segment message's fields that the mapper reads.
enum SegmentFieldName: Int, CaseIterable {
    case type, event, userId, anonymousId, context, properties, traits, channel, timestamp, originalTimestamp
    case sentAt, messageId, name, category, groupId, previousId, writeKey

    var literal: StaticString {
        switch self {
        case .type: "type"
        case .event: "event"
        case .userId: "userId"
        case .anonymousId: "anonymousId"
        case .context: "context"
        case .properties: "properties"
        case .traits: "traits"
        case .channel: "channel"
        case .timestamp: "timestamp"
        case .originalTimestamp: "originalTimestamp"
        case .sentAt: "sentAt"
        case .messageId: "messageId"
        case .name: "name"
        case .category: "category"
        case .groupId: "groupId"
        case .previousId: "previousId"
        case .writeKey: "writeKey"
        }
    }

    /// The name `field` has, as `RawJSONReader.hasName` compares names: a plain name by its length and
    /// bytes, any other (escapes, non-ASCII) as a String.
    init?(of field: RawField, reader: RawJSONReader) {
        if field.plainName {
            let count = field.name.end - field.name.start
            let p = reader.base + field.name.start
            func named(_ candidate: SegmentFieldName) -> Bool {
                let literal = candidate.literal
                guard literal.utf8CodeUnitCount == count else { return false }
                for i in 0..<count where p[i] != literal.utf8Start[i] { return false }
                return true
            }
            let match: SegmentFieldName? = switch count {
            case 4: named(.type) ? .type : named(.name) ? .name : nil
            case 5: named(.event) ? .event : nil
            case 6: named(.userId) ? .userId : named(.traits) ? .traits : named(.sentAt) ? .sentAt : nil
            case 7: named(.context) ? .context : named(.channel) ? .channel : named(.groupId) ? .groupId : nil
            case 8: named(.category) ? .category : named(.writeKey) ? .writeKey : nil
            case 9: named(.timestamp) ? .timestamp : named(.messageId) ? .messageId : nil
            case 10: named(.properties) ? .properties : named(.previousId) ? .previousId : nil
            case 11: named(.anonymousId) ? .anonymousId : nil
            case 17: named(.originalTimestamp) ? .originalTimestamp : nil
            default: nil
            }
            guard let match else { return nil }
            self = match
        } else {
            guard let match = Self.allCases.first(where: { reader.hasName(field, $0.literal) }) else { return nil }
            self = match
        }
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
                let writeKey = headerWriteKey ?? lists.value(.writeKey).flatMap(reader.string)
                var result = BulkParseResult()
                let mapped = mapSegment(
                    message, lists: lists, call: call, outerContext: [], batchSentAtMicros: nil, reader: reader,
                    receivedAtMicros: receivedAtMicros, metadataDepthBound: Self.metadataDepthBound(lists.info, messageDepth: 1, outer: nil)
                )
                let scope = SDKKeyScope(dialect: .segment, writeKey: writeKey ?? "")
                result.append(mapped.flatMap { assemble($0, reader: reader, scope: scope, receivedAtMicros: receivedAtMicros) }, index: 0)
                return .success(SDKBatch(writeKey: writeKey, parsed: result))
            }
            // The top level, with each message checked and mapped where `batch` is found, from the
            // batch's `context` and `sentAt` read so far.
            var batch: RawValue?, context: RawValue?, sentAt: RawValue?, bodyWriteKey: RawValue?
            var contextAfterBatch = false, sentAtAfterBatch = false
            var contextInfo = EventJSONSkipInfo()
            var mapped: [Result<MappedMessage, EventError>] = []
            try Self.forEachField(&scanner, depth: 1, reader: reader) { (scanner, field) throws(EventBodyFailure) in
                let start = scanner.pos
                if batch == nil, reader.hasName(field, "batch") {
                    guard scanner.peek == UInt8(ascii: "["),
                          case .some(let sent) = DialectRules.timestamp(sentAt, reader: reader)
                    else { throw Self.declined }
                    try mapBatch(
                        &scanner, outerContext: context.map(reader.fields) ?? [], outerInfo: contextInfo, batchSentAtMicros: sent,
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
                    contextInfo = info
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
                    &again, outerContext: outerContext, outerInfo: contextInfo, batchSentAtMicros: batchSentAt,
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
            for index in mapped.indices {
                switch mapped[index] {
                case .success(let message):
                    result.append(assemble(message, reader: reader, scope: scope, receivedAtMicros: receivedAtMicros), index: index)
                case .failure(let error):
                    result.append(.failure(error), index: index)
                }
            }
            return .success(SDKBatch(writeKey: writeKey, parsed: result))
        } catch {
            return nil
        }
    }

    /// ``MappedMessage/metadataDepthBound`` of a message, when what checking it (at level
    /// `messageDepth`) and the batch's `context` (`outer`, when merged) found leaves nothing for the
    /// metadata check to find but its depth: no ill-formed UTF-8, U+0000 or number PostgreSQL cannot
    /// hold anywhere in them. A message value at level `messageDepth + 1` is a metadata part at
    /// level 2, and the batch's context is at level 2 in both.
    private static func metadataDepthBound(_ info: EventJSONSkipInfo, messageDepth: Int, outer: EventJSONSkipInfo?) -> Int? {
        func clean(_ info: EventJSONSkipInfo) -> Bool { info.invalidAt < 0 && !info.containsNUL && !info.numberOutOfRange }
        guard clean(info), outer.map(clean) != false else { return nil }
        return max(1, info.maxDepth - messageDepth + 1, outer?.maxDepth ?? 0)
    }

    /// Thrown to leave a body to the general reader.
    private static let declined = EventBodyFailure(error: EventParser.emptyBody)

    /// Checks the batch array at `scanner.pos` (level 2) and maps each message (level 3) as it is
    /// read, into `mapped`; throws ``declined`` when it holds no messages or too many.
    private func mapBatch(
        _ scanner: inout EventJSONScanner, outerContext: [RawField], outerInfo: EventJSONSkipInfo, batchSentAtMicros: Int64?,
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
                try scanner.skipValue(depth: 3, info: &lists.info)
            }
            mapped.append(mapSegment(
                RawValue(start: start, end: scanner.pos), lists: lists, call: nil, outerContext: outerContext,
                batchSentAtMicros: batchSentAtMicros, reader: reader, receivedAtMicros: receivedAtMicros,
                metadataDepthBound: Self.metadataDepthBound(lists.info, messageDepth: 3, outer: outerContext.isEmpty ? nil : outerInfo)
            ))
        } while try scanner.nextElement(closing: UInt8(ascii: "]"), "expected ',' or ']' after a message")
    }

    /// Checks the message object at `scanner.pos` (nesting level `depth`) and lists its fields, and
    /// those of its first `context`, `properties` and `traits` if they are objects, in `lists`.
    static func scanMessage(
        _ scanner: inout EventJSONScanner, depth: Int, reader: RawJSONReader, into lists: inout SegmentFieldLists
    ) throws(EventBodyFailure) {
        lists.removeAll()
        try forEachField(&scanner, depth: depth, reader: reader) { (scanner, field) throws(EventBodyFailure) in
            let start = scanner.pos
            lists.info.note(field.name)
            // Read before its value is (the value's end is set after), to know its name.
            let name = lists.add(field, reader: reader)
            // The first field of each name is the one the mapper reads, whatever its type.
            if scanner.peek == UInt8(ascii: "{"), let name, name == .context || name == .properties || name == .traits {
                var inner: [RawField] = []
                swap(&inner, &lists[listOf: name])
                try listFields(&scanner, depth: depth + 1, reader: reader, into: &inner, info: &lists.info)
                swap(&inner, &lists[listOf: name])
            } else {
                try scanner.skipValue(depth: depth + 1, info: &lists.info)
            }
            lists.setLastValueEnd(scanner.pos)
        }
    }

    /// Checks the object at `scanner.pos` (level `depth`) and appends its fields to `list`, and what
    /// checking them found to `info`.
    private static func listFields(
        _ scanner: inout EventJSONScanner, depth: Int, reader: RawJSONReader, into list: inout [RawField],
        info: inout EventJSONSkipInfo
    ) throws(EventBodyFailure) {
        info.maxDepth = max(info.maxDepth, depth)
        try forEachField(&scanner, depth: depth, reader: reader) { (scanner, field) throws(EventBodyFailure) in
            let start = scanner.pos
            info.note(field.name)
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
