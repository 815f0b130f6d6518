// Byte-level helpers for event JSON and event records: whitespace, digits, hex, UTF-8 validation, and
// word-at-a-time scans.

/// Byte classes and checks shared by the event parser and the record codec.
enum EventJSONBytes {
    static let quote: UInt8 = 0x22
    static let backslash: UInt8 = 0x5C

    @inline(__always)
    static func isWhitespace(_ c: UInt8) -> Bool {
        c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09
    }

    @inline(__always)
    static func isDigit(_ c: UInt8) -> Bool { c &- 0x30 < 10 }

    @inline(__always)
    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c &- UInt8(ascii: "A") &+ 10
        default: return nil
        }
    }

    static let ones: UInt64 = 0x0101_0101_0101_0101
    static let highs: UInt64 = 0x8080_8080_8080_8080

    /// Marks (with 0x80) the bytes of `v` that end a plain run inside a string: a quote, a backslash,
    /// a control character or a non-ASCII byte. SWAR "has zero byte" / "has byte less than": a mark
    /// can be spurious only above a real one, so the lowest mark is exact.
    @inline(__always)
    static func stringSpecialBytes(_ v: UInt64) -> UInt64 {
        let q = v ^ (ones &* 0x22)
        let b = v ^ (ones &* 0x5C)
        let less = (v &- ones &* 0x20) & ~v
        let quote = (q &- ones) & ~q
        let backslash = (b &- ones) & ~b
        return (less | quote | backslash | v) & highs
    }

    /// Skips plain string bytes eight at a time from `from`: the index of the first byte that
    /// `stringSpecialBytes` marks, or where fewer than eight bytes remain before `end` (the caller
    /// reads on byte by byte).
    @inline(__always)
    static func skipPlainStringWords(in p: UnsafePointer<UInt8>, from: Int, end: Int) -> Int {
        var i = from
        while i &+ 8 <= end {
            // Little-endian order makes the lowest mark the first special byte in memory.
            let word = UInt64(littleEndian: UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self))
            let marks = stringSpecialBytes(word)
            if marks != 0 { return i &+ marks.trailingZeroBitCount &>> 3 }
            i &+= 8
        }
        return i
    }

    /// The index of the first `byte` in `p[from..<end]`, or `end`.
    @inline(__always)
    static func firstIndex(of byte: UInt8, in p: UnsafePointer<UInt8>, from: Int, end: Int) -> Int {
        var i = from
        let pattern = ones &* UInt64(byte)
        while i &+ 8 <= end {
            let x = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self) ^ pattern
            if (x &- ones) & ~x & highs != 0 { break }
            i &+= 8
        }
        while i < end, p[i] != byte { i &+= 1 }
        return i
    }

    /// The length of the well-formed UTF-8 sequence that starts at `p[i]` (a byte ≥ 0x80) and ends
    /// before `end`, or 0 when it is not well-formed (stray continuation byte, overlong form,
    /// surrogate, above U+10FFFF, or cut short).
    @inline(__always)
    static func utf8SequenceLength(_ p: UnsafePointer<UInt8>, _ i: Int, _ end: Int) -> Int {
        let c = p[i]
        @inline(__always) func cont(_ k: Int, _ lo: UInt8 = 0x80, _ hi: UInt8 = 0xBF) -> Bool {
            i &+ k < end && p[i &+ k] >= lo && p[i &+ k] <= hi
        }
        switch c {
        case 0xC2...0xDF:
            return cont(1) ? 2 : 0
        case 0xE0:
            return cont(1, 0xA0) && cont(2) ? 3 : 0
        case 0xE1...0xEC, 0xEE...0xEF:
            return cont(1) && cont(2) ? 3 : 0
        case 0xED:
            return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0
        case 0xF0:
            return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0
        case 0xF1...0xF3:
            return cont(1) && cont(2) && cont(3) ? 4 : 0
        case 0xF4:
            return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0
        default:
            return 0
        }
    }

    /// Whether `count` bytes at `p` are well-formed UTF-8.
    static func isValidUTF8(_ p: UnsafePointer<UInt8>, count: Int) -> Bool {
        var i = 0
        while i < count {
            if p[i] < 0x80 {
                i &+= 1
                continue
            }
            let n = utf8SequenceLength(p, i, count)
            if n == 0 { return false }
            i &+= n
        }
        return true
    }

    /// The kind of JSON value that starts with `c`, for messages.
    static func typeName(startingWith c: UInt8) -> String {
        switch c {
        case UInt8(ascii: "\""): return "a string"
        case UInt8(ascii: "{"): return "an object"
        case UInt8(ascii: "["): return "an array"
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return "a boolean"
        case UInt8(ascii: "n"): return "null"
        default: return "a number"
        }
    }
}
