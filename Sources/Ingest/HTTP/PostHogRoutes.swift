import APISupport
import Events
import Foundation
import Hummingbird
import WAL

/// Registers PostHog's capture API: `POST /batch/`, `/capture/`, `/e/` and `/i/v0/e/` (with or
/// without the trailing slash). Success is 200 `{"status":1,…}` once the valid events are durable.
/// The body may be gzip by `Content-Encoding: gzip` or `?compression=gzip-js` (posthog-js);
/// `lz64` (posthog-js's older choice) is refused with 415.
func addPostHogRoutes<Context: RequestContext>(to router: some RouterMethods<Context>, handler: SDKIngestHandler) {
    for path in ["/batch", "/capture", "/e", "/i/v0/e"] {
        router.post(RouterPath(stringLiteral: path)) { request, _ in
            let compression = request.uri.queryParameters.get("compression")
            if let compression, compression != "gzip-js", compression != "gzip" {
                return SDKAnswer.error(APIError(
                    status: .unsupportedMediaType, code: "unsupported_compression",
                    message: "Send compression=gzip-js or an uncompressed body, not \(compression).", field: "compression"
                ), dialect: .posthog)
            }
            let key = request.headers.firstValue(.authorization).flatMap(PostHogAuth.bearer)
            return try await handler.handle(request, dialect: .posthog, gzipByQuery: compression != nil) { parser, body, received in
                parser.parsePostHog(body, headerAPIKey: key, receivedAtMicros: received)
            }
        }
    }
}

enum PostHogAuth {
    static func bearer(_ header: String) -> String? {
        guard header.count > 7, header.prefix(7).lowercased() == "bearer " else { return nil }
        let token = header.dropFirst(7).trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }
}
