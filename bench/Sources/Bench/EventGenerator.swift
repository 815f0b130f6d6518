import TestSupport

/// Synthetic analytics events that look like the old service's real traffic, shared by `bench load`
/// (JSON bodies), `bench seed` (COPY rows) and the checked-in `data/sample-events.ndjson`, so every
/// benchmark sees the same mix.
///
/// The mix: event_name 60 % product_view, 25 % add_to_cart, 10 % checkout_start, 5 % purchase (a
/// funnel); channel 50 % web, 35 % mobile_app, 15 % api; campaign_id cmp_000…cmp_099 or null (30 %);
/// user_id user_0…user_99999 with a skew towards low numbers (a few heavy users, a long tail); 0–3
/// tags; metadata `{"price": …, "currency": …}`.
///
/// Fields are small indices into fixed tables rather than strings, so the seed can produce millions
/// of rows a second without allocating per field.
struct SyntheticEvent: Sendable {
    var name: Int
    var channel: Int
    /// Index into ``EventCatalog/campaigns``, or nil for no campaign.
    var campaign: Int?
    /// N in `user_N`, 0 ..< ``EventCatalog/userCount``.
    var user: Int
    /// Unix seconds.
    var timestamp: Int64
    /// A bit per entry of ``EventCatalog/tags``.
    var tagMask: Int
    var priceCents: Int
    var currency: Int
}

/// The value tables behind ``SyntheticEvent``'s indices.
enum EventCatalog {
    static let userCount = 100_000
    static let names = ["product_view", "add_to_cart", "checkout_start", "purchase"]
    static let channels = ["web", "mobile_app", "api"]
    static let campaigns = (0..<100).map { "cmp_" + zeroPadded($0, width: 3) }
    static let tags = ["electronics", "sale", "new", "clearance", "books", "fashion", "home", "gift", "premium", "mobile"]
    static let currencies = ["TRY", "USD", "EUR", "GBP"]

    /// `user_0` … `user_99999`, built once: the seed writes one per row.
    static let userIDs = (0..<userCount).map { "user_\($0)" }
    /// Every tag subset by bit mask, built once (the generator only draws masks of up to 3 bits).
    static let tagSets: [[String]] = (0..<(1 << tags.count)).map { mask in
        tags.indices.filter { mask & (1 << $0) != 0 }.map { tags[$0] }
    }

    static func zeroPadded(_ value: Int, width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}

/// Draws ``SyntheticEvent``s. A value type with its own PRNG: each load worker and the seed's
/// generator thread own one, so there is no shared state and no lock on the hot path.
struct EventGenerator {
    var random: EventRandom

    // Percent tables: index a random 0..<100 to get a weighted choice without a search.
    private static let nameTable = weightedTable([60, 25, 10, 5])
    private static let channelTable = weightedTable([50, 35, 15])
    private static let currencyTable = weightedTable([40, 30, 20, 10])

    init(seed: UInt64) {
        random = EventRandom(seed: seed)
    }

    /// An event with the given timestamp (callers decide the time window).
    mutating func next(timestamp: Int64) -> SyntheticEvent {
        let name = Int(Self.nameTable[random.below(100)])
        let campaign: Int? = random.below(100) < 30 ? nil : random.below(100)
        // u² puts ~32 % of events on the lowest 10 % of user numbers: some users are far more active.
        let u = random.unit()
        let user = min(Int(u * u * Double(EventCatalog.userCount)), EventCatalog.userCount - 1)
        var tagMask = 0
        for _ in 0..<random.below(4) { tagMask |= 1 << random.below(EventCatalog.tags.count) }
        return SyntheticEvent(
            name: name,
            channel: Int(Self.channelTable[random.below(100)]),
            campaign: campaign,
            user: user,
            timestamp: timestamp,
            tagMask: tagMask,
            // Later funnel steps carry bigger baskets: 1.00–99.99 for a view, up to 999.99 at checkout.
            priceCents: 100 + random.below(name >= 2 ? 99_900 : 9_900),
            currency: Int(Self.currencyTable[random.below(100)])
        )
    }

