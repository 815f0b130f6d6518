// Segment's HTTP Tracking API (also spoken by RudderStack SDKs and Jitsu) mapped onto our event.

/// The calls of Segment's HTTP Tracking API; `/v1/batch` and `/v1/import` carry any of them.
public enum SegmentCall: String, Sendable, CaseIterable {
    case track, page, screen, identify, group, alias
}

extension EventParser {
    /// Parses a Segment body: one message for `/v1/<call>` (`call` given), or `{"batch": [...],
    /// "context"?, "sentAt"?, "writeKey"?}` for `/v1/batch` and `/v1/import` (`call` nil, each
    /// message names its `type`). The batch's `context` is merged under each message's own.
    ///
    /// `.failure` when the body as a whole is unusable (malformed JSON, no messages, too many);
    /// otherwise each message is valid or reported by index, as `parseBulk` does.
    public func parseSegment(
        _ body: UnsafeRawBufferPointer, call: SegmentCall?, headerWriteKey: String?, receivedAtMicros: Int64
    ) -> Result<SDKBatch, EventError> {
        let reader = RawJSONReader(body, nestingLimit: limits.hardNestingLimit)
        let root: RawValue
        do { root = try reader.validate() } catch { return .failure(error.error) }
        guard reader.isObject(root) else {
            return .failure(EventError(
                code: EventError.Code.wrongType, field: "body",
                message: "A Segment body must be a JSON object (a message, or {\"batch\": [...]})."
            ))
        }
        let top = reader.fields(root)
        let writeKey = headerWriteKey ?? top.value("writeKey").flatMap(reader.string)
        var messages: [RawValue]
        var outerContext: [RawField] = []
        var batchSentAt: Int64?
        if call != nil {
            messages = [root]
        } else {
            guard let batch = top.value("batch"), reader.isArray(batch) else {
                return .failure(EventError(
                    code: EventError.Code.missingField, field: "batch",
                    message: "Send the messages as {\"batch\": [...]}."
                ))
            }
            messages = reader.elements(batch)
            outerContext = top.value("context").map(reader.fields) ?? []
            switch DialectRules.timestamp(top.value("sentAt"), reader: reader) {
            case .some(let sent): batchSentAt = sent
            case .none: return .failure(DialectRules.invalidTimestamp("sentAt"))
            }
        }
        guard !messages.isEmpty else { return .failure(EventParser.noEvents) }
        guard messages.count <= limits.maxEventsPerBulk else {
            return .failure(EventError(
                code: EventError.Code.tooManyEvents, field: "batch",
                message: "A batch holds at most \(limits.maxEventsPerBulk) messages; split it."
            ))
        }
        var result = BulkParseResult()
        for (index, message) in messages.enumerated() {
            let mapped = mapSegment(
                message, call: call, outerContext: outerContext, batchSentAtMicros: batchSentAt,
                reader: reader, receivedAtMicros: receivedAtMicros
            ).flatMap {
                assemble($0, reader: reader, dialect: .segment, writeKey: writeKey, receivedAtMicros: receivedAtMicros)
            }
            switch mapped {
            case .success(let event):
                result.events.append(event)
                result.eventIndexes.append(index)
            case .failure(let error):
                result.errors.append(BulkEventError(index: index, error: error))
            }
        }
        return .success(SDKBatch(writeKey: writeKey, parsed: result))
    }

    /// Largest Segment message, as Segment's own API limits it.
    static let maxSegmentMessageBytes = 32 * 1024

