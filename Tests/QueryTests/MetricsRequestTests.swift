import APISupport
import Testing
import Time
@testable import Query

@Suite struct MetricsRequestTests {
    let now = UTCTime.parseRFC3339("2025-12-15T12:00:00.750Z")!
    let nowSecond = UTCTime.parseRFC3339("2025-12-15T12:00:00Z")!
    let day: Int64 = 86_400_000_000

    func parse(_ pairs: [String: String]) throws(APIError) -> MetricsRequest {
        try MetricsRequest.parse(params(pairs), nowMicros: now)
    }

    @Test func defaultsToTheLastThirtyDaysGroupedByChannel() throws {
        let request = try parse(["event_name": "add_to_cart"])
        #expect(request == MetricsRequest(eventName: "add_to_cart", fromMicros: nowSecond - 30 * day, toMicros: nowSecond, channel: nil, groupBy: .channel))
    }

    @Test func onlyFromRunsToNowAndOnlyToLooksBackThirtyDays() throws {
        let from = try parse(["event_name": "e", "from": "1764450000"])
        #expect(from.fromMicros == 1_764_450_000_000_000)
        #expect(from.toMicros == nowSecond)
        let to = try parse(["event_name": "e", "to": "2025-12-01T00:00:00Z"])
        #expect(to.toMicros == UTCTime.parseRFC3339("2025-12-01T00:00:00Z")!)
        #expect(to.fromMicros == UTCTime.parseRFC3339("2025-11-01T00:00:00Z")!)
    }

    @Test func acceptsUnixSecondsAndRFC3339() throws {
        let request = try parse(["event_name": "e", "from": "1764450000", "to": "2025-12-01T22:00:00+01:00", "channel": "web", "group_by": "day"])
        #expect(request.fromMicros == 1_764_450_000_000_000)
        #expect(request.toMicros == UTCTime.parseRFC3339("2025-12-01T21:00:00Z")!)
        #expect(request.channel == "web")
        #expect(request.groupBy == .day)
    }

    /// `campaign_id` alone or with a channel, `group_by=campaign` in any zone, and the filter with UTC
    /// hours or days (or hours of a whole-hour zone); an empty `campaign_id` selects events without one.
    @Test func acceptsCampaignFiltersAndGroups() throws {
        #expect(try parse(["event_name": "e", "campaign_id": "spring", "channel": "web"]).campaignID == "spring")
        #expect(try parse(["event_name": "e", "campaign_id": ""]).campaignID == MetricsRequest.noCampaign)
        #expect(try parse(["event_name": "e", "campaign_id": String(repeating: "c", count: 100), "group_by": "day"]).usesCampaigns)
        #expect(try parse(["event_name": "e", "group_by": "campaign", "tz": "Asia/Kathmandu"]).groupBy == .campaign)
        #expect(try parse(["event_name": "e", "campaign_id": "c", "group_by": "hour", "tz": "America/New_York"]).campaignID == "c")
        #expect(try parse(["event_name": "e"]).usesCampaigns == false)
    }

    @Test(arguments: [
        ([:], "event_name", "missing_parameter"),
        (["event_name": ""], "event_name", "missing_parameter"),
        (["event_name": "e", "group_by": "quarter"], "group_by", "invalid_parameter"),
        (["event_name": "e", "group_by": ""], "group_by", "invalid_parameter"),
        (["event_name": "e", "from": "yesterday"], "from", "invalid_parameter"),
        (["event_name": "e", "to": "2025-11-31T00:00:00Z"], "to", "invalid_parameter"),
        (["event_name": "e", "from": "-5"], "from", "invalid_parameter"),
        (["event_name": "e", "from": "99999999999999"], "from", "invalid_parameter"),
        (["event_name": "e", "from": "1764450000", "to": "1764450000"], "from", "invalid_time_range"),
        (["event_name": "e", "from": "1764450001", "to": "1764450000"], "from", "invalid_time_range"),
        (["event_name": "e", "from": "2030-01-01T00:00:00Z"], "from", "invalid_time_range"),
        (["event_name": "e", "from": "2020-01-01T00:00:00Z", "to": "2021-02-05T00:00:00Z"], "from", "invalid_time_range"),
        (["event_name": "e", "channel": ""], "channel", "invalid_parameter"),
        (["event_name": "e\u{0}"], "event_name", "invalid_parameter"),
        (["event_name": String(repeating: "x", count: 1025)], "event_name", "invalid_parameter"),
        (["event_name": "e", "campaign_id": String(repeating: "c", count: 101)], "campaign_id", "invalid_parameter"),
        (["event_name": "e", "campaign_id": "c\u{0}"], "campaign_id", "invalid_parameter"),
    ] as [([String: String], String, String)])
    func rejectsWithTheField(_ pairs: [String: String], _ field: String, _ code: String) {
        do {
            let request = try parse(pairs)
            Issue.record("accepted \(request)")
        } catch {
            #expect(error.status == .badRequest)
            #expect(error.field == field)
            #expect(error.code == code)
        }
    }

    @Test func groupByErrorListsTheAllowedValues() {
        do {
            _ = try parse(["event_name": "e", "group_by": "quarter"])
        } catch {
            #expect(error.message == "group_by must be one of: channel, hour, day, week, month, campaign, none")
        }
    }

    @Test func windowOfExactlyTheMaximumIsAccepted() throws {
        let request = try parse(["event_name": "e", "from": "2024-01-01T00:00:00Z", "to": "2025-02-04T00:00:00Z"])
        #expect(request.toMicros - request.fromMicros == 400 * day)
    }

    @Test func repeatedParameterIsRejectedAndUnknownOnesIgnored() throws {
        do {
            _ = try MetricsRequest.parse([(key: "event_name", value: "a"), (key: "event_name", value: "b")], nowMicros: now)
            Issue.record("accepted")
        } catch {
            #expect(error.field == "event_name")
        }
        #expect(try parse(["event_name": "e", "utm_source": "x"]).eventName == "e")
    }

    @Test func planKeepsInputOutOfTheSQL() {
        let hostile = "x'; DROP TABLE events; --"
        for groupBy in MetricsRequest.GroupBy.allCases {
            let plan = MetricsPlanner.plan(MetricsRequest(eventName: hostile, fromMicros: 0, toMicros: day, channel: hostile, groupBy: groupBy))
            #expect(!plan.sql.contains(hostile))
            #expect(!plan.sql.contains("DROP"))
            // Weeks and months truncate in the zone, which travels as one more parameter.
            let zone: [String?] = groupBy == .week || groupBy == .month ? ["GMT"] : []
            #expect(plan.parameters == [hostile, "1970-01-01T00:00:00.000000Z", "1970-01-02T00:00:00.000000Z", hostile] + zone)
        }
        #expect(MetricsPlanner.plan(MetricsRequest(eventName: "e", fromMicros: 0, toMicros: day)).parameters.count == 3)
    }
}
