import Hummingbird
import HummingbirdTesting
import Operations
import Testing

@testable import EventMetricsService

/// How `serve` puts keys and the limit in front of a scope's routes: keys first, so a request with a
/// bad key never spends a token, and the limiter keyed by the (valid) key.
@Suite("Access wiring")
struct AccessWiringTests {
    static func app(_ access: AccessSettings, keys: APIKeys) -> some ApplicationProtocol {
        let router = Router(context: ServiceRequestContext.self)
        access.group(router, scope: "ingest", keys: keys, limiter: access.makeLimiter()).post("/events") { _, _ in "ok" }
        router.get("/health") { _, _ in "ok" }
        return Application(router: router)
    }

    @Test func keysThenRateLimit() async throws {
        let keys = APIKeys(commaSeparated: "a,b")
        // A token every 1,000 s: the second request is limited however slow the machine is.
        let access = AccessSettings(ingestKeys: keys, rateLimitPerSecond: 0.001)
        try await Self.app(access, keys: keys).test(.router) { client in
            try await client.execute(uri: "/events", method: .post, headers: [.authorization: "Bearer zzz"]) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/events", method: .post, headers: [.authorization: "Bearer a"]) { #expect($0.status == .ok) }
            try await client.execute(uri: "/events", method: .post, headers: [.authorization: "Bearer a"]) { #expect($0.status == .tooManyRequests) }
            try await client.execute(uri: "/events", method: .post, headers: [.authorization: "Bearer b"]) { #expect($0.status == .ok) }
            try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
        }
    }

    @Test func nothingConfiguredLeavesRoutesOpen() async throws {
        let access = AccessSettings()
        #expect(access.makeLimiter() == nil)
        try await Self.app(access, keys: access.ingestKeys).test(.router) { client in
            for _ in 0..<20 {
                try await client.execute(uri: "/events", method: .post) { #expect($0.status == .ok) }
            }
        }
    }

    @Test func keyOptionsHaveNoDefaultSoHelpCannotPrintThem() throws {
        let options = try OperationsOptions.parse(["--ingest-api-keys", "x,y", "--rate-limit-per-second", "5"])
        let access = options.access()
        #expect(access.ingestKeys.count == 2)
        #expect(access.rateLimitPerSecond == 5)
        // Help prints a "(default: …)" for every option with a default; the key options have none, so
        // keys from the environment never reach --help.
        let help = OperationsOptions.helpMessage(columns: 400)
        let keyLines = help.split(separator: "\n").filter { $0.hasPrefix("  --") && $0.contains("api-keys <") }
        #expect(keyLines.count == 2)
        #expect(keyLines.allSatisfy { !$0.contains("default") })
    }
}
