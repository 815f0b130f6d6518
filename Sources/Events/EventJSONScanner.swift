// A byte-level JSON scanner for event bodies: no Foundation, no allocation except for the strings and
// byte arrays an `Event` keeps. It reads a body in place and reports positions; `EventParser` decides
// what the tokens mean.

/// A problem that ends the parsing of a whole body (or NDJSON line): the JSON is malformed, nested
/// beyond reason, or (in bulk) the body breaks a body-wide limit.
struct EventBodyFailure: Error {
    var error: EventError
}

/// A string token: positions of its content in the body and what scanning it found.
struct EventJSONString {
    /// First content byte (after the opening quote).
    var start: Int
    /// The closing quote.
    var end: Int
    /// UTF-8 length after unescaping.
    var decodedCount: Int
    var hasEscapes: Bool
    /// Offset of the first ill-formed UTF-8 byte or unpaired surrogate escape, or -1.
    var invalidAt: Int
    /// Whether the string contains U+0000 (only possible as `\u0000`).
    var containsNUL: Bool

    var isValid: Bool { invalidAt < 0 }
}

/// A number token. Only the timestamp needs its value, so only an integer's magnitude is computed.
struct EventJSONNumber {
    var negative: Bool
    /// No fraction and no exponent.
    var isInteger: Bool
    var magnitude: UInt64
    /// The integer digits do not fit in a UInt64.
    var overflow: Bool
    /// Digits before and after the decimal point, and the exponent (saturated at ±10⁹).
    var integerDigits = 0
    var fractionDigits = 0
    var exponent = 0

    /// Whether PostgreSQL's `numeric` (what `jsonb` stores numbers as) can hold it: at most 131,072
    /// digits before the decimal point and 16,383 after, once the exponent is applied. JSON allows
    /// `1e-20000`; PostgreSQL refuses it, so the parser must, before the event is acknowledged.
    var fitsPostgresNumeric: Bool {
        fractionDigits - exponent <= 16_383 && integerDigits + exponent <= 131_072
    }
}

/// What skipping a value found that matters to the caller.
struct EventJSONSkipInfo {
    /// Deepest container level reached; the skipped value itself, if a container, is level 1.
    var maxDepth = 0
    var invalidAt = -1
    var containsNUL = false
    /// A number PostgreSQL's `numeric` cannot hold (``EventJSONNumber/fitsPostgresNumeric``).
    var numberOutOfRange = false

    /// Records what a skipped string (a value or a field name) holds.
    @inline(__always)
    mutating func note(_ string: EventJSONString) {
        if string.invalidAt >= 0 && invalidAt < 0 { invalidAt = string.invalidAt }
        if string.containsNUL { containsNUL = true }
    }
}

/// Reads JSON tokens from bytes it does not own. `pos` moves forward only; every read checks `end`.
struct EventJSONScanner {
    let base: UnsafePointer<UInt8>
    let end: Int
    var pos: Int
    let nestingLimit: Int

    init(base: UnsafePointer<UInt8>, count: Int, nestingLimit: Int) {
        self.base = base
        self.end = count
        self.pos = 0
        self.nestingLimit = nestingLimit
    }

    var atEnd: Bool { pos >= end }

    /// The current byte, or 0 at the end (0 never starts or ends a JSON token).
    @inline(__always)
    var peek: UInt8 { pos < end ? base[pos] : 0 }

    @inline(__always)
    mutating func skipWhitespace() {
        while pos < end, EventJSONBytes.isWhitespace(base[pos]) { pos &+= 1 }
    }

    // MARK: errors

    func syntaxError(_ what: String, at offset: Int? = nil) -> EventBodyFailure {
        let at = offset ?? pos
        let found: String
        if at >= end {
            found = "the end of the body"
        } else {
            let c = base[at]
            if c >= 0x20 && c < 0x7F && c != UInt8(ascii: "'") {
                found = "'\(Character(Unicode.Scalar(c)))'"
            } else {
                found = "byte 0x\(String(c, radix: 16, uppercase: true))"
            }
        }
        return EventBodyFailure(error: EventError(
            code: EventError.Code.malformedJSON,
            field: "body",
            message: "Malformed JSON at byte \(at): \(what), found \(found). Send valid JSON encoded as UTF-8."
        ))
    }

    func nestingError() -> EventBodyFailure {
        EventBodyFailure(error: EventError(
            code: EventError.Code.nestingTooDeep,
            field: "body",
            message: "JSON nested more than \(nestingLimit) levels deep at byte \(pos); flatten the data."
        ))
    }

