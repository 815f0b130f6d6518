import Foundation
import Hummingbird

/// `GET /`: the dashboard, one static HTML page with its CSS and JavaScript inline, shipped as a
/// resource of this executable. It calls the public API (`GET /metrics`, `GET /ready`) from the
/// browser like any other client, so it needs no routes or permissions of its own; with query API
/// keys set, the person types a key into the page and it is sent as a Bearer token.
enum Dashboard {
    /// Read once at start: the page never changes while the process runs.
    static func page() throws -> ByteBuffer {
        guard let url = Bundle.module.url(forResource: "dashboard", withExtension: "html") else {
            throw HTTPError(.notFound, message: "dashboard.html is not bundled with this build")
        }
        return ByteBuffer(bytes: try Data(contentsOf: url))
    }

    static func addRoute<Context: RequestContext>(to router: Router<Context>) throws {
        let page = try page()
        router.get("/") { _, _ in
            Response(
                status: .ok,
                headers: [
                    .contentType: "text/html; charset=utf-8",
                    .cacheControl: "no-cache",
                    // Everything is inline and same-origin; nothing may be loaded from elsewhere.
                    .contentSecurityPolicy: "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:",
                ],
                body: .init(byteBuffer: page)
            )
        }
    }
}
