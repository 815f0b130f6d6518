// The WAL record of an event: a compact, versioned binary form that replay decodes without any JSON
// parsing. The byte layout is documented in docs/event-record-format.md; keep the two in step.

/// Why bytes are not an event record. `offset` is where in the record the problem was found.
/// A struct with an open set of codes, like `WALError` and `PostgresError`.
public struct EventRecordError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The first byte is not a version this code can read (`byte` holds it).
        public static let unsupportedVersion = Code("unsupportedVersion")
        /// Flag bits this version does not define are set (`byte` holds the flags).
        public static let unknownFlags = Code("unknownFlags")
        /// The record ends before its last field.
        public static let truncated = Code("truncated")
        /// A length is not a canonical varint, or larger than the bytes that remain.
        public static let invalidLength = Code("invalidLength")
        /// A string field is not valid UTF-8.
        public static let invalidUTF8 = Code("invalidUTF8")
        /// Bytes follow the last field.
        public static let trailingBytes = Code("trailingBytes")
    }

    public var code: Code
    public var offset: Int
    /// The offending byte, for `unsupportedVersion` and `unknownFlags`.
    public var byte: UInt8?

    public init(_ code: Code, offset: Int, byte: UInt8? = nil) {
        self.code = code
        self.offset = offset
        self.byte = byte
    }

    public var description: String {
        "invalid event record at byte \(offset): \(code)" + (byte.map { " (\($0))" } ?? "")
    }
}

/// Encodes `Event`s as WAL records and decodes them back.
///
/// Version 1 layout (all integers little-endian; `varint` is unsigned LEB128, canonical, at most
/// 5 bytes):
///
///     u8      version = 1
///     u8      flags: bit 0 campaign_id present, bit 1 metadata present; other bits 0
///     16 B    idempotency key
///     i64     timestamp, Unix µs
///     i64     received-at, Unix µs
///     varint+ event_name, channel, user_id (length, then UTF-8 bytes)
///     varint+ campaign_id, if flag bit 0
///     varint  tag count, then each tag as varint length + UTF-8 bytes
///     varint+ metadata JSON bytes, if flag bit 1
///
/// Decoding is total: any byte string either decodes to the event that encodes to exactly those
/// bytes, or throws `EventRecordError`.
public enum EventRecordCodec {
    public static let currentVersion: UInt8 = 1

    static let flagCampaign: UInt8 = 1 << 0
    static let flagMetadata: UInt8 = 1 << 1
    static let fixedSize = 1 + 1 + 16 + 8 + 8

    // MARK: encoding

    /// The encoded size of `event`, in bytes.
    public static func encodedSize(of event: Event) -> Int {
        var size = fixedSize
        size += stringSize(event.eventName) + stringSize(event.channel) + stringSize(event.userID)
        if let campaign = event.campaignID { size += stringSize(campaign) }
        size += varintSize(event.tags.count)
        for tag in event.tags { size += stringSize(tag) }
        if let metadata = event.metadataJSON { size += varintSize(metadata.count) + metadata.count }
        return size
    }

