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
    /// A batch's `context` and `sentAt` may follow `batch` (analytics-python sends `sentAt` last), so
    /// the top level is read first with `batch` only bracket-matched; the messages are then checked
    /// and mapped in one walk, and that walk must end where the bracket matching did.
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
            guard let top = try Self.scanBatchTopLevel(&scanner, reader: reader) else { return nil }
            let writeKey = headerWriteKey ?? top.writeKey.flatMap(reader.string)
            let outerContext = top.context.map(reader.fields) ?? []
            guard case .some(let batchSentAt) = DialectRules.timestamp(top.sentAt, reader: reader) else { return nil }

            // The messages, each checked (at level 3: body, batch, message) and mapped as it is read.
            var messages = reader.makeScanner(at: top.batch.start + 1)
            messages.skipWhitespace()
            guard messages.peek != UInt8(ascii: "]") else { return nil }  // no messages
            var result = BulkParseResult()
            let estimate = min(limits.maxEventsPerBulk, (top.batch.end - top.batch.start) / 128 + 1)
            result.events.reserveCapacity(estimate)
            result.eventIndexes.reserveCapacity(estimate)
            let scope = SDKKeyScope(dialect: .segment, writeKey: writeKey ?? "")
            var index = 0
            repeat {
                guard index < limits.maxEventsPerBulk else { return nil }  // too many
                let start = messages.pos
                if messages.peek == UInt8(ascii: "{") {
                    try Self.scanMessage(&messages, depth: 3, reader: reader, into: &lists)
                } else {
                    lists.removeAll()
                    var info = EventJSONSkipInfo()
                    try messages.skipValue(depth: 3, info: &info)
                }
                let mapped = mapSegment(
                    RawValue(start: start, end: messages.pos), lists: lists, call: nil, outerContext: outerContext,
                    batchSentAtMicros: batchSentAt, reader: reader, receivedAtMicros: receivedAtMicros
                )
                result.append(mapped.flatMap { assemble($0, reader: reader, scope: scope, receivedAtMicros: receivedAtMicros) }, index: index)
                index += 1
            } while try messages.nextElement(closing: UInt8(ascii: "]"), "expected ',' or ']' after a message")
            // The checked walk and the bracket matching must agree, or the batch was not well-formed.
            guard messages.pos == top.batch.end else { return nil }
            return .success(SDKBatch(writeKey: writeKey, parsed: result))
        } catch {
            return nil
        }
    }

    /// What the top level of a batch body holds: the first `batch` (an array, only bracket-matched),
    /// `context`, `sentAt` and `writeKey` (checked). `nil` when there is no `batch` array or something
    /// follows the object.
    private static func scanBatchTopLevel(
        _ scanner: inout EventJSONScanner, reader: RawJSONReader
    ) throws(EventBodyFailure) -> (batch: RawValue, context: RawValue?, sentAt: RawValue?, writeKey: RawValue?)? {
        var batch: RawValue?, context: RawValue?, sentAt: RawValue?, writeKey: RawValue?
        var sawBatch = false
        try forEachField(&scanner, depth: 1, reader: reader) { (scanner, field) throws(EventBodyFailure) in
            let start = scanner.pos
            if !sawBatch, reader.hasName(field, "batch") {
                sawBatch = true
                if scanner.peek == UInt8(ascii: "[") {
                    guard let end = reader.bracketEnd(ofContainerAt: start) else { throw scanner.syntaxError("unclosed batch") }
                    scanner.pos = end
                    batch = RawValue(start: start, end: end)
                    return
                }
            }
            var info = EventJSONSkipInfo()
            try scanner.skipValue(depth: 2, info: &info)
            let value = RawValue(start: start, end: scanner.pos)
            if context == nil, reader.hasName(field, "context") { context = value }
            else if sentAt == nil, reader.hasName(field, "sentAt") { sentAt = value }
            else if writeKey == nil, reader.hasName(field, "writeKey") { writeKey = value }
        }
        scanner.skipWhitespace()
        guard scanner.atEnd, let batch else { return nil }
        return (batch, context, sentAt, writeKey)
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

extension RawJSONReader {
    /// After the bracket that closes the array or object at `start`, matching brackets outside
    /// strings; `nil` when the body ends first. Nothing else is checked: the caller checks the value.
    func bracketEnd(ofContainerAt start: Int) -> Int? {
        var i = start
        var depth = 0
        while i < count {
            let c = base[i]
            if c == EventJSONBytes.quote {
                i &+= 1
                while true {
                    i = EventJSONBytes.skipPlainStringWords(in: base, from: i, end: count)
                    guard i < count else { return nil }
                    let s = base[i]
                    i &+= s == EventJSONBytes.backslash ? 2 : 1
                    if s == EventJSONBytes.quote { break }
                }
                continue
            }
            if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
                depth &+= 1
            } else if c == UInt8(ascii: "}") || c == UInt8(ascii: "]") {
                depth &-= 1
                if depth == 0 { return i &+ 1 }
            }
            i &+= 1
        }
        return nil
    }
}
