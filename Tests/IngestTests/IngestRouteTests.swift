import Events
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import TestSupport
import Testing
import WAL

@testable import Ingest

/// The ingest routes over a real WAL in a temporary directory.
@Suite("Ingest routes")
struct IngestRouteTests {
    typealias Harness = IngestHarness

    static func errorBody(_ buffer: ByteBuffer) throws -> (code: String, field: String?) {
        let object = try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any]
        let error = object?["error"] as? [String: Any]
        return (error?["code"] as? String ?? "", error?["field"] as? String)
    }

    static func json(_ buffer: ByteBuffer) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any] ?? [:]
    }

    @Test func singleEventIsAcceptedAndDurable() async throws {
        let harness = try Harness()
        try await harness.app.test(.router) { client in
            let body = EventFactory.json(user: "user_123", key: nil)
            try await client.execute(uri: "/events", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body)) { response in
                #expect(response.status == .accepted)
                #expect(String(buffer: response.body) == #"{"status":"accepted"}"#)
            }
        }
        let stored = try harness.storedEvents()
        #expect(stored.count == 1)
        #expect(stored.first?.userID == "user_123")
        try await harness.close()
    }

    @Test(arguments: [
        (#"{"channel":"web","user_id":"u","timestamp":1764450000}"#, "event_name"),
        (#"{"event_name":"","channel":"web","user_id":"u","timestamp":1764450000}"#, "event_name"),
        (#"{"event_name":"e","channel":5,"user_id":"u","timestamp":1764450000}"#, "channel"),
        (#"{"event_name":"e","channel":"web","timestamp":1764450000}"#, "user_id"),
        (#"{"event_name":"e","channel":"web","user_id":"u"}"#, "timestamp"),
        (#"{"event_name":"e","channel":"web","user_id":"u","timestamp":"yesterday"}"#, "timestamp"),
        (#"{"event_name":"e","channel":"web","user_id":"u","timestamp":946684799}"#, "timestamp"),
        (#"{"event_name":"e","channel":"web","user_id":"u","timestamp":99999999999}"#, "timestamp"),
        (#"{"event_name":"e","channel":"web","user_id":"u","timestamp":1764450000,"tags":"x"}"#, "tags"),
        (#"{"event_name":"e","channel":"web","user_id":"u","timestamp":1764450000,"metadata":[1]}"#, "metadata"),
        (#"{"event_name":"e","channel":"web","user_id":"u","timestamp":1764450000,"campaign_id":7}"#, "campaign_id"),
        (#"{"event_name":"e","channel":"web","user_id":"u","timestamp":1764450000"#, "body"),
        (#"not json"#, "body"),
    ])
    func invalidEventGets400NamingTheFieldAndWritesNothing(body: String, field: String) async throws {
        let harness = try Harness()
        try await harness.app.test(.router) { client in
            try await client.execute(uri: "/events", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body)) { response in
                #expect(response.status == .badRequest)
                #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
                let error = try Self.errorBody(response.body)
                #expect(error.field == field, "\(body)")
                #expect(!error.code.isEmpty)
            }
        }
        #expect(try harness.storedEvents().isEmpty)
        try await harness.close()
    }

    @Test func futureTimestampIsRejectedAndTheSkewIsConfigurable() async throws {
        let future = Int64(Date().timeIntervalSince1970) + 600
        let strict = try Harness()
        try await strict.app.test(.router) { client in
            try await client.execute(uri: "/events", method: .post, body: ByteBuffer(string: EventFactory.json(user: "u", timestamp: future))) { response in
                #expect(response.status == .badRequest)
                let error = try Self.errorBody(response.body)
                #expect(error.field == "timestamp")
            }
        }
        try await strict.close()
        var limits = EventLimits.default
        limits.maxFutureSkewSeconds = 3_600
        let lenient = try Harness(configuration: IngestConfiguration(limits: limits))
        try await lenient.app.test(.router) { client in
            try await client.execute(uri: "/events", method: .post, body: ByteBuffer(string: EventFactory.json(user: "u", timestamp: future))) { response in
                #expect(response.status == .accepted)
            }
        }
        try await lenient.close()
    }

    @Test func bulkWithSomeBadEventsAcceptsTheGoodOnes() async throws {
        let harness = try Harness()
        let events = [
            EventFactory.json(user: "a"), #"{"event_name":"x","channel":"web","timestamp":1764450000}"#,
            EventFactory.json(user: "b"), #"{"event_name":"x","channel":"web","user_id":"c","timestamp":-5}"#,
        ]
        try await harness.app.test(.router) { client in
            let body = #"{"events":["# + events.joined(separator: ",") + "]}"
            try await client.execute(uri: "/events/bulk", method: .post, body: ByteBuffer(string: body)) { response in
                #expect(response.status == .accepted)
                let json = try Self.json(response.body)
                #expect(json["accepted"] as? Int == 2)
                #expect(json["rejected"] as? Int == 2)
                let errors = json["errors"] as? [[String: Any]] ?? []
                #expect(errors.map { $0["index"] as? Int } == [1, 3])
                #expect(errors.map { $0["field"] as? String } == ["user_id", "timestamp"])
            }
        }
        #expect(try harness.storedEvents().map(\.userID) == ["a", "b"])
        try await harness.close()
    }

    @Test func bulkWithNoValidEventIs400AndWritesNothing() async throws {
        let harness = try Harness()
        try await harness.app.test(.router) { client in
            let body = #"[{"event_name":"x"},{"channel":"web"}]"#
            try await client.execute(uri: "/events/bulk", method: .post, body: ByteBuffer(string: body)) { response in
                #expect(response.status == .badRequest)
                let json = try Self.json(response.body)
                #expect(json["rejected"] as? Int == 2)
            }
        }
        #expect(try harness.storedEvents().isEmpty)
        try await harness.close()
    }

    @Test func arraysAndNDJSONAreBulk() async throws {
        let harness = try Harness()
        try await harness.app.test(.router) { client in
            let array = "[" + (0..<3).map { EventFactory.json(user: "arr\($0)") }.joined(separator: ",") + "]"
            try await client.execute(uri: "/events", method: .post, body: ByteBuffer(string: array)) { response in
                #expect(response.status == .accepted)
                let json = try Self.json(response.body)
                #expect(json["accepted"] as? Int == 3)
            }
            try await client.execute(uri: "/events/bulk", method: .post, body: ByteBuffer(string: array)) { response in
                #expect(response.status == .accepted)
            }
            let ndjson = (0..<4).map { EventFactory.json(user: "nd\($0)") }.joined(separator: "\n") + "\n\nnot json\n"
            try await client.execute(uri: "/events/bulk", method: .post, headers: [.contentType: "application/x-ndjson"], body: ByteBuffer(string: ndjson)) { response in
                #expect(response.status == .accepted)
                let json = try Self.json(response.body)
                #expect(json["accepted"] as? Int == 4)
                #expect(json["rejected"] as? Int == 1)
            }
        }
        #expect(try harness.storedEvents().count == 3 + 3 + 4)
        try await harness.close()
    }

    @Test func unicodeSurvivesTheRoundTrip() async throws {
        let harness = try Harness()
        try await harness.app.test(.router) { client in
            let body = EventFactory.json(user: "kullanıcı_ğüşöç_😀", name: "ürün_görüntüleme", channel: "mobil_📱")
            try await client.execute(uri: "/events", method: .post, body: ByteBuffer(string: body)) { response in
                #expect(response.status == .accepted)
            }
        }
        let stored = try harness.storedEvents()
        #expect(stored.first?.userID == "kullanıcı_ğüşöç_😀")
        #expect(stored.first?.eventName == "ürün_görüntüleme")
        #expect(stored.first?.channel == "mobil_📱")
        try await harness.close()
    }

    @Test func limitsGive413AndWrongContentType415() async throws {
        var limits = EventLimits.default
        limits.maxEventsPerBulk = 5
        let harness = try Harness(configuration: IngestConfiguration(maxBodyBytes: 4_096, limits: limits))
        try await harness.app.test(.router) { client in
            let big = #"{"event_name":"e","channel":"web","user_id":"u","timestamp":1764450000,"metadata":{"pad":""# + String(repeating: "x", count: 5_000) + #""}}"#
            try await client.execute(uri: "/events", method: .post, body: ByteBuffer(string: big)) { response in
                #expect(response.status == .contentTooLarge)
                let error = try Self.errorBody(response.body)
                #expect(error.field == "body")
            }
            let many = "[" + (0..<6).map { EventFactory.json(user: "m\($0)") }.joined(separator: ",") + "]"
            try await client.execute(uri: "/events/bulk", method: .post, body: ByteBuffer(string: many)) { response in
                #expect(response.status == .contentTooLarge)
            }
            try await client.execute(uri: "/events", method: .post, headers: [.contentType: "text/csv"], body: ByteBuffer(string: "a,b")) { response in
                #expect(response.status == .unsupportedMediaType)
                let error = try Self.errorBody(response.body)
                #expect(error.code == "unsupported_media_type")
            }
        }
        #expect(try harness.storedEvents().isEmpty)
        try await harness.close()
    }

    @Test func contentTypeWithParametersCaseOrSuffixIsJSON() async throws {
        let harness = try Harness()
        try await harness.app.test(.router) { client in
            for (i, type) in ["Application/JSON; charset=utf-8", "application/vnd.events+json", "application/json"].enumerated() {
                try await client.execute(uri: "/events", method: .post, headers: [.contentType: type], body: ByteBuffer(string: EventFactory.json(user: "ct\(i)"))) { response in
                    #expect(response.status == .accepted, "Content-Type \(type)")
                }
            }
            // NDJSON by content type on /events is bulk, whatever the case.
            try await client.execute(uri: "/events", method: .post, headers: [.contentType: "Application/X-NDJSON"], body: ByteBuffer(string: EventFactory.json(user: "nd-ct"))) { response in
                #expect(response.status == .accepted)
                #expect(String(buffer: response.body).contains(#""accepted":1"#))
            }
        }
        #expect(try harness.storedEvents().map(\.userID).sorted() == ["ct0", "ct1", "ct2", "nd-ct"])
        try await harness.close()
    }

    @Test func walOverItsCapAnswers503WithRetryAfter() async throws {
        try await Harness.expectOverCapacityRefusals(
            uri: "/events", accepted: .accepted, errorCode: { ($0["error"] as? [String: Any])?["code"] as? String },
            body: { EventFactory.json(user: "cap\($0)") })
    }

    @Test func thousandConcurrentPostsAreAllDurableWithTheirKeys() async throws {
        let harness = try Harness()
        try await harness.app.test(.live) { client in
            try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for i in 0..<1_000 {
                    group.addTask {
                        try await client.execute(uri: "/events", method: .post, body: ByteBuffer(string: EventFactory.json(user: "c\(i)", timestamp: 1_764_450_000))) { $0.status }
                    }
                }
                for try await status in group { #expect(status == .accepted) }
            }
        }
        let stored = try harness.storedEvents()
        #expect(stored.count == 1_000)
        #expect(Set(stored.map(\.userID)) == Set((0..<1_000).map { "c\($0)" }))
        let expected = Set((0..<1_000).map { EventFactory.event(user: "c\($0)", timestamp: 1_764_450_000).idempotencyKey })
        #expect(Set(stored.map(\.idempotencyKey)) == expected)
        try await harness.close()
    }
}
