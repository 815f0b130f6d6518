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
        let writeKey = headerWriteKey ?? reader.value("writeKey", in: top).flatMap(reader.string)
        var messages: [RawValue]
        var outerContext: [RawField] = []
        var batchSentAt: Int64?
        if call != nil {
            messages = [root]
        } else {
            guard let batch = reader.value("batch", in: top), reader.isArray(batch) else {
                return .failure(EventError(
                    code: EventError.Code.missingField, field: "batch",
                    message: "Send the messages as {\"batch\": [...]}."
                ))
            }
            messages = reader.elements(batch)
            outerContext = reader.value("context", in: top).map(reader.fields) ?? []
            switch DialectRules.timestamp(reader.value("sentAt", in: top), reader: reader) {
            case .some(let sent): batchSentAt = sent
            case .none: return .failure(DialectRules.invalidTimestamp("sentAt"))
            }
        }
        if let error = checkCount(messages.count, of: "messages") { return .failure(error) }
        return .success(mapEach(messages, reader: reader, dialect: .segment, writeKey: writeKey, receivedAtMicros: receivedAtMicros) {
            mapSegment(
                $0, call: call, outerContext: outerContext, batchSentAtMicros: batchSentAt,
                reader: reader, receivedAtMicros: receivedAtMicros
            )
        })
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
            guard let typeValue = reader.value("type", in: fields) else {
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
        var names = ClientFieldNames(
            eventName: call == .track ? "event" : "type", metadata: "properties", idempotencyKey: "messageId"
        )

        // Event name.
        let eventName: MappedValue
        if call == .track {
            guard let event = reader.value("event", in: fields) else {
                return .failure(EventError(code: EventError.Code.missingField, field: "event", message: "A track call needs event, the name of the event."))
            }
            eventName = .raw(event)
        } else {
            eventName = .text(call.rawValue)
        }

        // User: userId, else anonymousId (a null or empty userId counts as absent).
        let userID: MappedValue
        if let user = reader.value("userId", in: fields), !reader.isNull(user), !reader.isEmptyString(user) {
            userID = .raw(user)
            names[.userID] = "userId"
        } else if let anonymous = reader.value("anonymousId", in: fields), !reader.isNull(anonymous) {
            userID = .raw(anonymous)
            names[.userID] = "anonymousId"
        } else {
            return .failure(EventError(code: EventError.Code.missingField, field: "userId", message: "Send userId or anonymousId."))
        }

        // Context: the message's own fields win over the batch's.
        var context = reader.value("context", in: fields).map(reader.fields) ?? []
        if !outerContext.isEmpty {
            let own = context
            context += outerContext.filter { outer in !own.contains { reader.sameName($0, outer) } }
        }
        let propertiesValue = reader.value(call == .identify || call == .group ? "traits" : "properties", in: fields)
        let properties = propertiesValue.map(reader.fields) ?? []
        var consumed: ConsumedFields = []

        let (propertiesChannel, tags) = DialectRules.channelAndTags(in: properties, reader: reader, consumed: &consumed, names: &names)

        // Channel.
        let channel: MappedValue
        if let propertiesChannel {
            channel = .raw(propertiesChannel)
        } else if let value = reader.value("channel", in: fields), reader.isString(value) {
            channel = .raw(value)
            names[.channel] = "channel"
        } else if let value = reader.value("channel", in: context), reader.isString(value) {
            channel = .raw(value)
            names[.channel] = "context.channel"
        } else {
            let library = reader.value("library", in: context).map(reader.fields)
                .flatMap { reader.value("name", in: $0) }.flatMap(reader.string)
            channel = .text(DialectRules.defaultChannel(library: library))
        }

        // Campaign: context.campaign.name, else .id.
        var campaign: RawValue?
        if let campaignFields = reader.value("campaign", in: context).map(reader.fields) {
            if let value = reader.value("name", in: campaignFields), reader.isString(value), !reader.isEmptyString(value) {
                campaign = value
                names[.campaignID] = "context.campaign.name"
            } else if let value = reader.value("id", in: campaignFields), reader.isString(value), !reader.isEmptyString(value) {
                campaign = value
                names[.campaignID] = "context.campaign.id"
            }
        }

        // Timestamp: timestamp, else originalTimestamp, corrected with sentAt.
        let stamp = reader.value("timestamp", in: fields)
        let stampName: StaticString = stamp != nil ? "timestamp" : "originalTimestamp"
        let time = DialectRules.eventTime(
            timestamp: (stampName, stamp ?? reader.value("originalTimestamp", in: fields)),
            sentAt: ("sentAt", reader.value("sentAt", in: fields)),
            batchSentAtMicros: batchSentAtMicros, reader: reader, receivedAtMicros: receivedAtMicros
        )
        let timestampMicros: Int64
        switch time {
        case .success(let micros): timestampMicros = micros
        case .failure(let error): return .failure(error)
        }
        names[.timestamp] = stampName

        // Metadata: the call's own fields, the remaining properties (or traits), then the context.
        var metadata = MetadataBuilder(type: call.rawValue, reserving: message.end - message.start)
        for name: StaticString in ["name", "category", "groupId", "previousId"] {
            if let value = reader.value(name, in: fields) { metadata.add(name, value, reader: reader) }
        }
        if let propertiesValue, reader.isObject(propertiesValue) {
            metadata.add(call == .identify || call == .group ? "traits" : "properties", properties, without: consumed, reader: reader)
        }
        if !context.isEmpty {
            metadata.add("context", context, without: [], reader: reader)
        }

        let messageID: String?
        switch DialectRules.messageID("messageId", in: fields, reader: reader) {
        case .success(let id): messageID = id
        case .failure(let error): return .failure(error)
        }
        return .success(MappedMessage(
            eventName: eventName, userID: userID, channel: channel, campaignID: campaign, tags: tags,
            timestampMicros: timestampMicros, metadata: metadata.finish(maxBytes: limits.maxMetadataBytes),
            messageID: messageID, fieldNames: names
        ))
    }
}
