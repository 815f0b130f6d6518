/// # Events
///
/// The event model of event-metrics-service, pure and self-contained:
///
/// - ``Event``, ``EventLimits`` and ``EventError`` (field-naming errors with an open ``EventError/Code``);
/// - ``EventParser`` reads request bodies (one JSON object, a JSON array, NDJSON) straight from bytes,
///   validating as it goes;
/// - ``EventRecordCodec`` is the compact binary WAL record of an event (docs/event-record-format.md);
/// - ``IdempotencyKey`` derives the 16-byte key that makes replay exactly-once;
/// - `parseSegment` and `parsePostHog` map the SDK dialects onto ``Event`` (``SDKBatch``), checking
///   each message's values in place with ``EventParser``'s own field rules (no JSON is rebuilt).
///
/// May import `Time` and swift-crypto only: no HTTP, no libpq, no WAL, so `scripts/fuzz` links this
/// target alone and benchmarks parse without a server.
public enum Events {}
