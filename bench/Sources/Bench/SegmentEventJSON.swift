import Time

// The same synthetic events as Segment track messages, for `bench load --format segment`: the
// comparison of `/v1/batch` with `/events/bulk` sends the very same events both ways.

extension SyntheticEvent {
    /// Appends the event as a Segment track message carrying every field our event has: `event`,
    /// `userId`, `messageId` (the idempotency key `<keyPrefix><keyNumber>`), `timestamp`,
    /// `properties.channel`, `properties.tags`, price and currency as the other properties, and
    /// `context.campaign.name`.
    ///
    /// Written byte by byte from the fixed tables, as ``appendJSON(to:keyPrefix:keyNumber:)`` writes
    /// ours, with no String or formatter per event, so that `/v1/batch` and `/events/bulk` cost the
    /// generator alike and the comparison measures the service.
    func appendSegmentJSON(to out: inout [UInt8], keyPrefix: [UInt8], keyNumber: Int) {
        out.append(contentsOf: #"{"type":"track","event":""#.utf8)
        out.append(contentsOf: EventCatalog.names[name].utf8)
        out.append(contentsOf: #"","userId":"user_"#.utf8)
        out.appendDecimal(user)
        out.append(contentsOf: #"","messageId":""#.utf8)
        out.append(contentsOf: keyPrefix)
        out.appendDecimal(keyNumber)
        out.append(contentsOf: #"","timestamp":""#.utf8)
        out.appendRFC3339(seconds: timestamp)
        out.append(contentsOf: #"","properties":{"channel":""#.utf8)
        out.append(contentsOf: EventCatalog.channels[channel].utf8)
        out.append(contentsOf: #"","tags":["#.utf8)
        appendTagsJSON(to: &out)
        out.append(contentsOf: #"],"#.utf8)
        appendPriceFieldsJSON(to: &out)
        if let campaign {
            out.append(contentsOf: #","context":{"campaign":{"name":""#.utf8)
            out.append(contentsOf: EventCatalog.campaigns[campaign].utf8)
            out.append(contentsOf: #""}}"#.utf8)
        }
        out.append(UInt8(ascii: "}"))
    }
}

extension [UInt8] {
    /// Appends `YYYY-MM-DDTHH:MM:SSZ` for Unix `seconds` (years 0000–9999), computed rather than
    /// formatted: each event of a run has its own second, so a formatter (or a per-second cache of
    /// one) would cost more than the rest of the message.
    mutating func appendRFC3339(seconds: Int64) {
        let days = UTCTime.floorDivide(seconds, UTCTime.secondsPerDay)
        let secondOfDay = Int(seconds - days * UTCTime.secondsPerDay)
        let (year, month, day) = UTCTime.civilFromDays(Int(days))
        appendDigits(year, count: 4)
        append(UInt8(ascii: "-"))
        appendDigits(month, count: 2)
        append(UInt8(ascii: "-"))
        appendDigits(day, count: 2)
        append(UInt8(ascii: "T"))
        appendDigits(secondOfDay / 3_600, count: 2)
        append(UInt8(ascii: ":"))
        appendDigits(secondOfDay / 60 % 60, count: 2)
        append(UInt8(ascii: ":"))
        appendDigits(secondOfDay % 60, count: 2)
        append(UInt8(ascii: "Z"))
    }

    /// The last `count` decimal digits of a non-negative `value`, zero-padded.
    private mutating func appendDigits(_ value: Int, count: Int) {
        var divisor = 1
        for _ in 1..<count { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            append(UInt8(ascii: "0") + UInt8(rest / divisor % 10))
            rest %= divisor
            divisor /= 10
        }
    }
}