    private static func weightedTable(_ percents: [Int]) -> [UInt8] {
        precondition(percents.reduce(0, +) == 100)
        return percents.enumerated().flatMap { index, percent in [UInt8](repeating: UInt8(index), count: percent) }
    }
}

/// A small, fast, seedable PRNG (SplitMix64, Steele et al.). `SystemRandomNumberGenerator` reads
/// the kernel's entropy per call, which would cost more than the rest of event generation; a seed
/// also makes the checked-in sample reproducible.
typealias EventRandom = SplitMix64

extension SplitMix64 {
    /// Uniform in 0 ..< bound (multiply-shift; the bias is far below anything a benchmark could see).
    @inline(__always)
    mutating func below(_ bound: Int) -> Int {
        Int(next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// Uniform in [0, 1).
    @inline(__always)
    mutating func unit() -> Double {
        Double(next() >> 11) * 0x1p-53
    }
}

// MARK: - JSON

extension SyntheticEvent {
    /// Appends the event as the service's JSON. Every string comes from the fixed tables (plain ASCII)
    /// or the caller's key, so nothing needs escaping; building bytes by hand keeps the generator far
    /// cheaper than the server it measures.
    func appendJSON(to out: inout [UInt8], idempotencyKey: String?) {
        appendFieldsJSON(to: &out)
        if let idempotencyKey {
            out.append(contentsOf: #","idempotency_key":""#.utf8)
            out.append(contentsOf: idempotencyKey.utf8)
            out.append(UInt8(ascii: "\""))
        }
        out.append(UInt8(ascii: "}"))
    }

    /// The same bytes as `appendJSON(to:idempotencyKey:)` with the key `<keyPrefix><keyNumber>`,
    /// written without building a String: `bench load` renders one per request.
    func appendJSON(to out: inout [UInt8], keyPrefix: [UInt8], keyNumber: Int) {
        appendFieldsJSON(to: &out)
        out.append(contentsOf: #","idempotency_key":""#.utf8)
        out.append(contentsOf: keyPrefix)
        out.appendDecimal(keyNumber)
        out.append(UInt8(ascii: "\""))
        out.append(UInt8(ascii: "}"))
    }

    /// `{"event_name":…,"metadata":{…}`: everything but the key and the closing brace.
    private func appendFieldsJSON(to out: inout [UInt8]) {
        out.append(contentsOf: #"{"event_name":""#.utf8)
        out.append(contentsOf: EventCatalog.names[name].utf8)
        out.append(contentsOf: #"","channel":""#.utf8)
        out.append(contentsOf: EventCatalog.channels[channel].utf8)
        out.append(contentsOf: #"","campaign_id":"#.utf8)
        if let campaign {
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: EventCatalog.campaigns[campaign].utf8)
            out.append(UInt8(ascii: "\""))
        } else {
            out.append(contentsOf: "null".utf8)
        }
        out.append(contentsOf: #","user_id":"user_"#.utf8)
        out.appendDecimal(user)
        out.append(contentsOf: #"","timestamp":"#.utf8)
        out.appendDecimal(Int(timestamp))
        out.append(contentsOf: #","tags":["#.utf8)
        appendTagsJSON(to: &out)
        out.append(contentsOf: #"],"metadata":"#.utf8)
        appendMetadataJSON(to: &out)
    }

    /// `"a","b"`: the tags as JSON strings, inside the array brackets the caller writes.
    func appendTagsJSON(to out: inout [UInt8]) {
        for (index, tag) in EventCatalog.tagSets[tagMask].enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: tag.utf8)
            out.append(UInt8(ascii: "\""))
        }
    }

    /// `{"price":129.99,"currency":"TRY"}`: also the seed's jsonb column.
    func appendMetadataJSON(to out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        appendPriceFieldsJSON(to: &out)
    }

    /// `"price":129.99,"currency":"TRY"}`: the metadata's fields and the brace that closes them (a
    /// Segment message carries them among its properties).
    func appendPriceFieldsJSON(to out: inout [UInt8]) {
        out.append(contentsOf: #""price":"#.utf8)
        out.appendDecimal(priceCents / 100)
        out.append(UInt8(ascii: "."))
        out.append(UInt8(ascii: "0") + UInt8(priceCents % 100 / 10))
        out.append(UInt8(ascii: "0") + UInt8(priceCents % 10))
        out.append(contentsOf: #","currency":""#.utf8)
        out.append(contentsOf: EventCatalog.currencies[currency].utf8)
        out.append(contentsOf: #""}"#.utf8)
    }
}

extension [UInt8] {
    /// Appends `value` in decimal (a leading "-" if negative), without the String that
    /// `String(value).utf8` would allocate.
    @inline(__always)
    mutating func appendDecimal(_ value: Int) {
        if value < 0 { append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for UInt64.max's 20 digits
        Swift.withUnsafeMutableBytes(of: &digits) { scratch in
            var end = scratch.count
            repeat {
                end -= 1
                scratch[end] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            append(contentsOf: scratch[end...])
        }
    }
}