    @inline(__always)
    mutating func expect(_ c: UInt8, _ what: @autoclosure () -> String) throws(EventBodyFailure) {
        guard pos < end, base[pos] == c else { throw syntaxError(what()) }
        pos &+= 1
    }

    // MARK: strings

    /// Scans the string whose opening quote is at `pos`, leaving `pos` after its closing quote.
    /// Escapes are checked and surrogate pairs matched; ill-formed UTF-8 and unpaired surrogates are
    /// recorded in the token rather than thrown, so that the caller can blame the field and go on.
    mutating func scanString() throws(EventBodyFailure) -> EventJSONString {
        let openQuote = pos
        pos &+= 1
        let start = pos
        var decoded = 0
        var hasEscapes = false
        var invalidAt = -1
        var containsNUL = false
        while true {
            let runStart = pos
            pos = EventJSONBytes.skipPlainStringWords(in: base, from: pos, end: end)
            while pos < end {
                let c = base[pos]
                guard c >= 0x20, c < 0x80, c != EventJSONBytes.quote, c != EventJSONBytes.backslash else { break }
                pos &+= 1
            }
            decoded &+= pos &- runStart
            guard pos < end else {
                throw syntaxError("unterminated string (opened at byte \(openQuote))")
            }
            let c = base[pos]
            if c == EventJSONBytes.quote {
                let token = EventJSONString(
                    start: start, end: pos, decodedCount: decoded, hasEscapes: hasEscapes,
                    invalidAt: invalidAt, containsNUL: containsNUL
                )
                pos &+= 1
                return token
            }
            if c == EventJSONBytes.backslash {
                hasEscapes = true
                guard pos &+ 1 < end else {
                    throw syntaxError("unterminated string (opened at byte \(openQuote))", at: end)
                }
                switch base[pos &+ 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                     UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    pos &+= 2
                    decoded &+= 1
                case UInt8(ascii: "u"):
                    guard let unit = hex4(at: pos &+ 2) else {
                        throw syntaxError("\\u must be followed by four hex digits", at: pos &+ 2)
                    }
                    let escapeStart = pos
                    pos &+= 6
                    if unit >= 0xD800 && unit <= 0xDBFF {
                        if pos &+ 6 <= end, base[pos] == EventJSONBytes.backslash, base[pos &+ 1] == UInt8(ascii: "u"),
                           let low = hex4(at: pos &+ 2), low >= 0xDC00 && low <= 0xDFFF {
                            pos &+= 6
                            decoded &+= 4
                        } else {
                            if invalidAt < 0 { invalidAt = escapeStart }
                            decoded &+= 3
                        }
                    } else if unit >= 0xDC00 && unit <= 0xDFFF {
                        if invalidAt < 0 { invalidAt = escapeStart }
                        decoded &+= 3
                    } else {
                        if unit == 0 { containsNUL = true }
                        decoded &+= unit < 0x80 ? 1 : (unit < 0x800 ? 2 : 3)
                    }
                default:
                    throw syntaxError("invalid escape sequence in a string", at: pos &+ 1)
                }
                continue
            }
            if c < 0x20 {
                throw syntaxError("control characters must be escaped in strings")
            }
            let n = EventJSONBytes.utf8SequenceLength(base, pos, end)
            if n == 0 {
                if invalidAt < 0 { invalidAt = pos }
                pos &+= 1
                decoded &+= 1
            } else {
                pos &+= n
                decoded &+= n
            }
        }
    }

    @inline(__always)
    func hex4(at i: Int) -> UInt32? {
        guard i &+ 4 <= end,
              let a = EventJSONBytes.hexValue(base[i]), let b = EventJSONBytes.hexValue(base[i &+ 1]),
              let c = EventJSONBytes.hexValue(base[i &+ 2]), let d = EventJSONBytes.hexValue(base[i &+ 3])
        else { return nil }
        return UInt32(a) << 12 | UInt32(b) << 8 | UInt32(c) << 4 | UInt32(d)
    }

    /// The string's content as a `String`. Only for tokens with `isValid`.
    func makeString(_ token: EventJSONString) -> String {
        if !token.hasEscapes {
            return String(decoding: UnsafeBufferPointer(start: base + token.start, count: token.end &- token.start), as: UTF8.self)
        }
        return String(unsafeUninitializedCapacity: token.decodedCount) { out in
            unescape(token, into: out)
        }
    }

