import APISupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import Operations

/// API keys and the rate limit in front of stand-in routes, as `serve` wires them: a group per
/// scope with the key check first, then the limiter; other routes stay open.
@Suite("Access middleware")
struct AccessMiddlewareTests {
    static func app(ingestKeys: String = "", queryKeys: String = "", limiter: RateLimiter? = nil) -> some ApplicationProtocol {
        let router = Router(context: ServiceRequestContext.self)
        router.get("/health") { _, _ in "ok" }
        for (scope, keys, method, path) in [("ingest", ingestKeys, HTTPRequest.Method.post, "/events"), ("query", queryKeys, .get, "/metrics")] {
            let keys = APIKeys(commaSeparated: keys)
            let group = router.group()
            if !keys.isEmpty { group.add(middleware: BearerAuthMiddleware(keys: keys, scope: scope)) }
            if let limiter { group.add(middleware: RateLimitMiddleware(limiter: limiter, scope: scope, identifyByAPIKey: !keys.isEmpty)) }
            group.on(RouterPath(path), method: method) { _, _ in "\(scope) ok" }
        }
        return Application(router: router)
    }

    static func bearer(_ key: String) -> HTTPFields { [.authorization: "Bearer \(key)"] }

    static func error(_ response: TestResponse) throws -> [String: String] {
        let object = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: [String: String]]
        return try #require(object?["error"])
    }

    @Test func routesAreOpenWithoutKeys() async throws {
        try await Self.app().test(.router) { client in
            try await client.execute(uri: "/events", method: .post, body: ByteBuffer(string: "{}")) { #expect($0.status == .ok) }
            try await client.execute(uri: "/metrics", method: .get) { #expect($0.status == .ok) }
        }
    }

    @Test func ingestKeysGuardOnlyIngest() async throws {
        try await Self.app(ingestKeys: "k1,k2").test(.router) { client in
            try await client.execute(uri: "/events", method: .post, body: ByteBuffer(string: #"{"event_name":"x"}"#)) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == #"Bearer realm="ingest""#)
                #expect(response.headers[.contentType] == "application/json; charset=utf-8")
                let error = try Self.error(response)
                #expect(error["code"] == "unauthorized")
                #expect(error["field"] == "Authorization")
            }
            try await client.execute(uri: "/events", method: .post, headers: Self.bearer("wrong")) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == #"Bearer realm="ingest", error="invalid_token""#)
                #expect(!String(decoding: response.body.readableBytesView, as: UTF8.self).contains("wrong"))
            }
            try await client.execute(uri: "/events", method: .post, headers: Self.bearer("k2")) { #expect($0.status == .ok) }
            try await client.execute(uri: "/metrics", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
        }
    }

    @Test func queryKeysAreSeparateFromIngestKeys() async throws {
        try await Self.app(ingestKeys: "ingest-key", queryKeys: "query-key").test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get, headers: Self.bearer("ingest-key")) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/metrics", method: .get, headers: Self.bearer("query-key")) { #expect($0.status == .ok) }
            try await client.execute(uri: "/events", method: .post, headers: Self.bearer("query-key")) { #expect($0.status == .unauthorized) }
        }
    }

    @Test func rateLimitIsPerAPIKey() async throws {
        let limiter = RateLimiter(ratePerSecond: 2, clock: { 0 })
        try await Self.app(ingestKeys: "a,b", limiter: limiter).test(.router) { client in
            for _ in 0..<2 {
                try await client.execute(uri: "/events", method: .post, headers: Self.bearer("a")) { #expect($0.status == .ok) }
            }
            try await client.execute(uri: "/events", method: .post, headers: Self.bearer("a")) { response in
                #expect(response.status == .tooManyRequests)
                #expect(response.headers[.retryAfter] == "1")
                let error = try Self.error(response)
                #expect(error["code"] == "rate_limited")
            }
            try await client.execute(uri: "/events", method: .post, headers: Self.bearer("b")) { #expect($0.status == .ok) }
            // Rejected keys are turned away before they can use anyone's tokens.
            try await client.execute(uri: "/events", method: .post, headers: Self.bearer("c")) { #expect($0.status == .unauthorized) }
        }
    }

    /// Without keys the client is its address; over a real socket every request comes from 127.0.0.1,
    /// and a made-up bearer token does not buy a fresh bucket.
    @Test func rateLimitIsPerAddressWithoutKeys() async throws {
        let limiter = RateLimiter(ratePerSecond: 3, clock: { 0 })
        try await Self.app(limiter: limiter).test(.live) { client in
            for index in 0..<3 {
                try await client.execute(uri: "/metrics", method: .get, headers: Self.bearer("made-up-\(index)")) { #expect($0.status == .ok) }
            }
            try await client.execute(uri: "/metrics", method: .get, headers: Self.bearer("made-up-9")) { response in
                #expect(response.status == .tooManyRequests)
                #expect(response.headers[.retryAfter] != nil)
            }
            try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
        }
    }
}
