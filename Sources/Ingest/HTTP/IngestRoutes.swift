import APISupport
import Events
import Foundation
import Hummingbird
import NIOCore
import Time
import WAL

/// Registers `POST /events` and `POST /events/bulk`.
///
/// Both answer 202 only after the WAL append that holds the events has been fdatasync'ed, so an
/// acknowledged event survives a crash. Validation happens before the append, so a rejected request
/// writes nothing. `router` may be a route group, so the caller can put API-key and rate-limit
/// middleware in front of exactly these routes.
public func addIngestRoutes<Context: RequestContext>(
    to router: some RouterMethods<Context>,
    wal: WriteAheadLog,
    configuration: IngestConfiguration
) {
    let handler = IngestHandler(wal: wal, configuration: configuration)
    let telemetry = handler.telemetry
    router.post("/events") { request, context in
        try await telemetry.countRequest(route: "events") { try await handler.handleSingle(request, context: context) }
    }
    router.post("/events/bulk") { request, context in
        try await telemetry.countRequest(route: "events_bulk") { try await handler.handleBulk(request, context: context) }
    }
}

struct IngestHandler: Sendable {
    let wal: WriteAheadLog
    let configuration: IngestConfiguration
    let parser: EventParser
    let telemetry = IngestTelemetry(routes: ["events", "events_bulk"])

    init(wal: WriteAheadLog, configuration: IngestConfiguration) {
        self.wal = wal
        self.configuration = configuration
        self.parser = EventParser(limits: configuration.limits)
    }

    func handleSingle(_ request: Request, context: some RequestContext) async throws -> Response {
        let format = try BodyFormat(contentType: request.headers.firstValue(.contentType))
        let body = try await collect(request)
        // A JSON array (or NDJSON) sent to /events is a bulk request, as clients of the old service expect.
        if format == .ndjson || body.firstNonWhitespaceByte == UInt8(ascii: "[") {
            return try await bulk(body, format: format)
        }
        let received = UTCTime.nowMicros()
        let event: Event
        switch body.withUnsafeReadableBytes({ parser.parseEvent($0, receivedAtMicros: received) }) {
        case .success(let parsed): event = parsed
        case .failure(let error):
            telemetry.events(.rejected, 1)
            throw APIError.badRequest(error.code.description, error.message, field: error.field)
        }
        do {
            _ = try await wal.append(EventRecordCodec.encode(event))
        } catch {
            telemetry.events(.refused, 1)
            throw APIError.walRefused(error)
        }
        telemetry.events(.accepted, 1)
        return .json(status: .accepted, #"{"status":"accepted"}"#)
    }

    func handleBulk(_ request: Request, context: some RequestContext) async throws -> Response {
        let format = try BodyFormat(contentType: request.headers.firstValue(.contentType))
        return try await bulk(try await collect(request), format: format)
    }

    private func bulk(_ body: ByteBuffer, format: BodyFormat) async throws -> Response {
        let received = UTCTime.nowMicros()
        let parsed: BulkParseResult
        let bulkFormat: BulkFormat = format == .ndjson ? .ndjson : .json
        switch body.withUnsafeReadableBytes({ parser.parseBulk($0, format: bulkFormat, receivedAtMicros: received) }) {
        case .success(let result): parsed = result
        case .failure(let error):
            var apiError = APIError.badRequest(error.code.description, error.message, field: error.field)
            if error.code == .tooManyEvents { apiError.status = .contentTooLarge }
            throw apiError
        }
        let summary = BulkSummary(accepted: parsed.events.count, errors: parsed.errors)
        telemetry.events(.rejected, parsed.errors.count)
        guard !parsed.events.isEmpty else {
            return .json(status: .badRequest, summary.json())
        }
        try await telemetry.appendDurably(parsed.events, to: wal)
        return .json(status: .accepted, summary.json())
    }

    /// Collects the body (inflating `Content-Encoding: gzip`), answering 413 in the project's JSON
    /// error shape when it, or what it inflates to, is too large.
    private func collect(_ request: Request) async throws -> ByteBuffer {
        try await collectBody(request, configuration: configuration)
    }
}

/// The body encodings the ingest routes accept.
enum BodyFormat: Sendable {
    case json, ndjson

    /// No content type, `application/json` and any `+json` type are JSON; `application/x-ndjson`
    /// (or `application/jsonl`) is one event per line; anything else is 415.
    init(contentType: String?) throws {
        guard let contentType else { self = .json; return }
        // What nearly every client sends, without splitting and lowercasing on the hot path.
        if contentType == "application/json" { self = .json; return }
        let mediaType = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        switch mediaType {
        case "", "application/json", "text/json": self = .json
        case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines": self = .ndjson
        case let type where type.hasSuffix("+json"): self = .json
        default:
            throw APIError(
                status: .unsupportedMediaType,
                code: "unsupported_media_type",
                message: "Send application/json or application/x-ndjson, not \(mediaType).",
                field: "Content-Type"
            )
        }
    }
}

extension APIError {
    static func bodyTooLarge(limit: Int) -> APIError {
        APIError(
            status: .contentTooLarge,
            code: "body_too_large",
            message: "The request body is larger than \(limit) bytes; split it into smaller requests.",
            field: "body"
        )
    }
}

extension ByteBuffer {
    var firstNonWhitespaceByte: UInt8? {
        readableBytesView.first { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }
    }
}