    public static func encode(_ event: Event) -> [UInt8] {
        let size = encodedSize(of: event)
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            count = write(event, to: buffer.baseAddress!)
            precondition(count == size, "EventRecordCodec size mismatch")
        }
    }

    /// Appends the record of `event` to `buffer` (for framing several records in one WAL batch).
    public static func encode(_ event: Event, into buffer: inout [UInt8]) {
        let size = encodedSize(of: event)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: size) { record in
            let written = write(event, to: record.baseAddress!)
            precondition(written == size, "EventRecordCodec size mismatch")
            buffer.append(contentsOf: UnsafeBufferPointer(record))
        }
    }

    private static func write(_ event: Event, to out: UnsafeMutablePointer<UInt8>) -> Int {
        var o = 0
        var flags: UInt8 = 0
        if event.campaignID != nil { flags |= flagCampaign }
        if event.metadataJSON != nil { flags |= flagMetadata }
        out[0] = currentVersion
        out[1] = flags
        o = 2
        writeUInt64(event.idempotencyKey.high.bigEndian, to: out + o)
        writeUInt64(event.idempotencyKey.low.bigEndian, to: out + o + 8)
        o += 16
        writeUInt64(UInt64(bitPattern: event.timestampMicros).littleEndian, to: out + o)
        writeUInt64(UInt64(bitPattern: event.receivedAtMicros).littleEndian, to: out + o + 8)
        o += 16
        o = writeString(event.eventName, to: out, at: o)
        o = writeString(event.channel, to: out, at: o)
        o = writeString(event.userID, to: out, at: o)
        if let campaign = event.campaignID { o = writeString(campaign, to: out, at: o) }
        o = writeVarint(event.tags.count, to: out, at: o)
        for tag in event.tags { o = writeString(tag, to: out, at: o) }
        if let metadata = event.metadataJSON {
            o = writeVarint(metadata.count, to: out, at: o)
            metadata.withUnsafeBufferPointer { bytes in
                if let source = bytes.baseAddress { (out + o).update(from: source, count: bytes.count) }
            }
            o += metadata.count
        }
        return o
    }

    @inline(__always)
    private static func writeUInt64(_ storedOrder: UInt64, to out: UnsafeMutablePointer<UInt8>) {
        UnsafeMutableRawPointer(out).storeBytes(of: storedOrder, as: UInt64.self)
    }

    @inline(__always)
    private static func stringSize(_ s: String) -> Int {
        let n = s.utf8.count
        return varintSize(n) + n
    }

    @inline(__always)
    static func varintSize(_ value: Int) -> Int {
        var v = UInt(value)
        var n = 1
        while v >= 0x80 {
            v >>= 7
            n += 1
        }
        return n
    }

    @inline(__always)
    private static func writeVarint(_ value: Int, to out: UnsafeMutablePointer<UInt8>, at offset: Int) -> Int {
        var v = UInt(value)
        var o = offset
        while v >= 0x80 {
            out[o] = UInt8(truncatingIfNeeded: v) | 0x80
            v >>= 7
            o += 1
        }
        out[o] = UInt8(v)
        return o + 1
    }

    @inline(__always)
    private static func writeString(_ s: String, to out: UnsafeMutablePointer<UInt8>, at offset: Int) -> Int {
        var o = writeVarint(s.utf8.count, to: out, at: offset)
        let copied: Int? = s.utf8.withContiguousStorageIfAvailable { bytes in
            if let source = bytes.baseAddress { (out + o).update(from: source, count: bytes.count) }
            return bytes.count
        }
        if let copied {
            o += copied
        } else {
            for byte in s.utf8 {
                out[o] = byte
                o += 1
            }
        }
        return o
    }

    // MARK: decoding

    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(EventRecordError) -> Event {
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            throw EventRecordError(.truncated, offset: 0)
        }
        var reader = Reader(base: base.assumingMemoryBound(to: UInt8.self), end: bytes.count)
        return try reader.readEvent()
    }

    /// Decodes from any contiguous bytes (`[UInt8]`, `ArraySlice<UInt8>`, `Data`, a
    /// `ByteBufferView`...); other collections are copied first.
    @inlinable
    public static func decode<Bytes: Collection<UInt8>>(_ bytes: Bytes) throws(EventRecordError) -> Event {
        if let result = bytes.withContiguousStorageIfAvailable({ decodeResult(UnsafeRawBufferPointer($0)) }) {
            return try result.get()
        }
        return try Array(bytes).withUnsafeBytes { decodeResult($0) }.get()
    }

    @usableFromInline
    static func decodeResult(_ bytes: UnsafeRawBufferPointer) -> Result<Event, EventRecordError> {
        do {
            return .success(try decode(bytes))
        } catch {
            return .failure(error)
        }
    }

    private struct Reader {
        let base: UnsafePointer<UInt8>
        let end: Int
        var pos = 0

        init(base: UnsafePointer<UInt8>, end: Int) {
            self.base = base
            self.end = end
        }

        mutating func readEvent() throws(EventRecordError) -> Event {
            let version = base[0]
            guard version == EventRecordCodec.currentVersion else {
                throw EventRecordError(.unsupportedVersion, offset: 0, byte: version)
            }
            guard end >= EventRecordCodec.fixedSize else {
                throw EventRecordError(.truncated, offset: end)
            }
            let flags = base[1]
            guard flags & ~(EventRecordCodec.flagCampaign | EventRecordCodec.flagMetadata) == 0 else {
                throw EventRecordError(.unknownFlags, offset: 1, byte: flags)
            }
            let raw = UnsafeRawPointer(base)
            let high = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 2, as: UInt64.self))
            let low = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 10, as: UInt64.self))
            let timestamp = Int64(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 18, as: UInt64.self)))
            let receivedAt = Int64(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 26, as: UInt64.self)))
            pos = EventRecordCodec.fixedSize

            let eventName = try readString()
            let channel = try readString()
            let userID = try readString()
            let campaignID = flags & EventRecordCodec.flagCampaign != 0 ? try readString() : nil
            let tagCount = try readLength()
            var tags: [String] = []
            if tagCount > 0 {
                tags.reserveCapacity(tagCount)
                for _ in 0..<tagCount { tags.append(try readString()) }
            }
            var metadata: [UInt8]? = nil
            if flags & EventRecordCodec.flagMetadata != 0 {
                let n = try readLength()
                metadata = [UInt8](UnsafeBufferPointer(start: base + pos, count: n))
                pos += n
            }
            guard pos == end else { throw EventRecordError(.trailingBytes, offset: pos) }
            return Event(
                eventName: eventName,
                channel: channel,
                campaignID: campaignID,
                userID: userID,
                timestampMicros: timestamp,
                tags: tags,
                metadataJSON: metadata,
                idempotencyKey: IdempotencyKey(high: high, low: low),
                receivedAtMicros: receivedAt
            )
        }

        /// A canonical varint that is at most the number of bytes left (every length and count in a
        /// record is followed by at least that many bytes).
        mutating func readLength() throws(EventRecordError) -> Int {
            let start = pos
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard pos < end else { throw EventRecordError(.truncated, offset: pos) }
                let byte = base[pos]
                pos += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 {
                    // A final zero byte after the first makes a non-canonical (padded) encoding.
                    if byte == 0 && pos - start > 1 { throw EventRecordError(.invalidLength, offset: start) }
                    break
                }
                shift += 7
                guard shift < 35 else { throw EventRecordError(.invalidLength, offset: start) }
            }
            guard value <= UInt64(end - pos) else {
                throw EventRecordError(value <= UInt64(Int32.max) ? .truncated : .invalidLength, offset: start)
            }
            return Int(value)
        }

        mutating func readString() throws(EventRecordError) -> String {
            let n = try readLength()
            let p = base + pos
            guard EventJSONBytes.isValidUTF8(p, count: n) else {
                throw EventRecordError(.invalidUTF8, offset: pos)
            }
            pos += n
            return String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
        }
    }
}
