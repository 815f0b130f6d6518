import APISupport
import Hummingbird
import Metrics

/// Lets a request through only with `Authorization: Bearer <key>` for one of `keys`; otherwise
/// answers 401 in the project's JSON error shape with `WWW-Authenticate: Bearer` (RFC 6750), without
/// reading the body. Added to a route group only when keys are configured.
///
/// Neither the presented token nor the keys are ever logged.
public struct BearerAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let keys: APIKeys
    let scope: String
    private let denied: Counter

    /// `scope` names the key set in the error message, the realm and the metric (`ingest`, `query`).
    public init(keys: APIKeys, scope: String) {
        self.keys = keys
        self.scope = scope
        denied = Counter(label: "api_requests_denied_total", dimensions: [("scope", scope), ("reason", "unauthorized")])
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let token = Self.bearerToken(request.headers[.authorization])
        if let token, keys.contains(token.utf8) {
            return try await next(request, context)
        }
        denied.increment()
        return unauthorized(tokenPresented: token != nil)
    }

    /// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), else nil.
    public static func bearerToken(_ header: String?) -> String? {
        guard let header else { return nil }
        let trimmed = header.trimmingASCIIWhitespace()
        guard trimmed.count > 7, trimmed.prefix(7).lowercased() == "bearer " else { return nil }
        let token = String(trimmed.dropFirst(7)).trimmingASCIIWhitespace()
        return token.isEmpty ? nil : token
    }

    private func unauthorized(tokenPresented: Bool) -> Response {
        let error = APIError(
            status: .unauthorized,
            code: "unauthorized",
            message: tokenPresented
                ? "The API key is not valid for \(scope) requests."
                : "\(scope.prefix(1).uppercased() + scope.dropFirst()) requests need an API key: send Authorization: Bearer <key>.",
            field: "Authorization"
        )
        var headers = error.headers
        headers[.wwwAuthenticate] = tokenPresented ? #"Bearer realm="\#(scope)", error="invalid_token""# : #"Bearer realm="\#(scope)""#
        headers[.cacheControl] = "no-store"
        return Response(status: .unauthorized, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: error.jsonBody())))
    }
}
