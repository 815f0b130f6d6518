import Crypto

/// The 16-byte key that makes replay idempotent: PostgreSQL stores it as a `uuid` with a unique index,
/// so an event written twice (a retried request, a WAL batch replayed after a crash) counts once.
///
/// Derived keys and client keys are both SHA-256 based, in separate domains (a client key is hashed
/// with the prefix `client:`), so a client cannot collide with a derived key by sending its text.
public struct IdempotencyKey: Hashable, Sendable, CustomStringConvertible {
    /// Bytes 0..<8, big-endian.
    public var high: UInt64
    /// Bytes 8..<16, big-endian.
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Exactly 16 bytes, or `nil`.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 16 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (i, byte) in bytes.enumerated() {
            if i < 8 { high = high << 8 | UInt64(byte) } else { low = low << 8 | UInt64(byte) }
        }
        self.init(high: high, low: low)
    }

    /// The canonical text form of a uuid (`8-4-4-4-12` hex digits, any case); `nil` otherwise.
    public init?(uuidString: String) {
        var digits: [UInt8] = []
        digits.reserveCapacity(32)
        for (i, c) in uuidString.utf8.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                guard c == UInt8(ascii: "-") else { return nil }
                continue
            }
            guard let v = EventJSONBytes.hexValue(c) else { return nil }
            digits.append(v)
        }
        guard uuidString.utf8.count == 36, digits.count == 32 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for i in 0..<16 { high = high << 4 | UInt64(digits[i]) }
        for i in 16..<32 { low = low << 4 | UInt64(digits[i]) }
        self.init(high: high, low: low)
    }

    /// The 16 bytes in order (as PostgreSQL's `uuid` binary form).
    public var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: 16)
        for i in 0..<8 {
            out[i] = UInt8(truncatingIfNeeded: high >> (56 - 8 * UInt64(i)))
            out[8 + i] = UInt8(truncatingIfNeeded: low >> (56 - 8 * UInt64(i)))
        }
        return out
    }

    /// Lowercase `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, as PostgreSQL prints a uuid.
    /// The bytes are a hash prefix, not an RFC 9562 uuid: no version or variant bits are set.
    public var uuidString: String {
        String(unsafeUninitializedCapacity: 36) { out in
            let hex: StaticString = "0123456789abcdef"
            let digits = hex.utf8Start
            var o = 0
            for nibble in 0..<32 {
                if nibble == 8 || nibble == 12 || nibble == 16 || nibble == 20 {
                    out[o] = UInt8(ascii: "-")
                    o += 1
                }
                let word = nibble < 16 ? high : low
                let shift = UInt64(60 - 4 * (nibble % 16))
                out[o] = digits[Int((word >> shift) & 0xF)]
                o += 1
            }
            return o
        }
    }

    public var description: String { uuidString }

    /// The key of an event that came without `idempotency_key`: the first 16 bytes of
    /// SHA-256(`user_id|event_name|channel|timestamp|campaign_id`), where `timestamp` is the decimal
    /// Unix seconds, followed by `.` and six digits of microseconds only when those are not zero, and
    /// `campaign_id` is empty when absent.
    public static func derived(
        userID: String,
        eventName: String,
        channel: String,
        timestampMicros: Int64,
        campaignID: String?
    ) -> IdempotencyKey {
        // One contiguous input and one update: each update call into swift-crypto has a fixed cost.
        let capacity = userID.utf8.count + eventName.utf8.count + channel.utf8.count
            + (campaignID?.utf8.count ?? 0) + 4 + 32
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { buffer in
            var o = append(userID, to: buffer, at: 0)
            buffer[o] = UInt8(ascii: "|")
            o = append(eventName, to: buffer, at: o + 1)
            buffer[o] = UInt8(ascii: "|")
            o = append(channel, to: buffer, at: o + 1)
            buffer[o] = UInt8(ascii: "|")
            o += 1
            o += formatTimestamp(timestampMicros, into: UnsafeMutableBufferPointer(rebasing: buffer[o...]))
            buffer[o] = UInt8(ascii: "|")
            o += 1
            if let campaignID { o = append(campaignID, to: buffer, at: o) }
            return sha256Prefix(buffer, count: o)
        }
    }

    /// The key of an event that came with `idempotency_key`: the first 16 bytes of
    /// SHA-256(`client:` + key).
    public static func client(_ key: String) -> IdempotencyKey {
        hashed("client:", key)
    }

    /// The first 16 bytes of SHA-256 of the texts one after the other, hashed in one update.
    static func hashed(_ a: String, _ b: String, _ c: String = "") -> IdempotencyKey {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: a.utf8.count + b.utf8.count + c.utf8.count) { buffer in
            let n = append(c, to: buffer, at: append(b, to: buffer, at: append(a, to: buffer, at: 0)))
            return sha256Prefix(buffer, count: n)
        }
    }

    /// ``hashed(_:_:_:)`` of `a` followed by bytes that are UTF-8 text.
    static func hashed(_ a: String, _ b: UnsafeBufferPointer<UInt8>) -> IdempotencyKey {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: a.utf8.count + b.count) { buffer in
            let n = append(a, to: buffer, at: 0)
            _ = UnsafeMutableBufferPointer(rebasing: buffer[n...]).update(fromContentsOf: b)
            return sha256Prefix(buffer, count: n + b.count)
        }
    }

    /// The first 16 bytes of SHA-256 of `buffer`'s first `count` bytes, in one update.
    private static func sha256Prefix(_ buffer: UnsafeMutableBufferPointer<UInt8>, count: Int) -> IdempotencyKey {
        var hasher = SHA256()
        hasher.update(bufferPointer: UnsafeRawBufferPointer(start: buffer.baseAddress, count: count))
        return IdempotencyKey(digest: hasher.finalize())
    }

    /// Copies the UTF-8 of `string` to `buffer` at `offset`; returns the offset after it.
    @inline(__always)
    private static func append(_ string: String, to buffer: UnsafeMutableBufferPointer<UInt8>, at offset: Int) -> Int {
        let copied: Int? = string.utf8.withContiguousStorageIfAvailable { source in
            _ = UnsafeMutableBufferPointer(rebasing: buffer[offset...]).update(fromContentsOf: source)
            return source.count
        }
        if let copied { return offset + copied }
        var o = offset
        for byte in string.utf8 {
            buffer[o] = byte
            o += 1
        }
        return o
    }

    private init(digest: SHA256.Digest) {
        self = digest.withUnsafeBytes { raw in
            var high: UInt64 = 0
            var low: UInt64 = 0
            for i in 0..<8 {
                high = high << 8 | UInt64(raw[i])
                low = low << 8 | UInt64(raw[8 + i])
            }
            return IdempotencyKey(high: high, low: low)
        }
    }

    /// Writes `seconds[.micros]` and returns its length (at most 27 bytes).
    static func formatTimestamp(_ micros: Int64, into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
        let magnitude = micros.magnitude
        var seconds = magnitude / 1_000_000
        let fraction = magnitude % 1_000_000
        var o = 0
        if micros < 0 {
            out[o] = UInt8(ascii: "-")
            o += 1
        }
        var digitCount = 1
        var rest = seconds
        while rest >= 10 {
            rest /= 10
            digitCount += 1
        }
        for i in stride(from: o + digitCount - 1, through: o, by: -1) {
            out[i] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: seconds % 10)
            seconds /= 10
        }
        o += digitCount
        if fraction != 0 {
            out[o] = UInt8(ascii: ".")
            var f = fraction
            for i in stride(from: o + 6, through: o + 1, by: -1) {
                out[i] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: f % 10)
                f /= 10
            }
            o += 7
        }
        return o
    }
}
