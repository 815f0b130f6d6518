#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// # Time
//
// The lowest target: imports nothing but the C library. Events, Ingest, Replay, Rollups and Query
// all take their times from here, so one RFC 3339 rule and one floor division hold everywhere.

/// Calendar arithmetic in UTC on microseconds since the Unix epoch, without Foundation's formatters:
/// the one RFC 3339 parser (events and query parameters), floor division, hour and day buckets, the
/// exact output forms of the metrics contract, and the wall clock.
///
/// One leap-second rule everywhere: second `60` is accepted (RFC 3339 allows it) and lands on the first
/// second of the next minute, as POSIX time has no leap seconds.
public enum UTCTime {
    public static let microsPerSecond: Int64 = 1_000_000
    public static let secondsPerHour: Int64 = 3_600
    public static let secondsPerDay: Int64 = 86_400
    public static let microsPerHour: Int64 = secondsPerHour * microsPerSecond
    public static let microsPerDay: Int64 = secondsPerDay * microsPerSecond

    /// The supported range of query times: 1970-01-01T00:00:00Z ..< 10000-01-01T00:00:00Z.
    public static let maxMicros: Int64 = 253_402_300_800 * microsPerSecond

    /// Wall-clock time in Unix microseconds (when the service received an event, "now" of a query).
    public static func nowMicros() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * microsPerSecond + Int64(now.tv_nsec) / 1_000
    }

    // MARK: - Division and buckets

    /// `a / b` rounded towards minus infinity (Swift's `/` rounds towards zero), for times before 1970.
    @inline(__always)
    public static func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
        let (q, r) = a.quotientAndRemainder(dividingBy: b)
        return r < 0 ? q - 1 : q
    }

    /// `a / b` rounded towards plus infinity.
    @inline(__always)
    public static func ceilDivide(_ a: Int64, _ b: Int64) -> Int64 {
        let (q, r) = a.quotientAndRemainder(dividingBy: b)
        return r > 0 ? q + 1 : q
    }

    /// The Unix second holding `micros`.
    @inline(__always)
    public static func seconds(micros: Int64) -> Int64 { floorDivide(micros, microsPerSecond) }

    /// The start (Unix seconds) of the UTC hour holding `micros`.
    @inline(__always)
    public static func hourStart(micros: Int64) -> Int64 { floorDivide(micros, microsPerHour) * secondsPerHour }

    /// The start (Unix seconds) of the `bucketSeconds`-long bucket (an hour, a day) holding `seconds`.
    @inline(__always)
    public static func bucketStart(seconds: Int64, bucketSeconds: Int64) -> Int64 {
        floorDivide(seconds, bucketSeconds) * bucketSeconds
    }

    // MARK: - Parsing

    /// Parses RFC 3339 (`2025-11-29T10:00:00Z`, `…T10:00:00.250+01:00`; `t`/`z` and a space separator
    /// are accepted, and a space where the `+` of an offset was, because a `+` in a query string is
    /// often decoded as a space). Returns microseconds since the epoch within `0..<maxMicros`, or nil.
    public static func parseRFC3339(_ text: String) -> Int64? {
        var text = text
        let micros = text.withUTF8 { buffer in
            buffer.baseAddress.flatMap { parseRFC3339($0, count: buffer.count, spaceBeforeOffset: true) }
        }
        guard let micros, micros >= 0, micros < maxMicros else { return nil }
        return micros
    }

    /// Parses an RFC 3339 `date-time` to Unix microseconds, or returns `nil`; the hot path of event
    /// parsing, on the bytes of the request body.
    ///
    /// Accepted: `YYYY-MM-DD`, then `T`, `t` or a space, then `hh:mm:ss`, an optional fraction of 1 to 9
    /// digits (truncated to microseconds), then `Z`, `z` or `±hh:mm` (`-00:00` is UTC); with
    /// `spaceBeforeOffset`, also a space for the `+`. Any year 0000-9999 (callers bound the range).
    public static func parseRFC3339(_ p: UnsafePointer<UInt8>, count n: Int, spaceBeforeOffset: Bool = false) -> Int64? {
        // The shortest form is "2025-11-29T10:00:00Z" (20 bytes).
        guard n >= 20 else { return nil }
        @inline(__always) func digits(_ i: Int, _ count: Int) -> Int64? {
            var v: Int64 = 0
            for k in i..<(i + count) {
                let d = p[k] &- 0x30
                guard d < 10 else { return nil }
                v = v * 10 + Int64(d)
            }
            return v
        }
        guard let year = digits(0, 4), p[4] == UInt8(ascii: "-"),
              let month = digits(5, 2), p[7] == UInt8(ascii: "-"),
              let day = digits(8, 2),
              p[10] == UInt8(ascii: "T") || p[10] == UInt8(ascii: "t") || p[10] == UInt8(ascii: " "),
              let hour = digits(11, 2), p[13] == UInt8(ascii: ":"),
              let minute = digits(14, 2), p[16] == UInt8(ascii: ":"),
              let second = digits(17, 2)
        else { return nil }
        guard month >= 1, month <= 12, day >= 1, day <= Int64(daysIn(month: Int(month), year: Int(year))),
              hour <= 23, minute <= 59, second <= 60
        else { return nil }

        var i = 19
        var micros: Int64 = 0
        if p[i] == UInt8(ascii: ".") {
            i += 1
            let fractionStart = i
            while i < n, p[i] &- 0x30 < 10 {
                if i - fractionStart < 6 { micros = micros * 10 + Int64(p[i] &- 0x30) }
                i += 1
            }
            let fractionDigits = i - fractionStart
            guard fractionDigits >= 1, fractionDigits <= 9 else { return nil }
            for _ in min(fractionDigits, 6)..<6 { micros *= 10 }
        }

        guard i < n else { return nil }
        var offsetSeconds: Int64 = 0
        let marker = p[i]
        if marker == UInt8(ascii: "Z") || marker == UInt8(ascii: "z") {
            i += 1
        } else if marker == UInt8(ascii: "+") || marker == UInt8(ascii: "-") || (spaceBeforeOffset && marker == UInt8(ascii: " ")) {
            guard n - i >= 6, let oh = digits(i + 1, 2), p[i + 3] == UInt8(ascii: ":"), let om = digits(i + 4, 2),
                  oh <= 23, om <= 59
            else { return nil }
            offsetSeconds = (oh * 3600 + om * 60) * (marker == UInt8(ascii: "-") ? -1 : 1)
            i += 6
        } else {
            return nil
        }
        guard i == n else { return nil }

        let days = Int64(daysFromCivil(year: Int(year), month: Int(month), day: Int(day)))
        let seconds = days * secondsPerDay + hour * 3600 + minute * 60 + second - offsetSeconds
        return seconds * microsPerSecond + micros
    }

    // MARK: - Formatting

    /// `2025-11-29T10:00:00Z`, with a fraction (up to 6 digits, trailing zeros dropped) only when there is one.
    public static func rfc3339(_ micros: Int64) -> String {
        let (seconds, fraction) = micros.quotientAndRemainder(dividingBy: microsPerSecond)
        var text = dateTime(seconds: seconds)
        if fraction != 0 {
            var digits = String(fraction)
            digits = String(repeating: "0", count: 6 - digits.count) + digits
            while digits.hasSuffix("0") { digits.removeLast() }
            text += "." + digits
        }
        return text + "Z"
    }

    /// Always 6 fraction digits: the form sent to PostgreSQL as a `timestamptz` parameter.
    public static func rfc3339Micros(_ micros: Int64) -> String {
        let (seconds, fraction) = micros.quotientAndRemainder(dividingBy: microsPerSecond)
        let digits = String(fraction)
        return dateTime(seconds: seconds) + "." + String(repeating: "0", count: 6 - digits.count) + digits + "Z"
    }

    /// `YYYY-MM-DD` of the UTC day containing `seconds`.
    public static func dayKey(seconds: Int64) -> String {
        let (year, month, day) = civilFromDays(Int(floorDivide(seconds, secondsPerDay)))
        return pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2)
    }

    /// `YYYY-MM-DDTHH:00:00Z` of the UTC hour containing `seconds`.
    public static func hourKey(seconds: Int64) -> String {
        let hour = Int(floorDivide(seconds, secondsPerHour) - floorDivide(seconds, secondsPerDay) * 24)
        return dayKey(seconds: seconds) + "T" + pad(hour, 2) + ":00:00Z"
    }

    private static func dateTime(seconds: Int64) -> String {
        let secondOfDay = Int(seconds - floorDivide(seconds, secondsPerDay) * secondsPerDay)
        return dayKey(seconds: seconds) + "T" + pad(secondOfDay / 3600, 2) + ":" + pad(secondOfDay / 60 % 60, 2) + ":" + pad(secondOfDay % 60, 2)
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }

    // MARK: - Proleptic Gregorian calendar

    public static func isLeap(_ year: Int) -> Bool { (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 }

    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    public static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    public static func civilFromDays(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
