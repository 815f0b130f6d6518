import APISupport
import Hummingbird

/// Registers `GET /metrics`. Answers 200 with ``MetricsResponse`` JSON, 400 naming the bad parameter,
/// 503 with `Retry-After` when PostgreSQL is unavailable, 504 when the query hits the statement
/// timeout; errors use the project's JSON error shape.
public func addMetricsRoutes<Context: RequestContext>(to router: Router<Context>, service: MetricsService) {
    router.get("/metrics") { request, _ -> Response in
        let parameters = request.uri.queryParameters.map { (key: String($0.key), value: String($0.value)) }
        let body = try await service.responseBody(for: parameters)
        return Response(
            status: .ok,
            headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
