import Bitmaps
import Testing
@testable import Rollups

/// Folding per-channel hourly groups into the four kinds of row, without a database.
@Suite struct RollupDeltasTests {
    let day: Int64 = 1_764_374_400  // 2025-11-29T00:00:00Z

    @Test func foldsIntoHourAndDayPerChannelAndOverAll() {
        var deltas = RollupDeltas()
        deltas.add(eventName: "view", channel: "web", campaign: nil, hourStart: day + 3_600, count: 3, uids: [1, 2, 2])
        deltas.add(eventName: "view", channel: "app", campaign: nil, hourStart: day + 3_600 + 59, count: 1, uids: [2])  // any instant of the hour
        deltas.add(eventName: "view", channel: "web", campaign: nil, hourStart: day + 7_200, count: 2, uids: [3, 1])
        deltas.add(eventName: "view", channel: "web", campaign: nil, hourStart: day + 86_400, count: 1, uids: [9])  // next day
        deltas.add(eventName: "view", channel: "web", campaign: nil, hourStart: day + 3_600, count: 1, uids: [5])  // same group again
        #expect(deltas.eventCount == 8)

        let hourly = deltas.rows(for: .hourly).map { ($0.key, $0.total, $0.users.values) }
        #expect(hourly.map(\.0) == [
            RollupKey(eventName: "view", bucket: day + 3_600, channel: ""),
            RollupKey(eventName: "view", bucket: day + 3_600, channel: "app"),
            RollupKey(eventName: "view", bucket: day + 3_600, channel: "web"),
            RollupKey(eventName: "view", bucket: day + 7_200, channel: ""),
            RollupKey(eventName: "view", bucket: day + 7_200, channel: "web"),
            RollupKey(eventName: "view", bucket: day + 86_400, channel: ""),
            RollupKey(eventName: "view", bucket: day + 86_400, channel: "web"),
        ])
        #expect(hourly.map(\.1) == [5, 1, 4, 2, 2, 1, 1])
        #expect(hourly.map(\.2) == [[1, 2, 5], [2], [1, 2, 5], [1, 3], [1, 3], [9], [9]])

        let daily = deltas.rows(for: .daily).map { ($0.key, $0.total, $0.users.values) }
        #expect(daily.map(\.0) == [
            RollupKey(eventName: "view", bucket: day, channel: ""),
            RollupKey(eventName: "view", bucket: day, channel: "app"),
            RollupKey(eventName: "view", bucket: day, channel: "web"),
            RollupKey(eventName: "view", bucket: day + 86_400, channel: ""),
            RollupKey(eventName: "view", bucket: day + 86_400, channel: "web"),
        ])
        #expect(daily.map(\.1) == [7, 1, 6, 1, 1])
        #expect(daily.map(\.2) == [[1, 2, 3, 5], [2], [1, 2, 3, 5], [9], [9]])
    }

    /// The campaign tables get the same rows per campaign (one per channel and one over all
    /// channels); the main tables merge the campaigns.
    @Test func campaignRowsArePerCampaignWithAllChannelsRows() {
        var deltas = RollupDeltas()
        deltas.add(eventName: "view", channel: "web", campaign: "spring", hourStart: day, count: 2, uids: [1, 2])
        deltas.add(eventName: "view", channel: "app", campaign: "spring", hourStart: day, count: 1, uids: [3])
        deltas.add(eventName: "view", channel: "web", campaign: nil, hourStart: day, count: 1, uids: [1])
        let campaign = deltas.campaignRows(for: .daily).map { ($0.key, $0.total, $0.users.values) }
        #expect(campaign.map(\.0) == [
            RollupKey(eventName: "view", bucket: day, campaign: "", channel: ""),
            RollupKey(eventName: "view", bucket: day, campaign: "", channel: "web"),
            RollupKey(eventName: "view", bucket: day, campaign: "spring", channel: ""),
            RollupKey(eventName: "view", bucket: day, campaign: "spring", channel: "app"),
            RollupKey(eventName: "view", bucket: day, campaign: "spring", channel: "web"),
        ])
        #expect(campaign.map(\.1) == [1, 1, 3, 1, 2])
        #expect(campaign.map(\.2) == [[1], [1], [1, 2, 3], [3], [1, 2]])
        let main = deltas.rows(for: .daily).map { ($0.key.channel, $0.total, $0.users.values) }
        #expect(main.map(\.0) == ["", "app", "web"])
        #expect(main.map(\.1) == [4, 1, 3])
        #expect(main.map(\.2) == [[1, 2, 3], [3], [1, 2]])
    }

    /// "é" precomposed and decomposed are equal Swift Strings but different PostgreSQL text.
    @Test func namesAreComparedByBytes() {
        var deltas = RollupDeltas()
        deltas.add(eventName: "caf\u{E9}", channel: "web", campaign: nil, hourStart: day, count: 1, uids: [1])
        deltas.add(eventName: "cafe\u{301}", channel: "web", campaign: nil, hourStart: day, count: 1, uids: [2])
        deltas.add(eventName: "x", channel: "m\u{F3}vil", campaign: nil, hourStart: day, count: 1, uids: [3])
        deltas.add(eventName: "x", channel: "mo\u{301}vil", campaign: nil, hourStart: day, count: 1, uids: [4])
        let rows = deltas.rows(for: .daily)
        #expect(rows.count == 7)  // two names × (web + all), and x: two channels + all
        #expect(rows.filter { $0.key.eventName == "x" && !$0.key.isAllChannels }.map { $0.users.values } == [[4], [3]])
    }

    @Test func bucketsFloorBeforeTheEpochToo() {
        #expect(RollupTable.hourly.bucket(containing: 7_199) == 3_600)
        #expect(RollupTable.daily.bucket(containing: 86_399) == 0)
        #expect(RollupTable.daily.bucket(containing: -1) == -86_400)
    }
}