    private func mapSegment(
        _ message: RawValue, call routeCall: SegmentCall?, outerContext: [RawField], batchSentAtMicros: Int64?,
        reader: RawJSONReader, receivedAtMicros: Int64
    ) -> Result<MappedMessage, EventError> {
        guard reader.isObject(message) else {
            return .failure(EventError(code: EventError.Code.wrongType, field: "message", message: "Each message must be a JSON object."))
        }
        guard message.end - message.start <= Self.maxSegmentMessageBytes else {
            return .failure(EventError(
                code: EventError.Code.tooLarge, field: "message",
                message: "A message is at most \(Self.maxSegmentMessageBytes) bytes of JSON."
            ))
        }
        let fields = reader.fields(message)
        let call: SegmentCall
        if let given = routeCall {
            call = given
        } else {
            guard let typeValue = fields.value("type") else {
                return .failure(EventError(
                    code: EventError.Code.missingField, field: "type",
                    message: "Each message of a batch names its type: track, page, screen, identify, group or alias."
                ))
            }
            guard let text = reader.string(typeValue), let known = SegmentCall(rawValue: text) else {
                return .failure(EventError(
                    code: "invalid_type", field: "type",
                    message: "type must be one of track, page, screen, identify, group, alias."
                ))
            }
            call = known
        }
        var names: ClientFieldNames = [
            "event_name": call == .track ? "event" : "type", "timestamp": "timestamp",
            "metadata": "properties", "idempotency_key": "messageId",
        ]

        // Event name.
        let eventName: MappedValue
        if call == .track {
            guard let event = fields.value("event") else {
                return .failure(EventError(code: EventError.Code.missingField, field: "event", message: "A track call needs event, the name of the event."))
            }
            eventName = .raw(event)
        } else {
            eventName = .text(call.rawValue)
        }

        // User: userId, else anonymousId (a null or empty userId counts as absent).
        let userID: MappedValue
        if let user = fields.value("userId"), !reader.isNull(user), reader.string(user) != "" {
            userID = .raw(user)
            names["user_id"] = "userId"
        } else if let anonymous = fields.value("anonymousId"), !reader.isNull(anonymous) {
            userID = .raw(anonymous)
            names["user_id"] = "anonymousId"
        } else {
            return .failure(EventError(code: EventError.Code.missingField, field: "userId", message: "Send userId or anonymousId."))
        }

        // Context: the message's own fields win over the batch's.
        var context = fields.value("context").map(reader.fields) ?? []
        if !outerContext.isEmpty {
            let own = Set(context.map(\.name))
            context += outerContext.filter { !own.contains($0.name) }
        }
        let propertiesValue = call == .identify || call == .group ? fields.value("traits") : fields.value("properties")
        let properties = propertiesValue.map(reader.fields) ?? []
        var consumed: ConsumedFields = []

        // Channel.
        let channel: MappedValue
        if let value = properties.value("channel"), reader.isString(value) {
            channel = .raw(value)
            consumed.insert("channel")
            names["channel"] = "properties.channel"
        } else if let value = fields.value("channel"), reader.isString(value) {
            channel = .raw(value)
            names["channel"] = "channel"
        } else if let value = context.value("channel"), reader.isString(value) {
            channel = .raw(value)
            names["channel"] = "context.channel"
        } else {
            let library = context.value("library").map(reader.fields)?.value("name").flatMap(reader.string)
            channel = .text(DialectRules.defaultChannel(library: library))
        }

        // Campaign: context.campaign.name, else .id.
        var campaign: RawValue?
        if let campaignFields = context.value("campaign").map(reader.fields) {
            for name in ["name", "id"] {
                if let value = campaignFields.value(name), reader.isString(value), reader.string(value) != "" {
                    campaign = value
                    names["campaign_id"] = name == "name" ? "context.campaign.name" : "context.campaign.id"
                    break
                }
            }
        }

        // Tags.
        var tags: RawValue?
        if let value = properties.value("tags"), DialectRules.isStringArray(value, reader: reader) {
            tags = value
            consumed.insert("tags")
            names["tags"] = "properties.tags"
        }

        // Timestamp: timestamp, else originalTimestamp, corrected with sentAt.
        let stampName = fields.value("timestamp") != nil ? "timestamp" : "originalTimestamp"
        let time = DialectRules.eventTime(
            timestamp: (stampName, fields.value(stampName)), sentAt: ("sentAt", fields.value("sentAt")),
            batchSentAtMicros: batchSentAtMicros, reader: reader, receivedAtMicros: receivedAtMicros
        )
        let timestampMicros: Int64
        switch time {
        case .success(let micros): timestampMicros = micros
        case .failure(let error): return .failure(error)
        }
        names["timestamp"] = stampName

        // Metadata: the remaining properties (or traits), the call's own fields, then the context.
        var parts: [(name: String, bytes: [UInt8])] = []
        for name in ["name", "category", "groupId", "previousId"] {
            if let value = fields.value(name) { parts.append((name, Array(reader.bytes(value)))) }
        }
        if let propertiesValue, reader.isObject(propertiesValue) {
            var remaining: [UInt8] = []
            DialectRules.remainingObject(properties, without: consumed, reader: reader, into: &remaining)
            parts.append((call == .identify || call == .group ? "traits" : "properties", remaining))
        }
        if !context.isEmpty {
            var contextBytes: [UInt8] = []
            DialectRules.remainingObject(context, without: [], reader: reader, into: &contextBytes)
            parts.append(("context", contextBytes))
        }
        let metadata = DialectRules.metadata(type: call.rawValue, parts: parts, maxBytes: limits.maxMetadataBytes)

        var messageID: String?
        if let value = fields.value("messageId"), !reader.isNull(value) {
            guard let text = reader.string(value) else {
                return .failure(EventError(code: EventError.Code.wrongType, field: "messageId", message: "messageId must be a string."))
            }
            messageID = text
        }
        return .success(MappedMessage(
            eventName: eventName, userID: userID, channel: channel, campaignID: campaign, tags: tags,
            timestampMicros: timestampMicros, metadata: metadata, messageID: messageID, fieldNames: names
        ))
    }
}
