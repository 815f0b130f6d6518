// libFuzzer entry for the event JSON parser (`scripts/fuzz --target event`), linked by
// `scripts/fuzz` with the real `Events` target (and swift-crypto) built with the fuzzer's
// instrumentation.
//
// Every input goes through `parseEvent`, `parseBulk(.json)` and `parseBulk(.ndjson)`. Besides
// "no crash, no ASan report", it traps when an accepted event breaks `EventLimits`, does not survive
// the WAL record codec, or when the three entry points disagree about the same bytes.
// `Tests/EventsTests/FuzzRegressionTests.swift` replays `fuzz/regressions/event/` through the same calls.

@testable import Events

/// 2025-11-29T10:16:40Z, the tests' `eventTestNow`: the sample data lies before it.
let fuzzNowMicros: Int64 = 1_764_411_400_000_000
let fuzzParser = EventParser()

@_cdecl("LLVMFuzzerTestOneInput")
public func eventFuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let body = UnsafeRawBufferPointer(start: data, count: size)

    let single = fuzzParser.parseEvent(body, receivedAtMicros: fuzzNowMicros)
    if case .success(let event) = single { checkAccepted(event) }

    let json = fuzzParser.parseBulk(body, format: .json, receivedAtMicros: fuzzNowMicros)
    if case .success(let result) = json { checkBulk(result) }

    let ndjson = fuzzParser.parseBulk(body, format: .ndjson, receivedAtMicros: fuzzNowMicros)
    if case .success(let result) = ndjson { checkBulk(result) }

    // Differential checks: one accepted event is the same event as an NDJSON line (when the body has
    // no newline) and as the only element of a JSON array.
    if case .success(let event) = single {
        if !body.contains(0x0A) {
            guard case .success(let lines) = ndjson, lines.events == [event], lines.errors.isEmpty else {
                fatalError("parseEvent accepted the body but NDJSON gave \(ndjson)")
            }
        }
        let wrapped = [UInt8(ascii: "[")] + Array(body) + [UInt8(ascii: "]")]
        let array = wrapped.withUnsafeBytes { fuzzParser.parseBulk($0, format: .json, receivedAtMicros: fuzzNowMicros) }
        guard case .success(let elements) = array, elements.events == [event], elements.errors.isEmpty else {
            fatalError("parseEvent accepted the body but [body] gave \(array)")
        }
    }
    return 0
}

func checkAccepted(_ event: Event) {
    let limits = fuzzParser.limits
    require(!event.eventName.isEmpty && event.eventName.utf8.count <= limits.maxEventNameBytes, "event_name breaks its limits")
    require(!event.channel.isEmpty && event.channel.utf8.count <= limits.maxChannelBytes, "channel breaks its limits")
    require(!event.userID.isEmpty && event.userID.utf8.count <= limits.maxUserIDBytes, "user_id breaks its limits")
    require((event.campaignID?.utf8.count ?? 0) <= limits.maxCampaignIDBytes, "campaign_id breaks its limits")
    require(event.campaignID != "", "an empty campaign_id must mean absent")
    require(event.tags.count <= limits.maxTags, "too many tags")
    require(event.tags.allSatisfy { $0.utf8.count <= limits.maxTagBytes }, "a tag breaks its limit")
    require(event.timestampMicros >= limits.minTimestampSeconds * 1_000_000, "timestamp before the minimum")
    require(event.timestampMicros <= fuzzNowMicros + limits.maxFutureSkewSeconds * 1_000_000, "timestamp in the future")
    require((event.metadataJSON?.count ?? 0) <= limits.maxMetadataBytes, "metadata too large")
    if let metadata = event.metadataJSON {
        require(metadata.first == UInt8(ascii: "{") && metadata.last == UInt8(ascii: "}"), "metadata is not an object")
    }
    for text in [event.eventName, event.channel, event.userID, event.campaignID ?? ""] + event.tags {
        require(!text.utf8.contains(0), "U+0000 in a stored string")
    }
    require(event.receivedAtMicros == fuzzNowMicros, "received-at changed")
    let record = EventRecordCodec.encode(event)
    require(record.count == EventRecordCodec.encodedSize(of: event), "encodedSize disagrees with encode")
    switch record.withUnsafeBytes({ EventRecordCodec.decodeResult($0) }) {
    case .success(let decoded): require(decoded == event, "the WAL record does not round-trip")
    case .failure(let error): fatalError("the WAL record of an accepted event does not decode: \(error)")
    }
}

func checkBulk(_ result: BulkParseResult) {
    require(result.totalCount >= 1 && result.totalCount <= fuzzParser.limits.maxEventsPerBulk, "bad bulk count")
    require(result.events.count == result.eventIndexes.count, "events and indexes differ in count")
    let indexes = (result.eventIndexes + result.errors.map(\.index)).sorted()
    require(indexes == Array(0..<result.totalCount), "bulk indexes are not 0..<n exactly once: \(indexes)")
    require(result.eventIndexes == result.eventIndexes.sorted(), "events out of body order")
    require(result.errors.map(\.index) == result.errors.map(\.index).sorted(), "errors out of body order")
    // `field` may be "": an unknown field named "" is named as it is (fuzz/regressions/event/empty-unknown-field-invalid-utf8.json).
    for error in result.errors { require(!error.code.description.isEmpty && !error.message.isEmpty, "an error without code or message") }
    for event in result.events { checkAccepted(event) }
}

/// `precondition` that keeps its message in -O builds, so the fuzz log says which check failed.
func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError(message()) }
}
