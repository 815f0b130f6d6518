import Testing
@testable import Events

// Expected values were computed independently with coreutils, e.g.
// printf '%s' 'user_123|product_view|web|1723475612|cmp_987' | sha256sum

@Suite("Idempotency keys")
struct IdempotencyKeyTests {
    @Test func derivedKeyMatchesSHA256Prefix() throws {
        let event = try #require(parsedTestEvent(eventTestJSON(["campaign_id": #""cmp_987""#])))
        #expect(event.idempotencyKey.uuidString == "8e4fba96-b498-1e45-aa8c-10dd9e916105")
        #expect(event.idempotencyKey.bytes == [
            0x8e, 0x4f, 0xba, 0x96, 0xb4, 0x98, 0x1e, 0x45, 0xaa, 0x8c, 0x10, 0xdd, 0x9e, 0x91, 0x61, 0x05,
        ])
        let direct = IdempotencyKey.derived(
            userID: "user_123", eventName: "product_view", channel: "web",
            timestampMicros: 1_723_475_612_000_000, campaignID: "cmp_987"
        )
        #expect(direct == event.idempotencyKey)
    }

    @Test func derivedKeyWithoutCampaign() throws {
        // printf '%s' 'user_123|product_view|web|1723475612|' | sha256sum
        let expected = "b83e0aad-b79c-1780-49a6-38aa0efde445"
        for campaign in [nil, "null", #""""#] {
            let body = campaign.map { eventTestJSON(["campaign_id": $0]) } ?? eventTestJSON()
            let event = try #require(parsedTestEvent(body))
            #expect(event.idempotencyKey.uuidString == expected)
        }
    }

    @Test func derivedKeyWithFractionalTimestamp() throws {
        // printf '%s' 'user_123|product_view|web|1764410400.123000|cmp_987' | sha256sum
        let body = eventTestJSON(["campaign_id": #""cmp_987""#, "timestamp": #""2025-11-29T10:00:00.123Z""#])
        let event = try #require(parsedTestEvent(body))
        #expect(event.idempotencyKey.uuidString == "e0380352-457e-a5a6-69d0-def21b994fbc")
        // A whole-second RFC 3339 time derives the same key as the integer.
        let whole = eventTestJSON(["campaign_id": #""cmp_987""#, "timestamp": #""2024-08-12T15:13:32Z""#])
        #expect(parsedTestEvent(whole)?.idempotencyKey.uuidString == "8e4fba96-b498-1e45-aa8c-10dd9e916105")
    }

    @Test func derivedKeyIgnoresFormattingAndExtras() throws {
        let a = try #require(parsedTestEvent(eventTestJSON(["campaign_id": #""cmp_987""#, "tags": #"["x"]"#])))
        let b = try #require(parsedTestEvent(
            #"{ "timestamp" : 1723475612, "campaign_id":"cmp\u005f987", "user_id":"user_123","channel":"web","event_name":"product_view","metadata":{"z":1}}"#
        ))
        #expect(a.idempotencyKey == b.idempotencyKey)
    }

    @Test func derivedKeyChangesWithEachPart() throws {
        let base = IdempotencyKey.derived(userID: "u", eventName: "e", channel: "c", timestampMicros: 1_000_000_000_000_000, campaignID: nil)
        let variants = [
            IdempotencyKey.derived(userID: "v", eventName: "e", channel: "c", timestampMicros: 1_000_000_000_000_000, campaignID: nil),
            IdempotencyKey.derived(userID: "u", eventName: "f", channel: "c", timestampMicros: 1_000_000_000_000_000, campaignID: nil),
            IdempotencyKey.derived(userID: "u", eventName: "e", channel: "d", timestampMicros: 1_000_000_000_000_000, campaignID: nil),
            IdempotencyKey.derived(userID: "u", eventName: "e", channel: "c", timestampMicros: 1_000_000_000_000_001, campaignID: nil),
            IdempotencyKey.derived(userID: "u", eventName: "e", channel: "c", timestampMicros: 1_000_000_000_000_000, campaignID: "k"),
        ]
        #expect(Set(variants + [base]).count == 6)
    }

    @Test func clientKey() throws {
        // printf '%s' 'client:order-42-retry' | sha256sum
        let expected = "59df795f-dc42-2199-3f32-4b3efd6b5387"
        #expect(IdempotencyKey.client("order-42-retry").uuidString == expected)
        let first = try #require(parsedTestEvent(eventTestJSON(["idempotency_key": #""order-42-retry""#])))
        let retried = try #require(parsedTestEvent(eventTestJSON(["idempotency_key": #""order-42-retry""#, "timestamp": "1723475699"])))
        #expect(first.idempotencyKey.uuidString == expected)
        #expect(retried.idempotencyKey == first.idempotencyKey)
        // Same text, different domain: a client cannot collide with a derived key by sending its input.
        let derivedInput = "user_123|product_view|web|1723475612|"
        #expect(IdempotencyKey.client(derivedInput).uuidString != "b83e0aad-b79c-1780-49a6-38aa0efde445")
    }

    @Test func timestampFormattingForTheKey() {
        func format(_ micros: Int64) -> String {
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { buffer in
                let n = IdempotencyKey.formatTimestamp(micros, into: buffer)
                return String(decoding: UnsafeBufferPointer(rebasing: buffer[0..<n]), as: UTF8.self)
            }
        }
        #expect(format(1_723_475_612_000_000) == "1723475612")
        #expect(format(1_723_475_612_000_001) == "1723475612.000001")
        #expect(format(1_723_475_612_500_000) == "1723475612.500000")
        #expect(format(0) == "0")
        #expect(format(7) == "0.000007")
        #expect(format(-1_500_000) == "-1.500000")
        #expect(format(Int64.max) == "9223372036854.775807")
        #expect(format(Int64.min) == "-9223372036854.775808")
    }

    @Test func uuidStringRoundTrip() throws {
        let key = IdempotencyKey(high: 0x0123_4567_89AB_CDEF, low: 0xFEDC_BA98_7654_3210)
        #expect(key.uuidString == "01234567-89ab-cdef-fedc-ba9876543210")
        #expect(IdempotencyKey(uuidString: key.uuidString) == key)
        #expect(IdempotencyKey(uuidString: "01234567-89AB-CDEF-FEDC-BA9876543210") == key)
        #expect(IdempotencyKey(bytes: key.bytes) == key)
        #expect(IdempotencyKey(bytes: [1, 2, 3]) == nil)
        for bad in ["", "01234567-89ab-cdef-fedc-ba987654321", "01234567-89ab-cdef-fedc-ba98765432100",
                    "0123456789ab-cdef-fedc-ba9876543210-", "01234567-89ab-cdef-fedc-ba987654321g"] {
            #expect(IdempotencyKey(uuidString: bad) == nil, "\(bad)")
        }
    }
}
