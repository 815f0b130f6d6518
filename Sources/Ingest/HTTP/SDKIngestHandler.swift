import APISupport
import Events
import Foundation
import Hummingbird
import NIOCore
import Time
import WAL

/// Decides whether a write key (Segment) or project API key (PostHog) may send events; `nil` when
/// the service has no `INGEST_API_KEYS` and the SDK routes are open.
public typealias WriteKeyCheck = @Sendable (String) -> Bool

/// Registers the routes of the analytics SDKs' wire formats: Segment's HTTP Tracking API
/// (`addSegmentRoutes`) and PostHog's capture API (`addPostHogRoutes`).
///
/// An answer of 200 means the valid messages are durable in the WAL, as 202 means on `/events/bulk`.
/// With `writeKeys` set, the write key (Segment) or project API key (PostHog) must pass (401
/// otherwise, nothing stored).
public func addSDKRoutes<Context: RequestContext>(
    to router: some RouterMethods<Context>,
    wal: WriteAheadLog,
    configuration: IngestConfiguration,
    writeKeys: WriteKeyCheck?
) {
    let handler = SDKIngestHandler(wal: wal, configuration: configuration, writeKeys: writeKeys)
    addSegmentRoutes(to: router, handler: handler)
    addPostHogRoutes(to: router, handler: handler)
}

/// What the Segment and PostHog routes share with `/events/bulk`: the body limit, gzip, the parser's
/// validation, one WAL append for the valid messages of a request, and 503 + `Retry-After` when the
/// WAL refuses. Only the answer's shape differs by dialect, because each SDK checks its own.
struct SDKIngestHandler: Sendable {
    let wal: WriteAheadLog
    let configuration: IngestConfiguration
    let parser: EventParser
    let writeKeys: WriteKeyCheck?
    let telemetry: IngestTelemetry

    init(wal: WriteAheadLog, configuration: IngestConfiguration, writeKeys: WriteKeyCheck?) {
        self.wal = wal
        self.configuration = configuration
        self.parser = EventParser(limits: configuration.limits)
        self.writeKeys = writeKeys
        self.telemetry = IngestTelemetry(routes: ["segment", "posthog"])
    }

    /// Collects, inflates, parses (with `parse`), checks the key, appends and answers in `dialect`'s shape.
    func handle(
        _ request: Request, dialect: SDKDialect, gzipByQuery: Bool = false,
        parse: @Sendable (EventParser, UnsafeRawBufferPointer, Int64) -> Result<SDKBatch, EventError>
    ) async throws -> Response {
        // Requests are counted by dialect: `route="segment"` or `route="posthog"`.
        try await telemetry.countRequest(route: dialect.rawValue) {
            do {
                return try await ingest(request, dialect: dialect, gzipByQuery: gzipByQuery, parse: parse)
            } catch let error as APIError {
                return SDKAnswer.error(error, dialect: dialect)
            }
        }
    }

