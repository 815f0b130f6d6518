import Events
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import TestSupport
import Time
import Testing
import WAL

@testable import Ingest

/// The Segment- and PostHog-compatible routes over a real WAL: the mapping rules, write keys,
/// per-message errors and gzip (the real SDK clients are driven by scripts/sdk-test).
@Suite("SDK routes")
struct SDKRouteTests {
    typealias Harness = IngestHarness

    static func json(_ buffer: ByteBuffer) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any] ?? [:]
    }

    static func metadata(_ event: Event) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(event.metadataJSON ?? [])) as? [String: Any] ?? [:]
    }

    static func basic(_ key: String) -> String {
        "Basic " + Data("\(key):".utf8).base64EncodedString()
    }

    /// Posts `body` and returns status, parsed body and headers.
    static func post(
        _ client: some TestClientProtocol, _ uri: String, _ body: String, headers: HTTPFields = [:]
    ) async throws -> (HTTPResponse.Status, [String: Any], HTTPFields) {
        try await post(client, uri, Array(body.utf8), headers: headers)
    }

    static func post(
        _ client: some TestClientProtocol, _ uri: String, _ body: [UInt8], headers: HTTPFields = [:]
    ) async throws -> (HTTPResponse.Status, [String: Any], HTTPFields) {
        var fields = headers
        if fields[.contentType] == nil { fields[.contentType] = "application/json" }
        return try await client.execute(uri: uri, method: .post, headers: fields, body: ByteBuffer(bytes: body)) { response in
            (response.status, try json(response.body), response.headers)
        }
    }

    @Test func trackMapsEveryField() async throws {
        let harness = try Harness()
        try await harness.app.test(.router) { client in
            let body = #"""
            {"type":"track","event":"Order Completed","userId":"u-1","anonymousId":"a-1","messageId":"m-1",
             "timestamp":"2026-01-01T10:00:00.250Z","properties":{"channel":"email","tags":["vip","q1"],"revenue":19.99},
             "context":{"campaign":{"name":"spring","source":"news"},"library":{"name":"analytics.js"}}}
            """#
            let (status, answer, _) = try await Self.post(client, "/v1/track", body)
            #expect(status == .ok)
            #expect(answer["success"] as? Bool == true)
            #expect(answer["accepted"] as? Int == 1)
        }
        let event = try #require(try harness.storedEvents().first)
        #expect(event.eventName == "Order Completed")
        #expect(event.userID == "u-1")
        #expect(event.channel == "email")
        #expect(event.campaignID == "spring")
        #expect(event.tags == ["vip", "q1"])
        // No sentAt: the timestamp as sent.
        #expect(event.timestampMicros == 1_767_261_600_250_000)
        let metadata = try Self.metadata(event)
        #expect(metadata["type"] as? String == "track")
        let properties = try #require(metadata["properties"] as? [String: Any])
        #expect(properties["revenue"] as? Double == 19.99)
        #expect(properties["channel"] == nil && properties["tags"] == nil)
        // What became our campaign_id is left out of metadata; the rest of the campaign stays.
        let campaign = try #require((metadata["context"] as? [String: Any])?["campaign"] as? [String: Any])
        #expect(campaign["source"] as? String == "news" && campaign["name"] == nil)
        #expect(event.idempotencyKey == .scoped(dialect: .segment, writeKey: "", messageID: "m-1"))
        try await harness.close()
    }

    @Test func timestampIsCorrectedForClockSkewWithSentAt() async throws {
        let harness = try Harness()
        let before = UTCTime.nowMicros()
        try await harness.app.test(.router) { client in
            // The client's clock is years behind: it stamped the event 90 s before it sent it.
            let body = #"""
            {"batch":[{"type":"track","event":"e","userId":"u","timestamp":"2020-03-01T12:00:00Z"},
                      {"type":"track","event":"e","userId":"u","timestamp":"2020-03-01T12:01:00Z","sentAt":"2020-03-01T12:01:30Z"}],
             "sentAt":"2020-03-01T12:01:30Z"}
            """#
            let (status, _, _) = try await Self.post(client, "/v1/batch", body)
            #expect(status == .ok)
        }
        let after = UTCTime.nowMicros()
        let stored = try harness.storedEvents()
        #expect(stored.count == 2)
        #expect(stored[0].timestampMicros >= before - 90_000_000 && stored[0].timestampMicros <= after - 90_000_000)
        #expect(stored[1].timestampMicros >= before - 30_000_000 && stored[1].timestampMicros <= after - 30_000_000)
        try await harness.close()
    }

    @Test func originalTimestampThenReceiveTime() async throws {
        let harness = try Harness()
        let before = UTCTime.nowMicros()
        try await harness.app.test(.router) { client in
            _ = try await Self.post(client, "/v1/track", #"{"event":"e","userId":"u","originalTimestamp":"2026-02-01T00:00:00Z"}"#)
            _ = try await Self.post(client, "/v1/track", #"{"event":"e","userId":"u"}"#)
        }
        let stored = try harness.storedEvents()
        #expect(stored[0].timestampMicros == 1_769_904_000_000_000)
        #expect(stored[1].timestampMicros >= before)
        try await harness.close()
    }

    @Test(arguments: [
        (#"{"event":"e","anonymousId":"a","context":{"library":{"name":"analytics.js"}}}"#, "web"),
        (#"{"event":"e","anonymousId":"a","context":{"library":{"name":"analytics-ios"}}}"#, "mobile_app"),
        (#"{"event":"e","anonymousId":"a","context":{"library":{"name":"analytics-android"}}}"#, "mobile_app"),
        (#"{"event":"e","anonymousId":"a","context":{"library":{"name":"analytics-python"}}}"#, "server"),
        (#"{"event":"e","anonymousId":"a"}"#, "server"),
        (#"{"event":"e","anonymousId":"a","channel":"server","context":{"channel":"x"}}"#, "server"),
        (#"{"event":"e","anonymousId":"a","context":{"channel":"kiosk"}}"#, "kiosk"),
        (#"{"event":"e","anonymousId":"a","channel":"server","properties":{"channel":"sms"}}"#, "sms"),
        (#"{"event":"e","anonymousId":"a","properties":{"channel":7}}"#, "server"),
    ])
    func channelRules(body: String, channel: String) async throws {
        let harness = try Harness()
        try await harness.app.test(.router) { client in
            let (status, _, _) = try await Self.post(client, "/v1/track", body)
            #expect(status == .ok)
        }
        let event = try #require(try harness.storedEvents().first)
        #expect(event.channel == channel)
        #expect(event.userID == "a")
        try await harness.close()
    }

    @Test func callsNameTheirEventsAndCampaignFallsBackToId() async throws {
        let harness = try Harness()
        try await harness.app.test(.router) { client in
            for call in ["page", "screen", "identify", "group", "alias"] {
                let body = #"{"userId":"u","name":"Home","traits":{"plan":"pro","tags":["t"]},"properties":{"x":1},"context":{"campaign":{"id":"c-9"}}}"#
                let (status, _, _) = try await Self.post(client, "/v1/\(call)", body)
                #expect(status == .ok, "\(call)")
            }
        }
        let stored = try harness.storedEvents()
        #expect(stored.map(\.eventName) == ["page", "screen", "identify", "group", "alias"])
        #expect(stored.allSatisfy { $0.campaignID == "c-9" })
        // identify and group carry traits (tags included), the others properties.
        #expect(stored[2].tags == ["t"])
        #expect((try Self.metadata(stored[2])["traits"] as? [String: Any])?["plan"] as? String == "pro")
        #expect(try Self.metadata(stored[0])["name"] as? String == "Home")
        try await harness.close()
    }

    @Test func tagsOnlyWhenAllStringsAndOversizedContextIsCut() async throws {
        let harness = try Harness()
        let big = String(repeating: "x", count: 9_000)
        try await harness.app.test(.router) { client in
            let body = #"{"event":"e","userId":"u","properties":{"tags":["a",1]},"context":{"blob":"\#(big)"}}"#
            let (status, _, _) = try await Self.post(client, "/v1/track", body)
            #expect(status == .ok)
        }
        let event = try #require(try harness.storedEvents().first)
        #expect(event.tags == [])
        let metadata = try Self.metadata(event)
        #expect(metadata["context"] == nil)
        #expect(metadata["cut"] as? [String] == ["context"])
        #expect((metadata["properties"] as? [String: Any])?["tags"] != nil)
        try await harness.close()
    }

    @Test func messageIdIsScopedByWriteKey() async throws {
        let harness = try Harness()
        try await harness.app.test(.router) { client in
            let body = #"{"event":"e","userId":"u","messageId":"same"}"#
            _ = try await Self.post(client, "/v1/track", body, headers: [.authorization: Self.basic("key-a")])
            _ = try await Self.post(client, "/v1/track", body, headers: [.authorization: Self.basic("key-a")])
            _ = try await Self.post(client, "/v1/track", body, headers: [.authorization: Self.basic("key-b")])
            _ = try await Self.post(client, "/v1/track", #"{"event":"e","userId":"u","messageId":"same","writeKey":"key-b"}"#)
        }
        let keys = try harness.storedEvents().map(\.idempotencyKey)
        #expect(keys.count == 4)
        #expect(keys[0] == keys[1])
        #expect(keys[2] == keys[3])
        #expect(keys[0] != keys[2])
        // Not the key our own API derives from idempotency_key "same".
        #expect(keys[0] != IdempotencyKey.client("same"))
        try await harness.close()
    }

    @Test func batchReportsBadMessagesAndStoresTheRest() async throws {
        let harness = try Harness()
        try await harness.app.test(.router) { client in
            let body = #"""
            {"batch":[{"type":"track","event":"ok","userId":"u1"},
                      {"type":"track","userId":"u2"},
                      {"type":"identify"},
                      {"type":"bogus","userId":"u"},
                      {"type":"track","event":"ok","userId":"u3","timestamp":"yesterday"},
                      {"type":"page","anonymousId":"a4","context":{"library":{"name":"analytics.js"}}}],
             "context":{"campaign":{"name":"outer"}}}
            """#
            let (status, answer, _) = try await Self.post(client, "/v1/batch", body)
            #expect(status == .ok)
            #expect(answer["success"] as? Bool == true)
            #expect(answer["accepted"] as? Int == 2)
            let errors = try #require(answer["errors"] as? [[String: Any]])
            #expect(errors.map { $0["index"] as? Int } == [1, 2, 3, 4])
            #expect(errors.map { $0["field"] as? String } == ["event", "userId", "type", "timestamp"])
        }
        let stored = try harness.storedEvents()
        #expect(stored.map(\.userID) == ["u1", "a4"])
        // The batch's context is merged into each message.
        #expect(stored.allSatisfy { $0.campaignID == "outer" })
        #expect(stored[1].channel == "web")
        try await harness.close()
    }

    @Test func allBadIsA400SegmentClientsCanRead() async throws {
        let harness = try Harness()
        try await harness.app.test(.router) { client in
            let (status, answer, _) = try await Self.post(client, "/v1/track", #"{"userId":"u","event":""}"#)
            #expect(status == .badRequest)
            #expect(answer["code"] as? String == "empty")
            #expect((answer["message"] as? String)?.contains("event") == true)
            #expect((answer["error"] as? [String: Any])?["field"] as? String == "event")
            let (malformed, body, _) = try await Self.post(client, "/v1/batch", #"{"batch":[{"#)
            #expect(malformed == .badRequest)
            #expect(body["code"] as? String == "malformed_json")
        }
        #expect(try harness.storedEvents().isEmpty)
        try await harness.close()
    }

    @Test func writeKeysAreEnforcedWhenConfigured() async throws {
        let harness = try Harness(keys: ["good"])
        try await harness.app.test(.router) { client in
            let body = #"{"event":"e","userId":"u"}"#
            let (none, answer, _) = try await Self.post(client, "/v1/track", body)
            #expect(none == .unauthorized)
            #expect(answer["code"] as? String == "missing_write_key")
            let (wrong, _, _) = try await Self.post(client, "/v1/track", body, headers: [.authorization: Self.basic("bad")])
            #expect(wrong == .unauthorized)
            let (basic, _, _) = try await Self.post(client, "/v1/track", body, headers: [.authorization: Self.basic("good")])
            #expect(basic == .ok)
            let (inBody, _, _) = try await Self.post(client, "/v1/batch", #"{"writeKey":"good","batch":[{"type":"track","event":"e","userId":"u"}]}"#)
            #expect(inBody == .ok)
            let (posthog, phAnswer, _) = try await Self.post(client, "/batch/", #"{"api_key":"bad","batch":[{"event":"e","distinct_id":"u"}]}"#)
            #expect(posthog == .unauthorized)
            #expect(phAnswer["type"] as? String == "authentication_error")
            let (bearer, _, _) = try await Self.post(client, "/capture/", #"{"event":"e","distinct_id":"u"}"#, headers: [.authorization: "Bearer good"])
            #expect(bearer == .ok)
        }
        #expect(try harness.storedEvents().count == 3)
        try await harness.close()
    }

    @Test func gzipBodiesOnSDKAndOwnRoutes() async throws {
        let harness = try Harness()
        try await harness.app.test(.router) { client in
            let gz: HTTPFields = [.contentEncoding: "gzip"]
            let segment = Gzip.compress(Array(#"{"batch":[{"type":"track","event":"e","userId":"g1"}]}"#.utf8))
            #expect(try await Self.post(client, "/v1/batch", segment, headers: gz).0 == .ok)
            let bulk = Gzip.compress(Array(("[" + EventFactory.json(user: "g2") + "]").utf8))
            #expect(try await Self.post(client, "/events/bulk", bulk, headers: gz).0 == .accepted)
            let single = Gzip.compress(Array(EventFactory.json(user: "g3").utf8))
            #expect(try await Self.post(client, "/events", single, headers: gz).0 == .accepted)
            let posthog = Gzip.compress(Array(#"{"api_key":"k","batch":[{"event":"e","distinct_id":"g4"}]}"#.utf8))
            let (status, answer, _) = try await Self.post(client, "/e/?compression=gzip-js&ver=1.0", posthog)
            #expect(status == .ok)
            #expect(answer["status"] as? Int == 1)
            // Not gzip at all, or an encoding we do not speak.
            #expect(try await Self.post(client, "/events", Array("{}".utf8), headers: gz).0 == .badRequest)
            #expect(try await Self.post(client, "/events", Array("{}".utf8), headers: [.contentEncoding: "br"]).0 == .unsupportedMediaType)
        }
        #expect(try harness.storedEvents().map(\.userID) == ["g1", "g2", "g3", "g4"])
        try await harness.close()
    }

    @Test func gzipBombIsRefusedWith413() async throws {
        // 64 MiB of spaces inflate from about 64 KiB: over the body limit and over the ratio.
        let harness = try Harness(configuration: IngestConfiguration(maxBodyBytes: 16 << 20))
        let bomb = Gzip.compress([UInt8](repeating: 0x20, count: 64 << 20), level: 9)
        #expect(bomb.count < 100_000)
        // 4 MiB of spaces (under the body limit) from ~4 KiB: refused by the ratio alone.
        let small = Gzip.compress([UInt8](repeating: 0x20, count: 4 << 20), level: 9)
        try await harness.app.test(.router) { client in
            for body in [bomb, small] {
                for uri in ["/events/bulk", "/v1/batch", "/batch/"] {
                    let (status, answer, _) = try await Self.post(client, uri, body, headers: [.contentEncoding: "gzip"])
                    #expect(status == .contentTooLarge, "\(uri)")
                    let code = (answer["error"] as? [String: Any])?["code"] as? String
                    #expect(code == "body_too_large", "\(uri)")
                }
            }
        }
        try await harness.close()
    }

    @Test func postHogShapesAndMapping() async throws {
        let harness = try Harness()
        try await harness.app.test(.router) { client in
            let body = #"""
            {"api_key":"phc_1","sent_at":"2020-01-01T00:01:00Z","batch":[
              {"event":"$pageview","distinct_id":"p1","uuid":"0190a0a0-0000-7000-8000-000000000001","timestamp":"2020-01-01T00:00:00Z",
               "properties":{"$lib":"web","utm_campaign":"launch","tags":["x"],"$current_url":"https://e.x/"}},
              {"event":"signup","properties":{"distinct_id":"p2","$lib":"posthog-ios","channel":"app_store"}},
              {"event":"buy","properties":{"$lib":"posthog-android"},"distinct_id":42},
              {"distinct_id":"p4"}]}
            """#
            let (status, answer, _) = try await Self.post(client, "/batch", body)
            #expect(status == .ok)
            #expect(answer["status"] as? Int == 1)
            #expect(answer["accepted"] as? Int == 3)
            #expect((answer["errors"] as? [[String: Any]])?.first?["field"] as? String == "event")
            for path in ["/capture", "/e", "/i/v0/e/", "/batch/"] {
                let (single, _, _) = try await Self.post(client, path, #"{"api_key":"phc_1","event":"e","distinct_id":"s"}"#)
                #expect(single == .ok, "\(path)")
            }
            let (array, _, _) = try await Self.post(client, "/e/", #"[{"event":"e","properties":{"distinct_id":"arr","token":"phc_1"}}]"#)
            #expect(array == .ok)
            let (lz, _, _) = try await Self.post(client, "/e/?compression=lz64", "x")
            #expect(lz == .unsupportedMediaType)
        }
        let stored = try harness.storedEvents()
        #expect(stored.count == 8)
        #expect(stored[0].channel == "web")
        #expect(stored[0].campaignID == "launch")
        #expect(stored[0].tags == ["x"])
        let properties = try #require(try Self.metadata(stored[0])["properties"] as? [String: Any])
        #expect(properties["utm_campaign"] == nil && properties["$current_url"] as? String == "https://e.x/")
        #expect(stored[0].idempotencyKey == .scoped(dialect: .posthog, writeKey: "phc_1", messageID: "0190a0a0-0000-7000-8000-000000000001"))
        #expect(stored[1].userID == "p2")
        #expect(stored[1].channel == "app_store")
        #expect(stored[2].userID == "42")
        #expect(stored[2].channel == "mobile_app")
        #expect(stored.last?.userID == "arr")
        try await harness.close()
    }

    @Test func walOverItsCapAnswers503WithRetryAfter() async throws {
        try await Harness.expectOverCapacityRefusals(
            uri: "/v1/track", headers: [.contentType: "application/json"], accepted: .ok, errorCode: { $0["code"] as? String },
            body: { #"{"event":"e","userId":"cap\#($0)"}"# })
    }
}
