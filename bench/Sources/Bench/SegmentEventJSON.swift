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
    /// one) would cost more than the rest of the message. Days to civil date: H. Hinnant's algorithm.
    mutating func appendRFC3339(seconds: Int64) {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = Int(seconds - days * 86_400)
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * monthIndex + 2) / 5 + 1)
        let month = Int(monthIndex < 10 ? monthIndex + 3 : monthIndex - 9)
        let year = Int(yearOfEra + era * 400) + (month <= 2 ? 1 : 0)
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
