import Foundation

// The same synthetic events as Segment track messages, for `bench load --format segment`: the
// comparison of `/v1/batch` with `/events/bulk` sends the very same events both ways.

extension SyntheticEvent {
    /// Appends the event as a Segment track message carrying every field our event has: `event`,
    /// `userId`, `messageId` (the idempotency key), `timestamp`, `properties.channel`,
    /// `properties.tags`, price and currency as the other properties, and `context.campaign.name`.
    func appendSegmentJSON(to out: inout [UInt8], messageID: String, timestamp rfc3339: String) {
        out.append(contentsOf: #"{"type":"track","event":""#.utf8)
        out.append(contentsOf: EventCatalog.names[name].utf8)
        out.append(contentsOf: #"","userId":"user_"#.utf8)
        out.append(contentsOf: String(user).utf8)
        out.append(contentsOf: #"","messageId":""#.utf8)
        out.append(contentsOf: messageID.utf8)
        out.append(contentsOf: #"","timestamp":""#.utf8)
        out.append(contentsOf: rfc3339.utf8)
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

/// RFC 3339 text of whole Unix seconds, formatted once per second per worker.
struct SegmentTimestampCache {
    private var second: Int64 = .min
    private var text = ""
    private let formatter: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter
    }()

    mutating func text(for seconds: Int64) -> String {
        if seconds != second {
            second = seconds
            text = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
        }
        return text
    }
}
