import APISupport
import Events
import Hummingbird
import Metrics
import WAL

/// Counts what the ingest routes answered, for the admin `/metrics` scrape:
/// `ingest_requests_total{route, outcome}` and `ingest_events_total{outcome}`.
///
/// Outcomes: `accepted` (durable, 202), `rejected` (the client's fault: 400, 413, 415, or the bad
/// events of a bulk), `refused` (the WAL said no: 503, nothing written), `error` (anything else).
/// Every series is created up front so a dashboard shows 0 rather than "no data".
struct IngestTelemetry: Sendable {
    enum Outcome: String, CaseIterable, Sendable {
        case accepted, rejected, refused, error
    }

    private let requests: [String: [Outcome: Counter]]
    private let events: [Outcome: Counter]

    init(routes: [String]) {
        var requests: [String: [Outcome: Counter]] = [:]
        for route in routes {
            var byOutcome: [Outcome: Counter] = [:]
            for outcome in Outcome.allCases {
                byOutcome[outcome] = Counter(label: "ingest_requests_total", dimensions: [("route", route), ("outcome", outcome.rawValue)])
            }
            requests[route] = byOutcome
        }
        self.requests = requests
        var events: [Outcome: Counter] = [:]
        for outcome in [Outcome.accepted, .rejected, .refused] {
            events[outcome] = Counter(label: "ingest_events_total", dimensions: [("outcome", outcome.rawValue)])
        }
        self.events = events
    }

    /// Appends `events` to `wal` in one append (durable when it returns) and counts them: accepted,
    /// or refused with the 503 the WAL's refusal maps to.
    func appendDurably(_ events: [Event], to wal: WriteAheadLog) async throws {
        do {
            _ = try await wal.append(contentsOf: events.map(EventRecordCodec.encode))
        } catch {
            self.events(.refused, events.count)
            throw APIError.walRefused(error)
        }
        self.events(.accepted, events.count)
    }

    func events(_ outcome: Outcome, _ count: Int) {
        guard count > 0 else { return }
        events[outcome]?.increment(by: count)
    }

    /// Runs a route's handler and counts its answer by status.
    func countRequest(route: String, _ handle: () async throws -> Response) async throws -> Response {
        do {
            let response = try await handle()
            requests[route]?[Self.outcome(response.status)]?.increment()
            return response
        } catch let error as any HTTPResponseError {
            requests[route]?[Self.outcome(error.status)]?.increment()
            throw error
        } catch {
            requests[route]?[.error]?.increment()
            throw error
        }
    }

    static func outcome(_ status: HTTPResponse.Status) -> Outcome {
        switch status.code {
        case 200..<300: return .accepted
        case 503: return .refused
        case 400..<500: return .rejected
        default: return .error
        }
    }
}
