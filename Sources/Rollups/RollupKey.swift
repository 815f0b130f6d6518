/// One rollup row's primary key.
public struct RollupKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The channel of the all-channels rows. No event has it: events with an empty channel are refused
    /// at ingest and by the `events_channel_not_empty` constraint.
    public static let allChannels = ""

    public var eventName: String
    /// Start of the hour or day, Unix seconds (UTC).
    public var bucket: Int64
    /// A channel, or ``allChannels``.
    public var channel: String
    /// The campaign of a row of the campaign tables (`0005_campaign_rollups.sql`): a `campaign_id`,
    /// or ``noCampaign``. Always ``noCampaign`` for the other tables, which have no campaign column.
    public var campaign: String

    /// The campaign of events without a `campaign_id` (stored NULL in `events`; the parser never
    /// keeps an empty one, so no real campaign has this id).
    public static let noCampaign = ""

    public init(eventName: String, bucket: Int64, campaign: String = RollupKey.noCampaign, channel: String) {
        self.eventName = eventName
        self.bucket = bucket
        self.campaign = campaign
        self.channel = channel
    }

    public var isAllChannels: Bool { channel == Self.allChannels }

    /// Names compare as PostgreSQL compares `text` for equality, byte for byte: Swift's `String ==`
    /// would merge canonically equivalent spellings ("é" and "e\u{301}") that are distinct rows.
    public static func == (lhs: RollupKey, rhs: RollupKey) -> Bool {
        lhs.bucket == rhs.bucket && sameBytes(lhs.eventName, rhs.eventName) && sameBytes(lhs.channel, rhs.channel)
            && sameBytes(lhs.campaign, rhs.campaign)
    }

    /// Hashes the UTF-8 bytes of each name as one buffer, each followed by its length (so the names'
    /// boundaries count). Hashing them byte by byte (`combine(UInt8)` per byte) was a tenth of the
    /// replayer's CPU with 100 campaigns: every batch groups thousands of keys once per table and level.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(bucket)
        Self.combineBytes(of: eventName, into: &hasher)
        Self.combineBytes(of: channel, into: &hasher)
        Self.combineBytes(of: campaign, into: &hasher)
    }

    private static func combineBytes(of name: String, into hasher: inout Hasher) {
        var name = name
        name.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        hasher.combine(name.utf8.count)
    }

    /// Byte equality over the contiguous UTF-8 storage (`elementsEqual` on the views walks them
    /// through the generic iterator).
    private static func sameBytes(_ lhs: String, _ rhs: String) -> Bool {
        guard lhs.utf8.count == rhs.utf8.count else { return false }
        var (lhs, rhs) = (lhs, rhs)
        return lhs.withUTF8 { left in rhs.withUTF8 { right in left.elementsEqual(right) } }
    }

    /// The one order in which every writer locks rows (UTF-8 bytes, so it does not depend on any
    /// collation): with a single global order two transactions cannot wait for each other in a cycle.
    public static func < (lhs: RollupKey, rhs: RollupKey) -> Bool {
        if lhs.eventName != rhs.eventName { return lhs.eventName.utf8.lexicographicallyPrecedes(rhs.eventName.utf8) }
        if lhs.bucket != rhs.bucket { return lhs.bucket < rhs.bucket }
        if !lhs.campaign.utf8.elementsEqual(rhs.campaign.utf8) { return lhs.campaign.utf8.lexicographicallyPrecedes(rhs.campaign.utf8) }
        return lhs.channel.utf8.lexicographicallyPrecedes(rhs.channel.utf8)
    }

    public var description: String {
        "(\(eventName), \(bucket), \(campaign.isEmpty ? "" : "campaign \(campaign), ")\(isAllChannels ? "all channels" : channel))"
    }
}
