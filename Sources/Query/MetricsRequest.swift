import APISupport
import Foundation
import Time

/// A validated `GET /metrics` question.
///
/// Window rules (half-open, `[from, to)`):
/// - both `from` and `to` omitted: the 30 days before now;
/// - only `from`: up to now;
/// - only `to`: the 30 days before `to`;
/// - `from` ≥ `to`, or a window longer than `maxWindowDays` (400 by default): 400.
///
/// `from`/`to` are Unix seconds (digits only) or RFC 3339; "now" is truncated to the second.
public struct MetricsRequest: Sendable, Hashable {
    public enum GroupBy: String, Sendable, CaseIterable {
        case channel, hour, day, week, month, campaign, none

        /// Whether the groups are time buckets (of ``MetricsRequest/timeZone``).
        public var isTime: Bool { self == .hour || self == .day || self == .week || self == .month }
    }

    public var eventName: String
    /// Inclusive start, microseconds since the Unix epoch.
    public var fromMicros: Int64
    /// Exclusive end, microseconds since the Unix epoch.
    public var toMicros: Int64
    public var channel: String?
    /// The `campaign_id` filter: a campaign, ``noCampaign`` (`campaign_id=` given empty: the events
    /// without a campaign), or nil (every event).
    public var campaignID: String?
    public var groupBy: GroupBy
    /// The zone of the time buckets (`tz`, an IANA name; UTC by default). It changes nothing but the
    /// buckets of `group_by=hour|day|week|month`.
    public var timeZone: TimeZone

    public static let defaultWindowDays = 30
    public static let defaultMaxWindowDays = 400
    /// Longest accepted event name or channel, in UTF-8 bytes.
    public static let maxNameBytes = 1024
    /// Longest accepted `campaign_id`: what ingest accepts (``Events/EventLimits/maxCampaignIDBytes``'s
    /// default), so a longer one could never match.
    public static let maxCampaignIDBytes = 100
    /// The `campaign_id` filter value, and the `group_by=campaign` key, of events without a campaign:
    /// the empty string, which no stored campaign has (ingest turns an empty `campaign_id` into none).
    public static let noCampaign = ""

    public init(
        eventName: String, fromMicros: Int64, toMicros: Int64, channel: String? = nil, campaignID: String? = nil, groupBy: GroupBy = .channel,
        timeZone: TimeZone = MetricsRequest.utc
    ) {
        self.timeZone = timeZone
        self.campaignID = campaignID
        self.eventName = eventName
        self.fromMicros = fromMicros
        self.toMicros = toMicros
        self.channel = channel
        self.groupBy = groupBy
    }

    /// Parses query parameters (percent-decoded). Unknown parameters are ignored; a known one given
    /// twice is a 400, since which one wins would otherwise be a guess.
    public static func parse(
        _ parameters: some Sequence<(key: String, value: String)>,
        nowMicros: Int64,
        maxWindowDays: Int = defaultMaxWindowDays
    ) throws(APIError) -> MetricsRequest {
        var values: [String: String] = [:]
        for (key, value) in parameters where ["event_name", "from", "to", "channel", "campaign_id", "group_by", "tz"].contains(key) {
            guard values[key] == nil else {
                throw .badRequest("invalid_parameter", "\(key) is given more than once", field: key)
            }
            values[key] = value
        }

        guard let eventName = values["event_name"], !eventName.isEmpty else {
            throw .badRequest("missing_parameter", "event_name is required", field: "event_name")
        }
        try checkName(eventName, field: "event_name")

        var channel: String?
        if let value = values["channel"] {
            guard !value.isEmpty else {
                throw .badRequest("invalid_parameter", "channel must not be empty; omit it to count every channel", field: "channel")
            }
            try checkName(value, field: "channel")
            channel = value
        }

        var campaignID: String?
        if let value = values["campaign_id"] {
            guard value.utf8.count <= maxCampaignIDBytes else {
                throw .badRequest("invalid_parameter", "campaign_id is longer than \(maxCampaignIDBytes) bytes (the longest an event may carry)", field: "campaign_id")
            }
            try checkName(value, field: "campaign_id")
            campaignID = value
        }

        var groupBy = GroupBy.channel
        if let value = values["group_by"] {
            guard let parsed = GroupBy(rawValue: value) else {
                let allowed = GroupBy.allCases.map(\.rawValue).joined(separator: ", ")
                throw .badRequest("invalid_parameter", "group_by must be one of: \(allowed)", field: "group_by")
            }
            groupBy = parsed
        }

        var timeZone = utc
        if let value = values["tz"] {
            guard let zone = zone(named: value) else {
                throw .badRequest("invalid_parameter", "tz must be an IANA time zone name such as UTC, Europe/Istanbul or America/New_York", field: "tz")
            }
            timeZone = zone
        }

        let now = nowMicros - nowMicros % UTCTime.microsPerSecond
        let window = Int64(defaultWindowDays) * UTCTime.microsPerDay
        let from = try values["from"].map { (text) throws(APIError) in try parseTime(text, field: "from") }
        let to = try values["to"].map { (text) throws(APIError) in try parseTime(text, field: "to") }
        var (start, end): (Int64, Int64) =
            switch (from, to) {
            case (nil, nil): (now - window, now)
            case (let from?, nil): (from, now)
            case (nil, let to?): (to - window, to)
            case (let from?, let to?): (from, to)
            }
        start = max(start, 0)  // the supported range starts at the Unix epoch
        guard start < end else {
            let message = to == nil
                ? "from must be before to, which defaults to now (\(UTCTime.rfc3339(end)))"
                : "from must be before to (the window is [from, to))"
            throw .badRequest("invalid_time_range", message, field: "from")
        }
        guard end - start <= Int64(maxWindowDays) * UTCTime.microsPerDay else {
            throw .badRequest("invalid_time_range", "the window from \(UTCTime.rfc3339(start)) to \(UTCTime.rfc3339(end)) is longer than the maximum of \(maxWindowDays) days", field: "from")
        }
        let request = MetricsRequest(
            eventName: eventName, fromMicros: start, toMicros: end, channel: channel, campaignID: campaignID, groupBy: groupBy, timeZone: timeZone)
        return request
    }

