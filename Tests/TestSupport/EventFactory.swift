import Foundation
import Events

/// Builds valid events through the real parser, so tests exercise the same path as HTTP clients.
public enum EventFactory {
    public static let parser = EventParser()

    public static func json(
        user: String,
        name: String = "product_view",
        channel: String = "web",
        timestamp: Int64 = Int64(Date().timeIntervalSince1970) - 60,
        campaign: String? = "cmp_001",
        key: String? = nil
    ) -> String {
        var fields = [
            #""event_name":"# + quote(name), #""channel":"# + quote(channel), #""user_id":"# + quote(user),
            #""timestamp":\#(timestamp)"#, #""tags":["a","b"]"#, #""metadata":{"price":1.5,"currency":"TRY"}"#,
        ]
        if let campaign { fields.append(#""campaign_id":"# + quote(campaign)) }
        if let key { fields.append(#""idempotency_key":"# + quote(key)) }
        return "{" + fields.joined(separator: ",") + "}"
    }

    public static func event(
        user: String,
        name: String = "product_view",
        channel: String = "web",
        timestamp: Int64 = Int64(Date().timeIntervalSince1970) - 60,
        campaign: String? = "cmp_001",
        key: String? = nil
    ) -> Event {
        let body = Array(json(user: user, name: name, channel: channel, timestamp: timestamp, campaign: campaign, key: key).utf8)
        let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
        switch body.withUnsafeBytes({ parser.parseEvent($0, receivedAtMicros: now) }) {
        case .success(let event): return event
        case .failure(let error): fatalError("test event did not parse: \(error)")
        }
    }

    public static func record(user: String, name: String = "product_view", key: String? = nil) -> [UInt8] {
        EventRecordCodec.encode(event(user: user, name: name, key: key))
    }

    private static func quote(_ s: String) -> String {
        let data = try! JSONSerialization.data(withJSONObject: [s], options: [.fragmentsAllowed])
        let array = String(decoding: data, as: UTF8.self)
        return String(array.dropFirst().dropLast())
    }
}
