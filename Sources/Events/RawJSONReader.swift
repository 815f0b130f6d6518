// Reading a JSON body by position, for the SDK dialects (Segment, PostHog): their messages are mapped
// onto our event by copying values byte for byte, so strings and numbers are never re-encoded.

/// Where one JSON value lies in a body: `start..<end`.
struct RawValue {
    var start: Int
    var end: Int
}

/// A field of a JSON object: its name (unescaped), where the quoted name lies, and its value.
struct RawField {
    var name: String
    var nameSpan: RawValue
    var value: RawValue
}

/// Walks a body that `validate()` has checked once as a whole, so later walks cannot fail.
struct RawJSONReader {
    let base: UnsafePointer<UInt8>
    let count: Int
    let nestingLimit: Int

    init(_ body: UnsafeRawBufferPointer, nestingLimit: Int) {
        // An empty body still needs a valid pointer; `validate` rejects it before any read.
        self.base = body.baseAddress.map { $0.assumingMemoryBound(to: UInt8.self) } ?? UnsafePointer(bitPattern: 1)!
        self.count = body.count
        self.nestingLimit = nestingLimit
    }

    private func makeScanner(at position: Int) -> EventJSONScanner {
        var scanner = EventJSONScanner(base: base, count: count, nestingLimit: nestingLimit)
        scanner.pos = position
        return scanner
    }

    /// Checks the whole body is one well-formed JSON value (syntax and nesting) and returns it.
    func validate() throws(EventBodyFailure) -> RawValue {
        var scanner = makeScanner(at: 0)
        scanner.skipWhitespace()
        if scanner.atEnd { throw EventBodyFailure(error: EventParser.emptyBody) }
        let start = scanner.pos
        var info = EventJSONSkipInfo()
        try scanner.skipValue(depth: 1, info: &info)
        let end = scanner.pos
        scanner.skipWhitespace()
        guard scanner.atEnd else { throw scanner.syntaxError("expected the end of the body") }
        return RawValue(start: start, end: end)
    }

    func first(_ value: RawValue) -> UInt8 { base[value.start] }
    func isObject(_ value: RawValue) -> Bool { first(value) == UInt8(ascii: "{") }
    func isArray(_ value: RawValue) -> Bool { first(value) == UInt8(ascii: "[") }
    func isString(_ value: RawValue) -> Bool { first(value) == EventJSONBytes.quote }
    func isNumber(_ value: RawValue) -> Bool {
        let c = first(value)
        return c == UInt8(ascii: "-") || EventJSONBytes.isDigit(c)
    }
    func isNull(_ value: RawValue) -> Bool { first(value) == UInt8(ascii: "n") }

    func bytes(_ value: RawValue) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: base + value.start, count: value.end - value.start)
    }

    /// The fields of the object at `value`, in body order; `[]` for anything else.
    func fields(_ value: RawValue) -> [RawField] {
        guard isObject(value) else { return [] }
        var scanner = makeScanner(at: value.start + 1)
        var out: [RawField] = []
        do {
            scanner.skipWhitespace()
            if scanner.peek == UInt8(ascii: "}") { return [] }
            while true {
                let nameStart = scanner.pos
                let key = try scanner.scanString()
                let nameSpan = RawValue(start: nameStart, end: scanner.pos)
                scanner.skipWhitespace()
                try scanner.expect(UInt8(ascii: ":"), "expected ':'")
                scanner.skipWhitespace()
                let start = scanner.pos
                var info = EventJSONSkipInfo()
                try scanner.skipValue(depth: 1, info: &info)
                out.append(RawField(name: scanner.makeString(key), nameSpan: nameSpan, value: RawValue(start: start, end: scanner.pos)))
                if try scanner.nextElement(closing: UInt8(ascii: "}"), "expected ',' or '}'") { continue }
                break
            }
        } catch {
            // Unreachable after `validate()`: the object was checked as part of the body.
        }
        return out
    }

    /// The elements of the array at `value`; `[]` for anything else.
    func elements(_ value: RawValue) -> [RawValue] {
        guard isArray(value) else { return [] }
        var scanner = makeScanner(at: value.start + 1)
        var out: [RawValue] = []
        do {
            scanner.skipWhitespace()
            if scanner.peek == UInt8(ascii: "]") { return [] }
            while true {
                let start = scanner.pos
                var info = EventJSONSkipInfo()
                try scanner.skipValue(depth: 1, info: &info)
                out.append(RawValue(start: start, end: scanner.pos))
                if try scanner.nextElement(closing: UInt8(ascii: "]"), "expected ',' or ']'") { continue }
                break
            }
        } catch {
            // Unreachable after `validate()`.
        }
        return out
    }

    /// The unescaped text of the string at `value`, or `nil` when it is not a (valid UTF-8) string.
    func string(_ value: RawValue) -> String? {
        guard isString(value) else { return nil }
        var scanner = makeScanner(at: value.start)
        guard let token = try? scanner.scanString(), token.isValid, !token.containsNUL else { return nil }
        return scanner.makeString(token)
    }
}

extension [RawField] {
    /// The value of the first field named `name`.
    func value(_ name: String) -> RawValue? {
        first { $0.name == name }?.value
    }
}

/// Appending JSON text to a byte buffer.
enum JSONOut {
    static func append(_ text: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    static func appendQuoted(_ string: String, to out: inout [UInt8]) {
        out.append(EventJSONBytes.quote)
        for byte in string.utf8 {
            switch byte {
            case EventJSONBytes.quote, EventJSONBytes.backslash:
                out.append(EventJSONBytes.backslash)
                out.append(byte)
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [EventJSONBytes.backslash, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            default:
                out.append(byte)
            }
        }
        out.append(EventJSONBytes.quote)
    }
}
