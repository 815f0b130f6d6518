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
            if let batch = reader.value("batch", in: top) {
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
        if let error = checkCount(events.count, of: "events") { return .failure(error) }
        var apiKey = headerAPIKey ?? (reader.value("api_key", in: top) ?? reader.value("token", in: top)).flatMap(reader.string)
        if apiKey == nil, let first = events.first {
            let fields = reader.fields(first)
            apiKey = (reader.value("api_key", in: fields) ?? reader.value("token", in: fields)
                ?? reader.value("properties", in: fields).map(reader.fields).flatMap { reader.value("token", in: $0) })
                .flatMap(reader.string)
        }
        let batchSentAt: Int64?
        switch DialectRules.timestamp(reader.value("sent_at", in: top), reader: reader) {
        case .some(let sent): batchSentAt = sent
        case .none: return .failure(DialectRules.invalidTimestamp("sent_at"))
        }
        return .success(mapEach(events, reader: reader, dialect: .posthog, writeKey: apiKey, receivedAtMicros: receivedAtMicros) {
            mapPostHog($0, batchSentAtMicros: batchSentAt, reader: reader, receivedAtMicros: receivedAtMicros)
        })
    }

    private func mapPostHog(
        _ event: RawValue, batchSentAtMicros: Int64?, reader: RawJSONReader, receivedAtMicros: Int64
    ) -> Result<MappedMessage, EventError> {
        guard reader.isObject(event) else {
            return .failure(EventError(code: EventError.Code.wrongType, field: "event", message: "Each event must be a JSON object."))
        }
        let fields = reader.fields(event)
        var names = ClientFieldNames(eventName: "event", metadata: "properties", idempotencyKey: "uuid")
        names[.userID] = "distinct_id"
        guard let eventName = reader.value("event", in: fields) else {
            return .failure(EventError(code: EventError.Code.missingField, field: "event", message: "Send event, the name of the event."))
        }
        let propertiesValue = reader.value("properties", in: fields)
        let properties = propertiesValue.map(reader.fields) ?? []
        let userID: RawValue
        if let value = reader.value("distinct_id", in: fields), !reader.isNull(value) {
            userID = value
        } else if let value = reader.value("distinct_id", in: properties), !reader.isNull(value) {
            userID = value
            names[.userID] = "properties.distinct_id"
        } else {
            return .failure(EventError(code: EventError.Code.missingField, field: "distinct_id", message: "Send distinct_id, the user's id."))
        }
        var consumed = ConsumedFields()
        consumed.insert("distinct_id")
        consumed.insert("token")

        let (propertiesChannel, tags) = DialectRules.channelAndTags(in: properties, reader: reader, consumed: &consumed, names: &names)
        let channel: MappedValue
        if let propertiesChannel {
            channel = .raw(propertiesChannel)
        } else {
            channel = .text(DialectRules.defaultChannel(library: reader.value("$lib", in: properties).flatMap(reader.string)))
        }
        var campaign: RawValue?
        if let value = reader.value("utm_campaign", in: properties), reader.isString(value), !reader.isEmptyString(value) {
            campaign = value
            names[.campaignID] = "properties.utm_campaign"
            consumed.insert("utm_campaign")
        }

        // timestamp corrected with sent_at; else `offset` (milliseconds before sending, posthog-js).
        let stamp = reader.value("timestamp", in: fields)
        let micros: Int64
        if stamp == nil, let offset = reader.value("offset", in: fields), reader.isNumber(offset),
           let ms = Int64(String(decoding: reader.bytes(offset), as: UTF8.self)),
           case (let before, false) = ms.multipliedReportingOverflow(by: 1000),
           case (let at, false) = receivedAtMicros.subtractingReportingOverflow(before) {
            // An offset too large to subtract is not used (it used to trap).
            micros = at
        } else {
            switch DialectRules.eventTime(
                timestamp: ("timestamp", stamp), sentAt: ("sent_at", nil),
                batchSentAtMicros: batchSentAtMicros, reader: reader, receivedAtMicros: receivedAtMicros
            ) {
            case .success(let value): micros = value
            case .failure(let error): return .failure(error)
            }
        }

        var metadata = MetadataBuilder(type: "capture", reserving: event.end - event.start)
        for name: StaticString in ["$set", "$set_once"] {
            if let value = reader.value(name, in: fields) { metadata.add(name, value, reader: reader) }
        }
        if let propertiesValue, reader.isObject(propertiesValue) {
            metadata.add("properties", properties, without: consumed, reader: reader)
        }
        let messageID: MappedValue?
        switch DialectRules.messageID("uuid", in: fields, reader: reader) {
        case .success(let id): messageID = id
        case .failure(let error): return .failure(error)
        }
        return .success(MappedMessage(
            eventName: .raw(eventName), userID: .raw(userID), channel: channel, campaignID: campaign, tags: tags,
            timestampMicros: micros, metadata: metadata.finish(maxBytes: limits.maxMetadataBytes),
            messageID: messageID, fieldNames: names
        ))
    }
}
