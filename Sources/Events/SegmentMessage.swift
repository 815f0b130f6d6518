// Segment's HTTP Tracking API (also spoken by RudderStack SDKs and Jitsu) mapped onto our event.

/// The calls of Segment's HTTP Tracking API; `/v1/batch` and `/v1/import` carry any of them.
public enum SegmentCall: String, Sendable, CaseIterable {
    case track, page, screen, identify, group, alias

    /// `rawValue` as a static string, for metadata written without a String per message.
    var name: StaticString {
        switch self {
        case .track: "track"
        case .page: "page"
        case .screen: "screen"
        case .identify: "identify"
        case .group: "group"
        case .alias: "alias"
        }
    }
}

extension RawJSONReader {
    /// The call a message's `type` value names: an unescaped string by its bytes (read for every
    /// message of a batch, so without a String), any other through its unescaped text.
    func segmentCall(_ value: RawValue) -> SegmentCall? {
        guard let text = unescapedText(value) else { return string(value).flatMap(SegmentCall.init(rawValue:)) }
        func named(_ call: SegmentCall) -> SegmentCall? {
            text.elementsEqual(UnsafeBufferPointer(start: call.name.utf8Start, count: call.name.utf8CodeUnitCount)) ? call : nil
        }
        // By length first (`allCases` would build an array per message).
        return switch text.count {
        case 4: named(.page)
        case 5: named(.track) ?? named(.group) ?? named(.alias)
        case 6: named(.screen)
        case 8: named(.identify)
        default: nil
        }
    }
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
        // The usual body (valid JSON, an object, a batch within the limits) in one pass; anything
        // else, errors of the body as a whole included, by the general reader below.
        parseSegmentInOnePass(body, call: call, headerWriteKey: headerWriteKey, receivedAtMicros: receivedAtMicros)
            ?? parseSegmentGenerally(body, call: call, headerWriteKey: headerWriteKey, receivedAtMicros: receivedAtMicros)
    }

    /// Any Segment body: validated as a whole, then each message read by position.
    func parseSegmentGenerally(
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
                $0, lists: SegmentFieldLists(of: $0, reader: reader), call: call, outerContext: outerContext,
                batchSentAtMicros: batchSentAt, reader: reader, receivedAtMicros: receivedAtMicros
            )
        })
    }

    /// Largest Segment message, as Segment's own API limits it.
    static let maxSegmentMessageBytes = 32 * 1024

    /// Maps one message whose fields (and those of its `context`, `properties` and `traits`) are
    /// in `lists`; `metadataDepthBound` is ``MappedMessage/metadataDepthBound``, when the one-pass
    /// reader knows it.
    func mapSegment(
        _ message: RawValue, lists: borrowing SegmentFieldLists, call routeCall: SegmentCall?,
        outerContext: [RawField], batchSentAtMicros: Int64?, reader: RawJSONReader, receivedAtMicros: Int64,
        metadataDepthBound: Int? = nil
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
        let call: SegmentCall
        if let given = routeCall {
            call = given
        } else {
            guard let typeValue = lists.value(.type) else {
                return .failure(EventError(
                    code: EventError.Code.missingField, field: "type",
                    message: "Each message of a batch names its type: track, page, screen, identify, group or alias."
                ))
            }
            guard let known = reader.segmentCall(typeValue) else {
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
            guard let event = lists.value(.event) else {
                return .failure(EventError(code: EventError.Code.missingField, field: "event", message: "A track call needs event, the name of the event."))
            }
            eventName = .raw(event)
        } else {
            eventName = .text(call.rawValue)
        }

        // User: userId, else anonymousId (a null or empty userId counts as absent).
        let userID: MappedValue
        if let user = lists.value(.userId), !reader.isNull(user), !reader.isEmptyString(user) {
            userID = .raw(user)
            names[.userID] = "userId"
        } else if let anonymous = lists.value(.anonymousId), !reader.isNull(anonymous) {
            userID = .raw(anonymous)
            names[.userID] = "anonymousId"
        } else {
            return .failure(EventError(code: EventError.Code.missingField, field: "userId", message: "Send userId or anonymousId."))
        }

        // Context: the message's own fields win over the batch's.
        var context = lists.context
        if !outerContext.isEmpty {
            let own = context
            context += outerContext.filter { outer in !own.contains { reader.sameName($0, outer) } }
        }
        let propertiesValue = lists.value(call == .identify || call == .group ? .traits : .properties)
        let properties = call == .identify || call == .group ? lists.traits : lists.properties
        var consumed = ConsumedFields()

        let (propertiesChannel, tags) = DialectRules.channelAndTags(in: properties, reader: reader, consumed: &consumed, names: &names)

        // Channel. What becomes our own field is left out of metadata, here as for `properties`.
        var contextConsumed = ConsumedFields()
        let channel: MappedValue
        if let propertiesChannel {
            channel = .raw(propertiesChannel)
        } else if let value = lists.value(.channel), reader.isString(value) {
            channel = .raw(value)
            names[.channel] = "channel"
        } else if let value = reader.value("channel", in: context), reader.isString(value) {
            channel = .raw(value)
            names[.channel] = "context.channel"
            contextConsumed.insert("channel")
        } else {
            let library = reader.value("library", in: context)
                .flatMap { reader.value("name", inObject: $0) }.flatMap(reader.string)
            channel = .text(DialectRules.defaultChannel(library: library))
        }

        // Campaign: context.campaign.name, else .id.
        var campaign: RawValue?
        var campaignTrimming: NestedConsumedField?
        // The context holds nothing but the campaign's name or id (the usual context of a server SDK
        // that sets a campaign): nothing of it is left for metadata.
        var contextIsOnlyCampaign = false
        if let campaignObject = reader.value("campaign", in: context), reader.isObject(campaignObject) {
            var nameValue: RawValue?, idValue: RawValue?, fieldCount = 0
            reader.forEachField(of: campaignObject) { field in
                fieldCount += 1
                if nameValue == nil, reader.hasName(field, "name") {
                    nameValue = field.value
                } else if idValue == nil, reader.hasName(field, "id") {
                    idValue = field.value
                }
            }
            if let value = nameValue, reader.isString(value), !reader.isEmptyString(value) {
                campaign = value
                names[.campaignID] = "context.campaign.name"
            } else if let value = idValue, reader.isString(value), !reader.isEmptyString(value) {
                campaign = value
                names[.campaignID] = "context.campaign.id"
            }
            if let campaign {
                campaignTrimming = NestedConsumedField(object: campaignObject, consumedValue: campaign)
                contextIsOnlyCampaign = context.count == 1 && fieldCount == 1
            }
        }

        // Timestamp: timestamp, else originalTimestamp, corrected with sentAt.
        let stamp = lists.value(.timestamp)
        let stampName: StaticString = stamp != nil ? "timestamp" : "originalTimestamp"
        let stampValue = stamp ?? lists.value(.originalTimestamp)
        let sentAt = lists.value(.sentAt)
        let time = DialectRules.eventTime(
            timestamp: (stampName, stampValue), sentAt: ("sentAt", sentAt),
            batchSentAtMicros: batchSentAtMicros, reader: reader, receivedAtMicros: receivedAtMicros
        )
        // A timestamp without a sentAt of its own is corrected with the batch's.
        let batchSentAtApplies = stampValue.map { !reader.isNull($0) } == true && sentAt.map(reader.isNull) != false
        let timestampMicros: Int64
        switch time {
        case .success(let micros): timestampMicros = micros
        case .failure(let error): return .failure(error)
        }
        names[.timestamp] = stampName

        // Metadata: the call's own fields, the remaining properties (or traits), then the context.
        var metadata = MetadataBuilder(type: call.name, reserving: message.end - message.start)
        for name in [SegmentFieldName.name, .category, .groupId, .previousId] {
            if let value = lists.value(name) { metadata.add(name.literal, value, reader: reader) }
        }
        if let propertiesValue, reader.isObject(propertiesValue) {
            metadata.add(call == .identify || call == .group ? "traits" : "properties", properties, without: consumed, reader: reader)
        }
        if !context.isEmpty && !contextIsOnlyCampaign {
            // A context that held only what became ours (say, only campaign.name) is not stored.
            metadata.add("context", context, without: contextConsumed, trimming: campaignTrimming, omittedWhenEmpty: true, reader: reader)
        }

        let messageID: MappedValue?
        switch DialectRules.messageID("messageId", lists.value(.messageId), reader: reader) {
        case .success(let id): messageID = id
        case .failure(let error): return .failure(error)
        }
        return .success(MappedMessage(
            eventName: eventName, userID: userID, channel: channel, campaignID: campaign, tags: tags,
            timestampMicros: timestampMicros, metadata: metadata.finish(maxBytes: limits.maxMetadataBytes),
            messageID: messageID, fieldNames: names, batchSentAtApplies: batchSentAtApplies,
            metadataDepthBound: metadataDepthBound
        ))
    }
}
