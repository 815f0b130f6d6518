// Reading a JSON body by position, for the SDK dialects (Segment, PostHog): their messages are mapped
// onto our event by copying values byte for byte, so strings and numbers are never re-encoded.

/// Where one JSON value lies in a body: `start..<end`.
struct RawValue {
    var start: Int
    var end: Int
}

/// A field of a JSON object: its name token, where the quoted name lies, and its value.
struct RawField {
    /// The name's content (without quotes), as the scanner read it.
    var name: EventJSONString
    var nameSpan: RawValue
    var value: RawValue
    /// No escapes and only ASCII: the name is its bytes, and comparing bytes is comparing names.
    var plainName: Bool
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

    func makeScanner(at position: Int) -> EventJSONScanner {
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
    /// `""`: any other string, escapes included, has at least one byte once unescaped.
    func isEmptyString(_ value: RawValue) -> Bool { isString(value) && value.end - value.start == 2 }

    func bytes(_ value: RawValue) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: base + value.start, count: value.end - value.start)
    }

    /// The bytes between the quotes of a string without escapes, which are its text when they are
    /// valid UTF-8; `nil` for an escaped string or any other value.
    func unescapedText(_ value: RawValue) -> UnsafeBufferPointer<UInt8>? {
        guard isString(value) else { return nil }
        let text = bytes(RawValue(start: value.start + 1, end: value.end - 1))
        return text.contains(EventJSONBytes.backslash) ? nil : text
    }

    /// The fields of the object at `value`, in body order; `[]` for anything else.
    func fields(_ value: RawValue) -> [RawField] {
        guard isObject(value) else { return [] }
        var out: [RawField] = []
        // One allocation for the usual message or properties object, rather than growing 1, 2, 4, 8.
        out.reserveCapacity(8)
        forEachField(of: value) { out.append($0) }
        return out
    }

    /// The value of the first field named `name` of the object at `value` (`nil` for anything else):
    /// what `value(name, in: fields(value))` gives, without collecting the fields.
    func value(_ name: StaticString, inObject value: RawValue) -> RawValue? {
        guard isObject(value) else { return nil }
        var found: RawValue?
        forEachField(of: value) { field in
            if found == nil, hasName(field, name) { found = field.value }
        }
        return found
    }

    /// Calls `visit` with each field of the object at `value`, in body order.
    func forEachField(of value: RawValue, _ visit: (RawField) -> Void) {
        forEachElement(of: value, closing: UInt8(ascii: "}")) { (scanner) throws(EventBodyFailure) in
            let nameStart = scanner.pos
            let key = try scanner.scanString()
            let nameSpan = RawValue(start: nameStart, end: scanner.pos)
            scanner.skipWhitespace()
            try scanner.expect(UInt8(ascii: ":"), "expected ':'")
            scanner.skipWhitespace()
            let start = scanner.pos
            scanner.pos = end(ofValueAt: start)
            visit(RawField(name: key, nameSpan: nameSpan, value: RawValue(start: start, end: scanner.pos), plainName: isPlain(key)))
        }
    }

    /// No escapes and only ASCII: the name is its bytes (``RawField/plainName``).
    func isPlain(_ key: EventJSONString) -> Bool {
        guard !key.hasEscapes else { return false }
        for i in key.start..<key.end where base[i] >= 0x80 { return false }
        return true
    }

    /// Whether every element of the array at `value` passes `test`, without collecting them; false
    /// for anything but an array.
    func allElements(of value: RawValue, satisfy test: (RawValue) -> Bool) -> Bool {
        guard isArray(value) else { return false }
        var all = true
        forEachElement(of: value, closing: UInt8(ascii: "]")) { (scanner) throws(EventBodyFailure) in
            let start = scanner.pos
            scanner.pos = end(ofValueAt: start)
            if all, !test(RawValue(start: start, end: scanner.pos)) { all = false }
        }
        return all
    }

    /// The elements of the array at `value`; `[]` for anything else.
    func elements(_ value: RawValue) -> [RawValue] {
        guard isArray(value) else { return [] }
        var out: [RawValue] = []
        forEachElement(of: value, closing: UInt8(ascii: "]")) { (scanner) throws(EventBodyFailure) in
            let start = scanner.pos
            scanner.pos = end(ofValueAt: start)
            out.append(RawValue(start: start, end: scanner.pos))
        }
        return out
    }

    /// Where the value starting at `start` ends. The body was validated as a whole, so this only
    /// looks for the value's end: quotes and escapes in strings, brackets in containers, and the
    /// first delimiter after a number or literal; nothing is checked again.
    func end(ofValueAt start: Int) -> Int {
        var i = start
        switch base[i] {
        case EventJSONBytes.quote:
            return end(ofStringAt: i)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            while true {
                let c = base[i]
                if c == EventJSONBytes.quote {
                    i = end(ofStringAt: i)
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
        default:
            while i < count {
                let c = base[i]
                if c == UInt8(ascii: ",") || c == UInt8(ascii: "}") || c == UInt8(ascii: "]") || EventJSONBytes.isWhitespace(c) { break }
                i &+= 1
            }
            return i
        }
    }

    /// After the closing quote of the string whose opening quote is at `start`.
    private func end(ofStringAt start: Int) -> Int {
        var i = start &+ 1
        while true {
            i = EventJSONBytes.skipPlainStringWords(in: base, from: i, end: count)
            let c = base[i]
            if c == EventJSONBytes.backslash {
                i &+= 2
            } else if c == EventJSONBytes.quote {
                return i &+ 1
            } else {
                i &+= 1
            }
        }
    }

    /// Calls `visit` with the scanner at each element of the array or object at `value`.
    private func forEachElement(
        of value: RawValue, closing: UInt8, _ visit: (inout EventJSONScanner) throws(EventBodyFailure) -> Void
    ) {
        var scanner = makeScanner(at: value.start + 1)
        do {
            scanner.skipWhitespace()
            if scanner.peek == closing { return }
            repeat {
                try visit(&scanner)
            } while try scanner.nextElement(closing: closing, "expected ',' or the container's end")
        } catch {
            // Unreachable after `validate()`: the container was checked as part of the body.
        }
    }

    /// The unescaped text of the string at `value`, or `nil` when it is not a (valid UTF-8) string.
    func string(_ value: RawValue) -> String? {
        guard isString(value) else { return nil }
        var scanner = makeScanner(at: value.start)
        guard let token = try? scanner.scanString(), token.isValid, !token.containsNUL else { return nil }
        return scanner.makeString(token)
    }
}

extension RawJSONReader {
    /// The value of the first of `fields` named `name`.
    func value(_ name: StaticString, in fields: [RawField]) -> RawValue? {
        fields.first { hasName($0, name) }?.value
    }

    /// Whether `field` is named `name` (an ASCII literal) as Swift compares strings: bytes for a plain
    /// name, the unescaped `String` (canonical equivalence, as before) for any other.
    func hasName(_ field: RawField, _ name: StaticString) -> Bool {
        hasName(field, utf8Start: name.utf8Start, count: name.utf8CodeUnitCount)
    }

    /// ``hasName(_:_:)`` for an ASCII name given by its bytes.
    func hasName(_ field: RawField, utf8Start name: UnsafePointer<UInt8>, count: Int) -> Bool {
        if field.plainName {
            guard field.name.end - field.name.start == count else { return false }
            return Self.equal(base + field.name.start, name, count)
        }
        return nameString(field) == String(decoding: UnsafeBufferPointer(start: name, count: count), as: UTF8.self)
    }

    /// Whether two fields have the same name, as Swift compares their unescaped strings.
    func sameName(_ a: RawField, _ b: RawField) -> Bool {
        if a.plainName && b.plainName {
            let count = a.name.end - a.name.start
            return count == b.name.end - b.name.start && Self.equal(base + a.name.start, base + b.name.start, count)
        }
        return nameString(a) == nameString(b)
    }

    private static func equal(_ p: UnsafePointer<UInt8>, _ q: UnsafePointer<UInt8>, _ count: Int) -> Bool {
        for i in 0..<count where p[i] != q[i] { return false }
        return true
    }

    func nameString(_ field: RawField) -> String {
        makeScanner(at: field.name.start).makeString(field.name)
    }
}

/// Appending JSON text to a byte buffer.
enum JSONOut {
    static func append(_ text: StaticString, quoted: Bool = false, to out: inout [UInt8]) {
        if quoted { out.append(EventJSONBytes.quote) }
        out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
        if quoted { out.append(EventJSONBytes.quote) }
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
