import Foundation
import Rollups
import Store
import TestSupport
import Testing
import Time
@testable import Query

/// The rollup plan against independent SQL over raw rows: exact, for every kind of window.
@Suite struct RollupMetricsTests {
    static let base: Int64 = 1_764_374_400_000_000  // 2025-11-29T00:00:00Z
    static let hour: Int64 = 3_600_000_000
    static let day: Int64 = 86_400_000_000
    static let names = ["add_to_cart", "purchase", "view_é"]
    static let channels = ["web", "app", "móvil", "email"]

    /// Events over ten days, plus some exactly on hour and day boundaries (and a microsecond before).
    static func events() -> [SeedEvent] {
        var generator = SystemRandomNumberGenerator()
        var events = (0..<4_000).map { _ in
            SeedEvent(
                name: names.randomElement(using: &generator)!, channel: channels.randomElement(using: &generator)!,
                user: "user_\(Int.random(in: 0..<80, using: &generator))", micros: base + Int64.random(in: 0..<(10 * day), using: &generator))
        }
        for k in 0..<60 {
            let boundary = base + Int64(k) * (k % 2 == 0 ? day / 6 : hour)
            for micros in [boundary, boundary - 1] {
                events.append(SeedEvent(name: names[k % 3], channel: channels[k % 4], user: "edge_\(k % 7)", micros: micros))
            }
        }
        return events
    }

    /// A window of one of the shapes the planner must handle.
    static func window(using generator: inout SystemRandomNumberGenerator) -> (Int64, Int64) {
        func instant() -> Int64 { base - day + Int64.random(in: 0..<(12 * day), using: &generator) }
        func aligned(_ unit: Int64) -> Int64 { (instant() / unit) * unit }
        switch Int.random(in: 0..<9, using: &generator) {
        case 0:  // partial hours and partial days at both edges
            let from = instant()
            return (from, from + Int64.random(in: (2 * day)..<(8 * day), using: &generator))
        case 1:  // inside one hour
            let start = aligned(hour)
            let a = Int64.random(in: 0..<hour, using: &generator), b = Int64.random(in: 0..<hour, using: &generator)
            return (start + min(a, b), start + max(a, b) + 1)
        case 2:  // across one hour boundary, no whole hour
            let boundary = aligned(hour)
            return (boundary - Int64.random(in: 1..<hour, using: &generator), boundary + Int64.random(in: 1..<hour, using: &generator))
        case 3:  // whole hours only
            let from = aligned(hour)
            return (from, from + Int64.random(in: 1...40, using: &generator) * hour)
        case 4:  // whole days
            let from = aligned(day)
            return (from, from + Int64.random(in: 1...5, using: &generator) * day)
        case 5:  // whole days plus partial hours, aligned to hours at one end
            let from = aligned(day) - Int64.random(in: 1...23, using: &generator) * hour
            return (from, from + 3 * day + Int64.random(in: 1..<day, using: &generator))
        case 6:  // empty: before all data, or after it
            return Bool.random(using: &generator) ? (base - 3 * day + 17, base - day - 5) : (base + 11 * day, base + 13 * day + 99)
        case 7:  // starting or ending exactly on an hour with events on both sides
            let boundary = base + Int64.random(in: 0..<60, using: &generator) * hour
            return Bool.random(using: &generator) ? (boundary, boundary + Int64.random(in: 1..<(3 * day), using: &generator)) : (boundary - Int64.random(in: 1..<(3 * day), using: &generator), boundary)
        default:  // everything
            return (base - day, base + 11 * day)
        }
    }


    @Test func randomizedWindowsEqualRawSQL() async throws {
        var generator = SystemRandomNumberGenerator()
        try await withSeededService(Self.events()) { service, check, _ in
            var shapesSeen = 0
            for _ in 0..<120 {
                let (from, to) = Self.window(using: &generator)
                let name = Self.names.randomElement(using: &generator)!
                let channel: String? = Bool.random(using: &generator) ? Self.channels.randomElement(using: &generator)! : nil
                for groupBy in MetricsRequest.GroupBy.allCases {
                    let request = MetricsRequest(eventName: name, fromMicros: from, toMicros: to, channel: channel, groupBy: groupBy)
                    let expected = try await MetricsOracle.answer(check, name: name, from: from, to: to, channel: channel, groupBy: groupBy)
                    let rollups = try await service.metrics(for: request)
                    let plain = try await service.metrics(for: request, strategy: .plainSQL)
                    #expect(rollups == expected, "rollups: \(name) [\(UTCTime.rfc3339(from)), \(UTCTime.rfc3339(to))) channel \(channel ?? "-") by \(groupBy)")
                    #expect(plain == expected, "plain SQL: \(name) [\(UTCTime.rfc3339(from)), \(UTCTime.rfc3339(to))) channel \(channel ?? "-") by \(groupBy)")
                    if expected.totalCount > 0 { shapesSeen += 1 }
                }
            }
            #expect(shapesSeen > 200)
        }
    }

    /// Until the rollups cover every row, answers come from raw SQL, and they are still exact.
    @Test func incompleteRollupsFallBackToRawSQL() async throws {
        try await withSeededService(Self.events(), prepare: { connection in
            try connection.executeScript("DELETE FROM rollup_hourly; DELETE FROM rollup_daily")
            try RollupStatus.setComplete(false, on: connection)
        }) { service, check, _ in
            let (from, to) = (Self.base + 5 * Self.hour + 17, Self.base + 4 * Self.day - 3)
            let request = MetricsRequest(eventName: "purchase", fromMicros: from, toMicros: to, groupBy: .day)
            let expected = try await MetricsOracle.answer(check, name: "purchase", from: from, to: to, channel: nil, groupBy: .day)
            #expect(expected.totalCount > 0)
            #expect(try await service.metrics(for: request) == expected)
        }
    }

    /// A stored bitmap that is not a Roaring bitmap fails the query (500), never a wrong number.
    @Test func corruptBitmapIsAnErrorNotAWrongAnswer() async throws {
        try await withSeededService(Self.events(), prepare: { connection in
            try connection.executeScript(#"UPDATE rollup_daily SET users = '\x3a30000001000000' WHERE channel = ''"#)
        }) { service, _, _ in
            let request = MetricsRequest(eventName: "purchase", fromMicros: Self.base, toMicros: Self.base + 3 * Self.day, groupBy: .none)
            await #expect(throws: (any Error).self) { try await service.metrics(for: request) }
        }
    }
}