    private func ingest(
        _ request: Request, dialect: SDKDialect, gzipByQuery: Bool,
        parse: @Sendable (EventParser, UnsafeRawBufferPointer, Int64) -> Result<SDKBatch, EventError>
    ) async throws -> Response {
        let body = try await collectBody(request, configuration: configuration, gzip: gzipByQuery)
        let received = UTCTime.nowMicros()
        let batch: SDKBatch
        switch body.withUnsafeReadableBytes({ parse(parser, $0, received) }) {
        case .success(let parsed): batch = parsed
        case .failure(let error):
            var apiError = APIError.badRequest(error.code.description, error.message, field: error.field)
            if error.code == EventError.Code.tooManyEvents { apiError.status = .contentTooLarge }
            if error.code == EventError.Code.tooLarge, error.field == "message" { apiError.status = .contentTooLarge }
            throw apiError
        }
        if let writeKeys {
            guard let key = batch.writeKey, writeKeys(key) else {
                telemetry.events(.rejected, batch.parsed.totalCount)
                throw APIError(
                    status: .unauthorized, code: batch.writeKey == nil ? "missing_write_key" : "invalid_write_key",
                    message: dialect == .segment
                        ? "Send a write key of this service: HTTP Basic auth with the key as user name, or writeKey in the body."
                        : "Send a project API key of this service: api_key in the body, or Authorization: Bearer.",
                    field: dialect == .segment ? "writeKey" : "api_key"
                )
            }
        }
        let parsed = batch.parsed
        telemetry.events(.rejected, parsed.errors.count)
        let summary = BulkSummary(accepted: parsed.events.count, errors: parsed.errors)
        guard !parsed.events.isEmpty else {
            // A lone message that failed is answered as an error the SDK can read; a batch whose
            // messages all failed also lists each one.
            let first = parsed.errors.first
            var error = APIError.badRequest(first?.code.description ?? "invalid", first?.message ?? "No message could be stored.", field: first?.field)
            if parsed.errors.count > 1 {
                error.message = "None of the \(parsed.errors.count) messages could be stored; the first: \(error.message)"
            }
            if first?.code == EventError.Code.tooLarge, first?.field == "message" { error.status = .contentTooLarge }
            return SDKAnswer.error(error, dialect: dialect, summary: summary)
        }
        try await telemetry.appendDurably(parsed.events, to: wal)
        return SDKAnswer.success(dialect: dialect, summary: summary)
    }
}

/// Reads a request body under the route's limit and inflates it when it is gzip (by
/// `Content-Encoding`, or by the route's own signal such as PostHog's `?compression=gzip-js`).
func collectBody(_ request: Request, configuration: IngestConfiguration, gzip: Bool = false) async throws -> ByteBuffer {
    let encoding = try ContentEncoding(header: request.headers.firstValue(.contentEncoding))
    if let length = request.headers.firstValue(.contentLength).flatMap(Int.init), length > configuration.maxBodyBytes {
        throw APIError.bodyTooLarge(limit: configuration.maxBodyBytes)
    }
    let body: ByteBuffer
    do {
        body = try await request.body.collect(upTo: configuration.maxBodyBytes)
    } catch is NIOTooManyBytesError {
        throw APIError.bodyTooLarge(limit: configuration.maxBodyBytes)
    }
    guard encoding == .gzip || gzip else { return body }
    return try GzipBody(maxBytes: configuration.maxBodyBytes, maxRatio: configuration.maxGzipRatio).inflate(body)
}

/// The answers each SDK expects: Segment's clients check for 200 and read `code`/`message` of an
/// error; PostHog's check for 200 and read `detail`. Both also get our bulk summary (accepted,
/// rejected, errors by index) and our `error` object, so nothing is lost for other readers.
enum SDKAnswer {
    static func success(dialect: SDKDialect, summary: BulkSummary) -> Response {
        let fields = summary.json().dropFirst()  // `"accepted":…}` after our own opening brace
        let head = dialect == .segment ? #"{"success":true,"# : #"{"status":1,"#
        return .json(status: .ok, head + String(fields))
    }

    static func error(_ error: APIError, dialect: SDKDialect, summary: BulkSummary? = nil) -> Response {
        var out: String
        switch dialect {
        case .segment:
            out = #"{"success":false,"code":"# + JSONString.quote(error.code) + #","message":"# + JSONString.quote(error.message)
        case .posthog:
            let type = error.status == .unauthorized ? "authentication_error" : "validation_error"
            out = #"{"type":"\#(type)","code":"# + JSONString.quote(error.code) + #","detail":"# + JSONString.quote(error.message)
            out += #","attr":"# + (error.field.map(JSONString.quote) ?? "null")
        }
        if let summary {
            out += "," + String(summary.json().dropFirst().dropLast())
        }
        out += #","error":"# + String(decoding: error.jsonBody().dropFirst(9).dropLast(), as: UTF8.self) + "}"
        var response = Response.json(status: error.status, out)
        if let retry = error.retryAfterSeconds { response.headers[.retryAfter] = String(retry) }
        return response
    }
}
