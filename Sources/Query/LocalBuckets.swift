import Foundation
import Time

/// The time buckets of `group_by=hour|day|week|month` in a `tz` zone, as UTC instants.
///
/// Boundaries come from Foundation's `Calendar` over the system tz database (never a hand-written
/// table), so 23- and 25-hour days at daylight-saving changes, and the repeated local hour of a fall-back
/// night, are what the zone says: each bucket is `[start, next start)` in UTC, and the two local 01:00
/// hours of a fall-back night are two buckets with two offsets. Weeks are ISO weeks (Monday start),
/// months calendar months.
///
/// Every bucket start is a whole second. When every cut inside a window falls on a UTC hour (zones
/// whose offset is a whole number of hours), each bucket's piece of the window splits into whole UTC
/// days, whole hours and the window's own partial edge hours (``MetricsWindowSplit``), all from
/// rollups; in +05:30 or +05:45 zones the cuts fall inside UTC hours, and those partial hours are
/// read as raw rows.
public struct LocalBuckets: Sendable {
    public let zone: TimeZone
    public let unit: MetricsRequest.GroupBy
    /// Bucket starts (Unix seconds) in time order: the first holds the window's start (and may begin
    /// before it); the last begins before the window's end.
    public let starts: [Int64]

    public init(fromMicros: Int64, toMicros: Int64, unit: MetricsRequest.GroupBy, zone: TimeZone) {
        precondition([.hour, .day, .week, .month].contains(unit), "buckets are hours, days, weeks or months")
        self.zone = zone
        self.unit = unit
        let calendar = Self.calendar(zone)
        let component: Calendar.Component =
            switch unit {
            case .hour: .hour
            case .day: .day
            case .week: .weekOfYear
            default: .month
            }
        var starts: [Int64] = []
        var instant = Date(timeIntervalSince1970: TimeInterval(UTCTime.seconds(micros: fromMicros)))
        let endSeconds = UTCTime.ceilDivide(toMicros, UTCTime.microsPerSecond)
        while true {
            guard let interval = calendar.dateInterval(of: component, for: instant) else {
                preconditionFailure("Foundation gave no \(component) interval in \(zone.identifier)")
            }
            let start = Int64(interval.start.timeIntervalSince1970.rounded(.down))
            let end = Int64(interval.end.timeIntervalSince1970.rounded(.down))
            if starts.last != start { starts.append(start) }
            guard end < endSeconds, end > start else { break }
            instant = Date(timeIntervalSince1970: TimeInterval(end))
        }
        self.starts = starts
    }

    /// The Gregorian calendar with ISO weeks (Monday first, week 1 holds January 4th) in `zone`.
    static func calendar(_ zone: TimeZone) -> Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        calendar.firstWeekday = 2
        calendar.minimumDaysInFirstWeek = 4
        return calendar
    }

    /// The parts of `[fromMicros, toMicros)` in each bucket: `(bucket index, range in microseconds)`,
    /// empty ranges left out.
    public func pieces(fromMicros: Int64, toMicros: Int64) -> [(bucket: Int, range: Range<Int64>)] {
        var result: [(bucket: Int, range: Range<Int64>)] = []
        for (index, start) in starts.enumerated() {
            let low = max(start * UTCTime.microsPerSecond, fromMicros)
            let high = index + 1 < starts.count ? min(starts[index + 1] * UTCTime.microsPerSecond, toMicros) : toMicros
            if low < high { result.append((index, low..<high)) }
        }
        return result
    }

    /// The index of the bucket holding `seconds` (which lies inside the window).
    public func bucket(containing seconds: Int64) -> Int {
        var low = 0, high = starts.count
        while high - low > 1 {
            let middle = (low + high) / 2
            if starts[middle] <= seconds { low = middle } else { high = middle }
        }
        return low
    }

    /// The group key of the bucket starting at `seconds` (see ``MetricsKey``).
    public func key(seconds: Int64) -> String { MetricsKey.key(seconds: seconds, groupBy: unit, zone: zone) }
}

/// The group keys of time buckets.
///
/// In UTC (no `tz`, or `tz=UTC`) hours keep `2025-11-29T10:00:00Z` and days `2025-11-29`, as before
/// time zones existed. Every other key is the bucket's local start in RFC 3339 with the zone's offset
/// at that instant: `2026-03-29T00:00:00+03:00`, `2026-11-01T01:00:00-05:00` (weeks and months in UTC
/// end in `Z`).
public enum MetricsKey {
    public static func key(seconds: Int64, groupBy: MetricsRequest.GroupBy, zone: TimeZone) -> String {
        let utc = MetricsRequest.isUTC(zone)
        if utc, groupBy == .hour { return UTCTime.hourKey(seconds: seconds) }
        if utc, groupBy == .day { return UTCTime.dayKey(seconds: seconds) }
        let offset = Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds))))
        var text = UTCTime.rfc3339((seconds + offset) * UTCTime.microsPerSecond)
        text.removeLast()  // the "Z" of the local wall time
        if utc { return text + "Z" }
        let magnitude = abs(offset)
        let (hours, minutes) = (magnitude / 3600, magnitude / 60 % 60)
        return text + (offset < 0 ? "-" : "+") + (hours < 10 ? "0" : "") + String(hours) + ":" + (minutes < 10 ? "0" : "") + String(minutes)
    }
}
