/// Calendar arithmetic in UTC on microseconds since the Unix epoch, without Foundation's formatters:
/// strict RFC 3339 parsing and the exact output forms of the metrics contract.
public enum UTCTime {
    public static let microsPerSecond: Int64 = 1_000_000
    public static let microsPerDay: Int64 = 86_400 * microsPerSecond

    /// The supported range: 1970-01-01T00:00:00Z ..< 10000-01-01T00:00:00Z.
    public static let maxMicros: Int64 = 253_402_300_800 * microsPerSecond

    /// Parses RFC 3339 (`2025-11-29T10:00:00Z`, `…T10:00:00.250+01:00`; `t`/`z` and a space separator
    /// are accepted, and a space where the `+` of an offset was, because a `+` in a query string is
    /// often decoded as a space). Returns microseconds since the epoch, or nil.
    public static func parseRFC3339(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        var i = 0
        func digits(_ count: Int) -> Int? {
            guard i + count <= b.count else { return nil }
            var value = 0
            for _ in 0..<count {
                let c = b[i]
                guard c >= 48 && c <= 57 else { return nil }
                value = value * 10 + Int(c - 48)
                i += 1
            }
            return value
        }
        func expect(_ allowed: [UInt8]) -> Bool {
            guard i < b.count, allowed.contains(b[i]) else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect([45]), let month = digits(2), expect([45]), let day = digits(2),
              expect([84, 116, 32]),  // T t space
              let hour = digits(2), expect([58]), let minute = digits(2), expect([58]), let second = digits(2)
        else { return nil }
        var fraction: Int64 = 0
        if i < b.count, b[i] == 46 {  // .
            i += 1
            var count = 0
            var scale: Int64 = 100_000
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                if count < 6 { fraction += Int64(b[i] - 48) * scale; scale /= 10 }
                count += 1
                i += 1
            }
            guard count > 0, count <= 9 else { return nil }
        }
        guard i < b.count else { return nil }
        var offsetSeconds = 0
        switch b[i] {
        case 90, 122:  // Z z
            i += 1
        case 43, 45, 32:  // + - space(+)
            let sign = b[i] == 45 ? -1 : 1
            i += 1
            guard let offsetHours = digits(2), expect([58]), let offsetMinutes = digits(2), offsetHours <= 23, offsetMinutes <= 59
            else { return nil }
            offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60)
        default:
            return nil
        }
        guard i == b.count, (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
              hour <= 23, minute <= 59, second <= 59
        else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetSeconds)
        let micros = seconds * microsPerSecond + fraction
        guard micros >= 0, micros < maxMicros else { return nil }
        return micros
    }

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
    static func rfc3339Micros(_ micros: Int64) -> String {
        let (seconds, fraction) = micros.quotientAndRemainder(dividingBy: microsPerSecond)
        let digits = String(fraction)
        return dateTime(seconds: seconds) + "." + String(repeating: "0", count: 6 - digits.count) + digits + "Z"
    }

    /// `YYYY-MM-DD` of the UTC day containing `seconds`.
    public static func dayKey(seconds: Int64) -> String {
        let (year, month, day) = civilFromDays(Int(floorDivide(seconds, 86_400)))
        return pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2)
    }

    /// `YYYY-MM-DDTHH:00:00Z` of the UTC hour containing `seconds`.
    public static func hourKey(seconds: Int64) -> String {
        let hour = Int(floorDivide(seconds, 3600) - floorDivide(seconds, 86_400) * 24)
        return dayKey(seconds: seconds) + "T" + pad(hour, 2) + ":00:00Z"
    }

    private static func dateTime(seconds: Int64) -> String {
        let secondOfDay = Int(seconds - floorDivide(seconds, 86_400) * 86_400)
        return dayKey(seconds: seconds) + "T" + pad(secondOfDay / 3600, 2) + ":" + pad(secondOfDay / 60 % 60, 2) + ":" + pad(secondOfDay % 60, 2)
    }

    private static func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
        let (q, r) = a.quotientAndRemainder(dividingBy: b)
        return r < 0 ? q - 1 : q
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }

    static func isLeap(_ year: Int) -> Bool { (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civilFromDays(_ days: Int) -> (year: Int, month: Int, day: Int) {
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