    /// The string's content as bytes. Only for tokens with `isValid`.
    func makeBytes(_ token: EventJSONString) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: token.decodedCount) { out, count in
            count = unescape(token, into: out)
        }
    }

    /// Writes the unescaped content of a valid token (exactly `decodedCount` bytes) to `out`.
    private func unescape(_ token: EventJSONString, into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
        var i = token.start
        var o = 0
        let limit = min(out.count, token.decodedCount)
        while i < token.end && o < limit {
            let c = base[i]
            if c != EventJSONBytes.backslash {
                out[o] = c
                o &+= 1
                i &+= 1
                continue
            }
            let e = base[i &+ 1]
            i &+= 2
            var scalar: UInt32
            switch e {
            case UInt8(ascii: "b"): scalar = 0x08
            case UInt8(ascii: "f"): scalar = 0x0C
            case UInt8(ascii: "n"): scalar = 0x0A
            case UInt8(ascii: "r"): scalar = 0x0D
            case UInt8(ascii: "t"): scalar = 0x09
            case UInt8(ascii: "u"):
                scalar = hex4(at: i) ?? 0xFFFD
                i &+= 4
                if scalar >= 0xD800 && scalar <= 0xDBFF {
                    let low = hex4(at: i &+ 2) ?? 0xDC00
                    scalar = 0x10000 &+ ((scalar &- 0xD800) << 10) &+ (low &- 0xDC00)
                    i &+= 6
                }
            default: scalar = UInt32(e)  // \" \\ \/
            }
            o = Self.writeUTF8(scalar, into: out, at: o, limit: limit)
        }
        return o
    }

    @inline(__always)
    private static func writeUTF8(_ s: UInt32, into out: UnsafeMutableBufferPointer<UInt8>, at o: Int, limit: Int) -> Int {
        let n = s < 0x80 ? 1 : (s < 0x800 ? 2 : (s < 0x10000 ? 3 : 4))
        guard o &+ n <= limit else { return limit }
        switch n {
        case 1:
            out[o] = UInt8(s)
        case 2:
            out[o] = UInt8(0xC0 | (s >> 6))
            out[o &+ 1] = UInt8(0x80 | (s & 0x3F))
        case 3:
            out[o] = UInt8(0xE0 | (s >> 12))
            out[o &+ 1] = UInt8(0x80 | ((s >> 6) & 0x3F))
            out[o &+ 2] = UInt8(0x80 | (s & 0x3F))
        default:
            out[o] = UInt8(0xF0 | (s >> 18))
            out[o &+ 1] = UInt8(0x80 | ((s >> 12) & 0x3F))
            out[o &+ 2] = UInt8(0x80 | ((s >> 6) & 0x3F))
            out[o &+ 3] = UInt8(0x80 | (s & 0x3F))
        }
        return o &+ n
    }

    // MARK: numbers and literals

    /// Scans the number at `pos` (a `-` or a digit) by RFC 8259's grammar.
    mutating func scanNumber() throws(EventBodyFailure) -> EventJSONNumber {
        var number = EventJSONNumber(negative: false, isInteger: true, magnitude: 0, overflow: false)
        if base[pos] == UInt8(ascii: "-") {
            number.negative = true
            pos &+= 1
        }
        guard pos < end, EventJSONBytes.isDigit(base[pos]) else {
            throw syntaxError("expected a digit in a number")
        }
        if base[pos] == UInt8(ascii: "0") {
            number.integerDigits = 1
            pos &+= 1
            if pos < end, EventJSONBytes.isDigit(base[pos]) {
                throw syntaxError("numbers must not have leading zeros")
            }
        } else {
            while pos < end, EventJSONBytes.isDigit(base[pos]) {
                number.integerDigits &+= 1
                let (times10, o1) = number.magnitude.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(UInt64(base[pos] &- 0x30))
                if o1 || o2 { number.overflow = true }
                number.magnitude = sum
                pos &+= 1
            }
        }
        if pos < end, base[pos] == UInt8(ascii: ".") {
            number.isInteger = false
            pos &+= 1
            guard pos < end, EventJSONBytes.isDigit(base[pos]) else {
                throw syntaxError("expected a digit after the decimal point")
            }
            while pos < end, EventJSONBytes.isDigit(base[pos]) {
                number.fractionDigits &+= 1
                pos &+= 1
            }
        }
        if pos < end, base[pos] | 0x20 == UInt8(ascii: "e") {
            number.isInteger = false
            pos &+= 1
            var negativeExponent = false
            if pos < end, base[pos] == UInt8(ascii: "+") || base[pos] == UInt8(ascii: "-") {
                negativeExponent = base[pos] == UInt8(ascii: "-")
                pos &+= 1
            }
            guard pos < end, EventJSONBytes.isDigit(base[pos]) else {
                throw syntaxError("expected a digit in the exponent")
            }
            var exponent = 0
            while pos < end, EventJSONBytes.isDigit(base[pos]) {
                exponent = min(exponent &* 10 &+ Int(base[pos] &- 0x30), 1_000_000_000)
                pos &+= 1
            }
            number.exponent = negativeExponent ? -exponent : exponent
        }
        return number
    }

    /// After a value inside an array or object: skips white space, then either consumes `,` and the
    /// white space after it (true: another element follows) or consumes `closing` (false: the
    /// container ended); anything else is a syntax error saying `expected`.
    @inline(__always)
    mutating func nextElement(closing: UInt8, _ expected: String) throws(EventBodyFailure) -> Bool {
        skipWhitespace()
        let c = peek
        if c == UInt8(ascii: ",") {
            pos &+= 1
            skipWhitespace()
            return true
        }
        if c == closing {
            pos &+= 1
            return false
        }
        throw syntaxError(expected)
    }

    /// Enters the container at `pos`, at level `depth`: `false` when it is empty (and already left).
    @inline(__always)
    private mutating func openContainer(
        depth: Int, closing: UInt8, info: inout EventJSONSkipInfo
    ) throws(EventBodyFailure) -> Bool {
        guard depth <= nestingLimit else { throw nestingError() }
        if depth > info.maxDepth { info.maxDepth = depth }
        pos &+= 1
        skipWhitespace()
        guard peek == closing else { return true }
        pos &+= 1
        return false
    }

    /// Reads a field name (at `pos`, which must be its opening quote), the `:` after it and the white
    /// space around, leaving `pos` at the field's value.
    @inline(__always)
    mutating func scanFieldName() throws(EventBodyFailure) -> EventJSONString {
        guard peek == EventJSONBytes.quote else { throw syntaxError("expected a field name in double quotes") }
        let key = try scanString()
        skipWhitespace()
        try expect(UInt8(ascii: ":"), "expected ':' after a field name")
        skipWhitespace()
        return key
    }

    /// Skips a value that is not what the caller wanted and names its kind (`a number`, ...), for
    /// the message that says so.
    mutating func skipValueNamingType(depth: Int) throws(EventBodyFailure) -> String {
        let first = peek
        var info = EventJSONSkipInfo()
        try skipValue(depth: depth, info: &info)
        return EventJSONBytes.typeName(startingWith: first)
    }

    /// Consumes `true`, `false` or `null` (whichever `literal` is) or throws.
    mutating func scanLiteral(_ literal: StaticString) throws(EventBodyFailure) {
        let n = literal.utf8CodeUnitCount
        let p = literal.utf8Start
        var i = 0
        while i < n {
            guard pos &+ i < end, base[pos &+ i] == p[i] else {
                throw syntaxError("expected '\(literal)'", at: pos &+ i)
            }
            i &+= 1
        }
        pos &+= n
    }

    // MARK: skipping

    /// Scans one complete value of any type, checking it is well-formed JSON, and leaves `pos` after it.
    /// `depth` is the level the value would have if it is a container.
    mutating func skipValue(depth: Int, info: inout EventJSONSkipInfo) throws(EventBodyFailure) {
        guard pos < end else { throw syntaxError("expected a value") }
        switch base[pos] {
        case EventJSONBytes.quote:
            info.note(try scanString())
        case UInt8(ascii: "{"):
            guard try openContainer(depth: depth, closing: UInt8(ascii: "}"), info: &info) else { return }
            repeat {
                info.note(try scanFieldName())
                try skipValue(depth: depth &+ 1, info: &info)
            } while try nextElement(closing: UInt8(ascii: "}"), "expected ',' or '}' in an object")
        case UInt8(ascii: "["):
            guard try openContainer(depth: depth, closing: UInt8(ascii: "]"), info: &info) else { return }
            repeat {
                try skipValue(depth: depth &+ 1, info: &info)
            } while try nextElement(closing: UInt8(ascii: "]"), "expected ',' or ']' in an array")
        case UInt8(ascii: "t"):
            try scanLiteral("true")
        case UInt8(ascii: "f"):
            try scanLiteral("false")
        case UInt8(ascii: "n"):
            try scanLiteral("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            if !(try scanNumber()).fitsPostgresNumeric { info.numberOutOfRange = true }
        default:
            throw syntaxError("expected a value")
        }
    }
}
