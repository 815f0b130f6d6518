import Foundation
import Testing
@testable import Time

@Suite struct UTCTimeTests {
    @Test(arguments: [
        ("2025-11-29T00:00:00Z", Int64(1_764_374_400_000_000)),
        ("2025-11-29t00:00:00z", 1_764_374_400_000_000),
        ("2025-11-29 00:00:00Z", 1_764_374_400_000_000),
        ("2025-11-29T01:00:00+01:00", 1_764_374_400_000_000),
        ("2025-11-29T01:00:00 01:00", 1_764_374_400_000_000),  // '+' decoded as a space
        ("2025-11-28T23:00:00-01:00", 1_764_374_400_000_000),
        ("2025-11-29T00:00:00.5Z", 1_764_374_400_500_000),
        ("2025-11-29T00:00:00.123456789Z", 1_764_374_400_123_456),
        ("1970-01-01T00:00:00Z", 0),
        ("2024-02-29T12:00:00Z", 1_709_208_000_000_000),
        ("9999-12-31T23:59:59Z", 253_402_300_799_000_000),
        ("2016-12-31T23:59:60Z", 1_483_228_800_000_000),  // a leap second: the next minute's first second
    ])
    func parsesRFC3339(_ text: String, _ micros: Int64) {
        #expect(UTCTime.parseRFC3339(text) == micros)
    }

    @Test(arguments: [
        "", "2025-11-29", "2025-11-29T00:00:00", "2025-13-01T00:00:00Z", "2025-02-29T00:00:00Z", "2025-11-31T00:00:00Z",
        "2025-11-29T24:00:00Z", "2025-11-29T00:60:00Z", "2025-11-29T00:00:00.Z", "2025-11-29T00:00:00+1:00",
        "2025-11-29T00:00:00Zjunk", "1969-12-31T23:59:59Z", "2025-1-29T00:00:00Z", "１２３４-11-29T00:00:00Z",
    ])
    func rejectsMalformed(_ text: String) {
        #expect(UTCTime.parseRFC3339(text) == nil)
    }

    @Test func formatsKeysAndTimes() {
        let micros = UTCTime.parseRFC3339("2024-02-29T23:59:59.250Z")!
        #expect(UTCTime.rfc3339(micros) == "2024-02-29T23:59:59.25Z")
        #expect(UTCTime.rfc3339Micros(micros) == "2024-02-29T23:59:59.250000Z")
        #expect(UTCTime.rfc3339(0) == "1970-01-01T00:00:00Z")
        #expect(UTCTime.dayKey(seconds: micros / 1_000_000) == "2024-02-29")
        #expect(UTCTime.hourKey(seconds: micros / 1_000_000) == "2024-02-29T23:00:00Z")
    }

    @Test func roundTripsAgainstFoundation() {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let seconds = Int64.random(in: 0..<253_402_300_800, using: &generator)
            let text = UTCTime.rfc3339(seconds * 1_000_000)
            #expect(text == formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds))))
            #expect(UTCTime.parseRFC3339(text) == seconds * 1_000_000)
        }
    }
}
