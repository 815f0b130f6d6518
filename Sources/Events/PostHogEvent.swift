// PostHog's capture API mapped onto our event.

extension EventParser {
    /// Parses a PostHog capture body: one event, `{"batch": [...]}` (with `api_key` and `sent_at`
    /// beside it), or a bare array of events (posthog-js). The project key is `headerAPIKey`
    /// (`Authorization: Bearer`), else the body's `api_key` or `token`, else the first event's
    /// `api_key`, `token` or `properties.token`.
    public func parsePostHog(
        _ body: UnsafeRawBufferPointer, headerAPIKey: String?, receivedAtMicros: Int64
    ) -> Result<SDKBatch, EventError> {
        let reader = RawJSONReader(body, nestingLimit: limits.hardNestingLimit)
        let root: RawValue
        do { root = try reader.validate() } catch { return .failure(error.error) }
        var events: [RawValue]
        var top: [RawField] = []
        if reader.isArray(root) {
            events = reader.elements(root)
        } else if reader.isObject(root) {
            top = reader.fields(root)
            if let batch = top.value("batch") {
                guard reader.isArray(batch) else {
                    return .failure(EventError(code: EventError.Code.wrongType, field: "batch", message: "batch must be an array of events."))
                }
                events = reader.elements(batch)
            } else {
                events = [root]
            }
        } else {
            return .failure(EventError(
                code: EventError.Code.wrongType, field: "body",
                message: "A PostHog body must be an event object, {\"batch\": [...]} or an array of events."
            ))
        }
        guard !events.isEmpty else { return .failure(EventParser.noEvents) }
        guard events.count <= limits.maxEventsPerBulk else {
            return .failure(EventError(
                code: EventError.Code.tooManyEvents, field: "batch",
                message: "A batch holds at most \(limits.maxEventsPerBulk) events; split it."
            ))
        }
        var apiKey = headerAPIKey ?? (top.value("api_key") ?? top.value("token")).flatMap(reader.string)
        if apiKey == nil, let first = events.first {
            let fields = reader.fields(first)
            apiKey = (fields.value("api_key") ?? fields.value("token")
                ?? fields.value("properties").map(reader.fields)?.value("token")).flatMap(reader.string)
        }
        let batchSentAt: Int64?
        switch DialectRules.timestamp(top.value("sent_at"), reader: reader) {
        case .some(let sent): batchSentAt = sent
        case .none: return .failure(DialectRules.invalidTimestamp("sent_at"))
        }
        var result = BulkParseResult()
        for (index, event) in events.enumerated() {
            let mapped = mapPostHog(event, batchSentAtMicros: batchSentAt, reader: reader, receivedAtMicros: receivedAtMicros).flatMap {
                assemble($0, reader: reader, dialect: .posthog, writeKey: apiKey, receivedAtMicros: receivedAtMicros)
            }
            switch mapped {
            case .success(let event):
                result.events.append(event)
                result.eventIndexes.append(index)
            case .failure(let error):
                result.errors.append(BulkEventError(index: index, error: error))
            }
        }
        return .success(SDKBatch(writeKey: apiKey, parsed: result))
    }

    private func mapPostHog(
        _ event: RawValue, batchSentAtMicros: Int64?, reader: RawJSONReader, receivedAtMicros: Int64
    ) -> Result<MappedMessage, EventError> {
        guard reader.isObject(event) else {
            return .failure(EventError(code: EventError.Code.wrongType, field: "event", message: "Each event must be a JSON object."))
        }
        let fields = reader.fields(event)
        var names: ClientFieldNames = [
            "event_name": "event", "user_id": "distinct_id", "metadata": "properties", "idempotency_key": "uuid",
        ]
        guard let eventName = fields.value("event") else {
            return .failure(EventError(code: EventError.Code.missingField, field: "event", message: "Send event, the name of the event."))
        }
        let properties = fields.value("properties").map(reader.fields) ?? []
        let userID: RawValue
        if let value = fields.value("distinct_id"), !reader.isNull(value) {
            userID = value
        } else if let value = properties.value("distinct_id"), !reader.isNull(value) {
            userID = value
            names["user_id"] = "properties.distinct_id"
        } else {
            return .failure(EventError(code: EventError.Code.missingField, field: "distinct_id", message: "Send distinct_id, the user's id."))
        }
        var consumed: ConsumedFields = ["distinct_id", "token"]

        let channel: MappedValue
        if let value = properties.value("channel"), reader.isString(value) {
            channel = .raw(value)
            consumed.insert("channel")
            names["channel"] = "properties.channel"
        } else {
            channel = .text(DialectRules.defaultChannel(library: properties.value("$lib").flatMap(reader.string)))
        }
        var campaign: RawValue?
        if let value = properties.value("utm_campaign"), reader.isString(value), reader.string(value) != "" {
            campaign = value
            names["campaign_id"] = "properties.utm_campaign"
        }
        var tags: RawValue?
        if let value = properties.value("tags"), DialectRules.isStringArray(value, reader: reader) {
            tags = value
            consumed.insert("tags")
            names["tags"] = "properties.tags"
        }

        // timestamp corrected with sent_at; else `offset` (milliseconds before sending, posthog-js).
        let stamp = fields.value("timestamp")
        let micros: Int64
        if stamp == nil, let offset = fields.value("offset"), reader.isNumber(offset),
           let ms = Int64(String(decoding: reader.bytes(offset), as: UTF8.self)) {
            micros = receivedAtMicros - ms * 1000
        } else {
            switch DialectRules.eventTime(
                timestamp: ("timestamp", stamp), sentAt: ("sent_at", nil),
                batchSentAtMicros: batchSentAtMicros, reader: reader, receivedAtMicros: receivedAtMicros
            ) {
            case .success(let value): micros = value
            case .failure(let error): return .failure(error)
            }
        }

        do {
            var parts: [(name: String, bytes: [UInt8])] = []
            for name in ["$set", "$set_once"] {
                if let value = fields.value(name) { parts.append((name, Array(reader.bytes(value)))) }
            }
            if let value = fields.value("properties"), reader.isObject(value) {
                var remaining: [UInt8] = []
                DialectRules.remainingObject(properties, without: consumed, reader: reader, into: &remaining)
                parts.append(("properties", remaining))
            }
            let metadata = DialectRules.metadata(type: "capture", parts: parts, maxBytes: limits.maxMetadataBytes)
            var messageID: String?
            if let value = fields.value("uuid"), !reader.isNull(value) {
                guard let text = reader.string(value) else {
                    return .failure(EventError(code: EventError.Code.wrongType, field: "uuid", message: "uuid must be a string."))
                }
                messageID = text
            }
            return .success(MappedMessage(
                eventName: .raw(eventName), userID: .raw(userID), channel: channel, campaignID: campaign, tags: tags,
                timestampMicros: micros, metadata: metadata, messageID: messageID, fieldNames: names
            ))
        }
    }
}