    /// Whether the answer reads the campaign rollups (`rollup_campaign_…`).
    public var usesCampaigns: Bool { campaignID != nil || groupBy == .campaign }

    /// Whether the buckets are not UTC hours or days (weeks, months, days in another zone, hours in a
    /// zone whose offset is not whole hours): ``LocalBucketQuery`` answers those.
    public var needsLocalBuckets: Bool {
        groupBy == .week || groupBy == .month || (!Self.isUTC(timeZone) && groupBy == .day) || (groupBy == .hour && !hasWholeHourOffsets)
    }

    public static let utc = TimeZone(identifier: "UTC")!

    /// Whether ``timeZone``'s offset is a whole number of hours everywhere in the window (at its start
    /// and after every transition inside it): then its local hours are UTC hours.
    public var hasWholeHourOffsets: Bool {
        let end = Date(timeIntervalSince1970: TimeInterval(UTCTime.ceilDivide(toMicros, UTCTime.microsPerSecond)))
        var instant = Date(timeIntervalSince1970: TimeInterval(UTCTime.seconds(micros: fromMicros)))
        while true {
            guard timeZone.secondsFromGMT(for: instant) % 3_600 == 0 else { return false }
            guard let next = timeZone.nextDaylightSavingTimeTransition(after: instant), next < end else { return true }
            instant = next
        }
    }

    /// Whether buckets in `zone` are UTC buckets (the rollups' own, with the keys of before `tz`).
    /// (Foundation names the zone `UTC` `GMT`.)
    public static func isUTC(_ zone: TimeZone) -> Bool { zone.identifier == "UTC" || zone.identifier == "GMT" }

    /// The name of `zone` as the API writes it: `UTC` for UTC, else its IANA name.
    public static func name(of zone: TimeZone) -> String { isUTC(zone) ? "UTC" : zone.identifier }

    /// Foundation's list of zone names (ICU's: it spells some names the old way, e.g. `Asia/Calcutta`).
    private static let knownZones = Set(TimeZone.knownTimeZoneIdentifiers)

    /// An IANA zone name from the system's tz database (`UTC` too); nil for anything else, including
    /// offsets and abbreviations that `TimeZone(identifier:)` would also take. A name counts when
    /// Foundation lists it or the tz database has a file of that name (`Asia/Kolkata`), so the zones
    /// are the ones PostgreSQL, reading the same database, knows too.
    public static func zone(named name: String) -> TimeZone? {
        if name == "UTC" { return utc }
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
                || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "+")
        }
        guard allowed, !name.isEmpty, name.utf8.count <= 64, !name.hasPrefix("/"), !name.contains("..") else { return nil }
        guard knownZones.contains(name) || isZoneFile(name) else { return nil }
        return TimeZone(identifier: name)
    }

    private static func isZoneFile(_ name: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: "/usr/share/zoneinfo/" + name, isDirectory: &isDirectory) && !isDirectory.boolValue
    }

    private static func checkName(_ value: String, field: String) throws(APIError) {
        guard value.utf8.count <= maxNameBytes else {
            throw .badRequest("invalid_parameter", "\(field) is longer than \(maxNameBytes) bytes", field: field)
        }
        guard !value.utf8.contains(0) else {
            throw .badRequest("invalid_parameter", "\(field) must not contain NUL characters", field: field)
        }
    }

    /// Unix seconds (digits only) or RFC 3339.
    static func parseTime(_ text: String, field: String) throws(APIError) -> Int64 {
        if !text.isEmpty, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) {
            guard text.utf8.count <= 12, let seconds = Int64(text), seconds * UTCTime.microsPerSecond < UTCTime.maxMicros else {
                throw .badRequest("invalid_parameter", "\(field) is out of range (years 1970 to 9999)", field: field)
            }
            return seconds * UTCTime.microsPerSecond
        }
        guard let micros = UTCTime.parseRFC3339(text) else {
            throw .badRequest(
                "invalid_parameter",
                "\(field) must be Unix seconds (e.g. 1764450000) or RFC 3339 (e.g. 2025-11-29T21:00:00Z), years 1970 to 9999",
                field: field)
        }
        return micros
    }
}
