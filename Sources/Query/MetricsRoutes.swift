import APISupport
import Hummingbird

/// Registers `GET /metrics` and `GET /event-names` (``EventNameCatalog``). Answers 200 with ``MetricsResponse`` JSON, 400 naming the bad parameter,
/// 503 with `Retry-After` when PostgreSQL is unavailable, 504 when the query hits the statement
/// timeout; errors use the project's JSON error shape.
///
/// `router` may be a route group, so the caller can put API-key and rate-limit middleware in front.
public func addMetricsRoutes<Context: RequestContext>(to router: some RouterMethods<Context>, service: MetricsService) {
    let telemetry = MetricsQueryTelemetry()
    router.get("/metrics") { request, _ -> Response in
        let parameters = request.uri.queryParameters.map { (key: String($0.key), value: String($0.value)) }
        let groupBy = parameters.last { $0.key == "group_by" }?.value
        let body = try await telemetry.measure(groupBy: groupBy) { try await service.responseBody(for: parameters) }
        return .json(status: .ok, body, headers: [.cacheControl: "no-store"])
    }
    router.get("/event-names") { request, _ -> Response in
        let parameters = request.uri.queryParameters.map { (key: String($0.key), value: String($0.value)) }
        let body = try await service.eventNamesBody(for: parameters)
        return .json(status: .ok, body, headers: [.cacheControl: "no-store"])
    }
}
