// The event model of the ingest path: what a client sends (validated by `EventParser`), what the WAL
// stores (`EventRecordCodec`), and what the replayer writes to PostgreSQL.

/// One validated analytics event.
///
/// Strings are exactly what the client sent (after JSON unescaping), already checked against
/// `EventLimits`; `metadataJSON` is the client's `metadata` object byte for byte, so that nothing is
/// lost or reformatted on the way to PostgreSQL.
public struct Event: Sendable, Equatable {
    public var eventName: String
    public var channel: String
    /// `nil` when the client sent no `campaign_id`, `null`, or `""` (all three mean "no campaign" and
    /// derive the same idempotency key).
    public var campaignID: String?
    public var userID: String
    /// When the event happened: Unix time in microseconds, UTC.
    public var timestampMicros: Int64
    public var tags: [String]
    /// The `metadata` object exactly as sent (from `{` to `}`), or `nil` when absent or `null`.
    public var metadataJSON: [UInt8]?
    public var idempotencyKey: IdempotencyKey
    /// When this node received the event: Unix time in microseconds, UTC.
    public var receivedAtMicros: Int64

    public init(
        eventName: String,
        channel: String,
        campaignID: String? = nil,
        userID: String,
        timestampMicros: Int64,
        tags: [String] = [],
        metadataJSON: [UInt8]? = nil,
        idempotencyKey: IdempotencyKey,
        receivedAtMicros: Int64
    ) {
        self.eventName = eventName
        self.channel = channel
        self.campaignID = campaignID
        self.userID = userID
        self.timestampMicros = timestampMicros
        self.tags = tags
        self.metadataJSON = metadataJSON
        self.idempotencyKey = idempotencyKey
        self.receivedAtMicros = receivedAtMicros
    }
}

/// Bounds applied by `EventParser`. Lengths are counted in UTF-8 bytes (after JSON unescaping), not
/// in characters: bytes are what the WAL, the network and PostgreSQL pay for, and they cannot be
/// gamed with combining characters.
public struct EventLimits: Sendable, Equatable {
    public var maxEventNameBytes: Int = 100
    public var maxChannelBytes: Int = 50
    public var maxUserIDBytes: Int = 100
    public var maxCampaignIDBytes: Int = 100
    public var maxTags: Int = 32
    public var maxTagBytes: Int = 64
    /// Size of the `metadata` object as sent, whitespace included.
    public var maxMetadataBytes: Int = 8 * 1024
    /// Nesting depth of `metadata`; the object itself is depth 1.
    public var maxMetadataDepth: Int = 32
    public var maxIdempotencyKeyBytes: Int = 128
    /// How far after the receive time a timestamp may lie (clock skew between client and server).
    public var maxFutureSkewSeconds: Int64 = 300
    /// The earliest accepted timestamp: 2000-01-01T00:00:00Z.
    public var minTimestampSeconds: Int64 = 946_684_800
    /// Events (elements, or non-blank NDJSON lines) in one bulk body, valid or not.
    public var maxEventsPerBulk: Int = 10_000

    public init() {}

    public static let `default` = EventLimits()

    /// Any JSON nested deeper than this, anywhere in a body, is rejected as a whole ("body",
    /// "nesting_too_deep"): it bounds the parser's recursion whatever the client sends.
    var hardNestingLimit: Int { max(128, maxMetadataDepth + 8) }
}

/// Why a body or an event was rejected. `field` names the JSON field (or `"body"` when the body as a
/// whole is at fault); `code` is stable and meant for programs; `message` is for people and says what
/// to change.
public struct EventError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: Code
    public var field: String
    public var message: String


    public var description: String { "\(field): \(code): \(message)" }
}

extension EventError {
    /// The codes `EventParser` produces: an open set (a struct, like `WALError.Code`), whose
    /// `description` is the stable snake_case code clients see in the JSON error.
    public struct Code: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
        public let description: String
        public init(stringLiteral code: String) { description = code }

        /// The body is not JSON (syntax error, truncated, trailing garbage, empty).
        public static let malformedJSON: Code = "malformed_json"
        /// JSON nested deeper than the parser accepts anywhere in the body.
        public static let nestingTooDeep: Code = "nesting_too_deep"
        /// A string is not valid UTF-8, or contains an unpaired surrogate escape.
        public static let invalidUTF8: Code = "invalid_utf8"
        /// A string contains U+0000, which PostgreSQL cannot store in text or jsonb.
        public static let invalidCharacter: Code = "invalid_character"
        /// A metadata number PostgreSQL's `numeric` cannot hold (`1e-20000`).
        public static let outOfRange: Code = "number_out_of_range"
        public static let missingField: Code = "missing_field"
        public static let duplicateField: Code = "duplicate_field"
        public static let wrongType: Code = "wrong_type"
        public static let empty: Code = "empty"
        public static let tooLong: Code = "too_long"
        public static let tooMany: Code = "too_many"
        public static let tooLarge: Code = "too_large"
        public static let tooDeep: Code = "too_deep"
        public static let invalidTimestamp: Code = "invalid_timestamp"
        public static let timestampInFuture: Code = "timestamp_in_future"
        public static let timestampTooOld: Code = "timestamp_too_old"
        /// A bulk body with more events than `EventLimits.maxEventsPerBulk`.
        public static let tooManyEvents: Code = "too_many_events"
        /// A bulk body with no events at all.
        public static let noEvents: Code = "no_events"
    }
}

/// How a bulk body is framed.
public enum BulkFormat: Sendable, Equatable {
    /// `{"events": [...]}` or a bare JSON array of events.
    case json
    /// One JSON event per line (`application/x-ndjson`); blank lines are ignored.
    case ndjson
}

/// One rejected event of a bulk body.
public struct BulkEventError: Sendable, Equatable {
    /// Position of the event in the body: the array index, or the number of the non-blank NDJSON line
    /// counting from 0.
    public var index: Int
    public var field: String
    public var code: EventError.Code
    public var message: String

    public init(index: Int, field: String, code: EventError.Code, message: String) {
        self.index = index
        self.field = field
        self.code = code
        self.message = message
    }

    public init(index: Int, error: EventError) {
        self.init(index: index, field: error.field, code: error.code, message: error.message)
    }
}

/// The outcome of a bulk body that was well-formed as a whole.
public struct BulkParseResult: Sendable, Equatable {
    /// The valid events, in body order.
    public var events: [Event]
    /// `eventIndexes[i]` is the position of `events[i]` in the body.
    public var eventIndexes: [Int]
    /// The rejected events, in body order.
    public var errors: [BulkEventError]

    public init(events: [Event] = [], eventIndexes: [Int] = [], errors: [BulkEventError] = []) {
        self.events = events
        self.eventIndexes = eventIndexes
        self.errors = errors
    }

    /// Records the outcome of the event at `index`: kept, or reported by its index.
    mutating func append(_ outcome: Result<Event, EventError>, index: Int) {
        switch outcome {
        case .success(let event):
            events.append(event)
            eventIndexes.append(index)
        case .failure(let error):
            errors.append(BulkEventError(index: index, error: error))
        }
    }

    /// Events in the body, valid or not.
    public var totalCount: Int { events.count + errors.count }
}
