import Testing
import Time
@testable import Query

/// Where a window is cut into raw edges, whole hours and whole days.
@Suite struct MetricsWindowSplitTests {
    static func t(_ text: String) -> Int64 { UTCTime.parseRFC3339(text)! }
    static func s(_ text: String) -> Int64 { t(text) / 1_000_000 }

    @Test func unalignedWindowOverSeveralDays() {
        let split = MetricsWindowSplit(fromMicros: Self.t("2025-11-15T13:27:05.5Z"), toMicros: Self.t("2025-12-15T13:27:05Z"))
        #expect(split.raw == [Self.t("2025-11-15T13:27:05.5Z")..<Self.t("2025-11-15T14:00:00Z"), Self.t("2025-12-15T13:00:00Z")..<Self.t("2025-12-15T13:27:05Z")])
        #expect(split.hours == Self.s("2025-11-15T14:00:00Z")..<Self.s("2025-12-15T13:00:00Z"))
        #expect(split.days == Self.s("2025-11-16T00:00:00Z")..<Self.s("2025-12-15T00:00:00Z"))
        #expect(split.edgeHours == [Self.s("2025-11-15T14:00:00Z")..<Self.s("2025-11-16T00:00:00Z"), Self.s("2025-12-15T00:00:00Z")..<Self.s("2025-12-15T13:00:00Z")])
    }

    @Test func alignedDaysNeedNoRawAndNoHours() {
        let split = MetricsWindowSplit(fromMicros: Self.t("2025-11-29T00:00:00Z"), toMicros: Self.t("2025-12-01T00:00:00Z"))
        #expect(split.raw.isEmpty)
        #expect(split.days == Self.s("2025-11-29T00:00:00Z")..<Self.s("2025-12-01T00:00:00Z"))
        #expect(split.edgeHours.isEmpty)
    }

    @Test func hoursWithoutAWholeDay() {
        // 20:00 to 05:00 the next day: no whole day, nine hours across midnight.
        let split = MetricsWindowSplit(fromMicros: Self.t("2025-11-29T20:00:00Z"), toMicros: Self.t("2025-11-30T05:00:00Z"))
        #expect(split.raw.isEmpty)
        #expect(split.days.isEmpty)
        #expect(split.edgeHours == [Self.s("2025-11-29T20:00:00Z")..<Self.s("2025-11-30T05:00:00Z")])
    }

    @Test func insideOneHourOrAcrossOneBoundaryIsAllRaw() {
        let inside = MetricsWindowSplit(fromMicros: Self.t("2025-11-29T10:05:00Z"), toMicros: Self.t("2025-11-29T10:55:00Z"))
        #expect(inside.raw == [Self.t("2025-11-29T10:05:00Z")..<Self.t("2025-11-29T10:55:00Z")])
        #expect(inside.hours.isEmpty && inside.days.isEmpty && inside.edgeHours.isEmpty)
        let across = MetricsWindowSplit(fromMicros: Self.t("2025-11-29T10:30:00Z"), toMicros: Self.t("2025-11-29T11:20:00Z"))
        #expect(across.raw == [Self.t("2025-11-29T10:30:00Z")..<Self.t("2025-11-29T11:00:00Z"), Self.t("2025-11-29T11:00:00Z")..<Self.t("2025-11-29T11:20:00Z")])
        #expect(across.hours.isEmpty)
        let oneHour = MetricsWindowSplit(fromMicros: Self.t("2025-11-29T10:00:00Z"), toMicros: Self.t("2025-11-29T11:00:00Z"))
        #expect(oneHour.raw.isEmpty && oneHour.hours.count == 3_600 && oneHour.days.isEmpty)
    }

    /// Random windows: the pieces are disjoint, in order, and cover the window exactly; each raw piece
    /// lies inside one hour.
    @Test func piecesTileTheWindow() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5_000 {
            let from = Int64.random(in: 0..<(40 * 86_400_000_000), using: &generator)
            let to = from + Int64.random(in: 1..<(10 * 86_400_000_000), using: &generator) / Int64([1, 1_000, 1_000_000].randomElement(using: &generator)!)
            let split = MetricsWindowSplit(fromMicros: from, toMicros: to)
            var pieces = split.raw
            pieces += split.edgeHours.map { ($0.lowerBound * 1_000_000)..<($0.upperBound * 1_000_000) }
            if !split.days.isEmpty { pieces.append((split.days.lowerBound * 1_000_000)..<(split.days.upperBound * 1_000_000)) }
            pieces.sort { $0.lowerBound < $1.lowerBound }
            #expect(pieces.allSatisfy { !$0.isEmpty })
            #expect(pieces.first?.lowerBound == from && pieces.last?.upperBound == to)
            #expect(zip(pieces, pieces.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
            #expect(split.days.isEmpty || split.days.lowerBound % 86_400 == 0)
            #expect(split.hours.lowerBound % 3_600 == 0)
            #expect(split.raw.allSatisfy { MetricsWindowSplit.hour(of: $0) == MetricsWindowSplit.hour(of: ($0.upperBound - 1)..<$0.upperBound) })
        }
    }
}
