import Time
/// How a window `[from, to)` is answered from rollups: whole UTC days from `rollup_daily`, whole
/// hours from `rollup_hourly`, and only what is left (partial hours) from raw `events`.
///
/// ```
/// from        H0            D0                            D1            H1        to
///  |-- raw ---|-- hours ----|========= days ==============|-- hours ----|-- raw --|
/// ```
/// A window that holds no whole hour is raw from end to end (cut at the hour boundary it may cross).
/// Every raw range lies inside one hour, so raw rows need no per-row bucketing in SQL. Pure
/// arithmetic, tested without a database.
public struct MetricsWindowSplit: Sendable, Hashable {
    /// Raw ranges in microseconds, each inside one UTC hour: at most two, the partial hours at either
    /// edge (or the two sides of the one boundary a window without whole hours crosses).
    public var raw: [Range<Int64>]
    /// Whole hours, Unix seconds: [H0, H1); empty when the window holds no whole hour.
    public var hours: Range<Int64>
    /// Whole days inside ``hours``, Unix seconds; empty when there is none.
    public var days: Range<Int64>

    /// The whole hours outside ``days`` (at most two ranges): read with their bitmaps.
    public var edgeHours: [Range<Int64>] {
        if days.isEmpty { return hours.isEmpty ? [] : [hours] }
        return [hours.lowerBound..<days.lowerBound, days.upperBound..<hours.upperBound].filter { !$0.isEmpty }
    }

    public init(fromMicros: Int64, toMicros: Int64) {
        precondition(fromMicros <= toMicros, "a window ends after it starts")
        let hour: Int64 = 3_600
        let day: Int64 = 86_400
        let firstHour = UTCTime.ceilDivide(fromMicros, hour * 1_000_000) * hour
        let endHour = UTCTime.floorDivide(toMicros, hour * 1_000_000) * hour
        guard firstHour < endHour else {
            // Cut at the next hour boundary if the window crosses it (it crosses at most one).
            let boundary = firstHour * 1_000_000
            raw = boundary < toMicros ? [fromMicros..<boundary, boundary..<toMicros].filter { !$0.isEmpty } : (fromMicros < toMicros ? [fromMicros..<toMicros] : [])
            hours = firstHour..<firstHour
            days = firstHour..<firstHour
            return
        }
        raw = [fromMicros..<(firstHour * 1_000_000), (endHour * 1_000_000)..<toMicros].filter { !$0.isEmpty }
        hours = firstHour..<endHour
        let firstDay = UTCTime.ceilDivide(firstHour, day) * day
        let endDay = UTCTime.floorDivide(endHour, day) * day
        days = firstDay < endDay ? firstDay..<endDay : endHour..<endHour
    }

    /// The start (Unix seconds) of the hour holding a raw range.
    static func hour(of range: Range<Int64>) -> Int64 {
        UTCTime.hourStart(micros: range.lowerBound)
    }
}
