/// Builds a `COPY … FROM STDIN (FORMAT binary)` stream: header, rows, trailer.
///
/// Binary COPY skips the server's text parsing of every field (timestamps, arrays, jsonb), which is
/// most of the cost of a bulk load. Each row states its field count, then each field is a 4-byte
/// big-endian length (−1 for NULL) followed by the type's binary send format. The writer does not
/// know the table: the caller writes fields in the column order of its COPY statement.
///
/// For long loads, ``takeBuffered()`` hands over what has been written so far (to send with
/// ``PostgresConnection/CopyInStream``) and keeps going; ``finish()`` adds the trailer.
public struct CopyBinaryWriter: Sendable {
    /// Microseconds between the Unix epoch and PostgreSQL's epoch, 2000-01-01T00:00:00Z.
    public static let postgresEpochOffsetMicros: Int64 = 946_684_800_000_000

    private static let signature: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00]

    private var buffer: [UInt8]
    public private(set) var rowCount = 0

    public init(reservingCapacity capacity: Int = 64 * 1024) {
        buffer = []
        buffer.reserveCapacity(capacity)
        buffer.append(contentsOf: Self.signature)
        appendBigEndian(Int32(0))  // flags: no OIDs
        appendBigEndian(Int32(0))  // header extension length
    }

    /// Bytes written and not yet taken.
    public var bufferedByteCount: Int { buffer.count }

    public mutating func beginRow(fieldCount: Int16) {
        appendBigEndian(fieldCount)
        rowCount += 1
    }

    public mutating func null() { appendBigEndian(Int32(-1)) }

    public mutating func text(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            appendBigEndian(Int32(utf8.count))
            buffer.append(contentsOf: utf8)
        }
    }

    public mutating func text(_ value: String?) {
        if let value { text(value) } else { null() }
    }

    public mutating func bool(_ value: Bool) {
        appendBigEndian(Int32(1))
        buffer.append(value ? 1 : 0)
    }

    public mutating func int2(_ value: Int16) {
        appendBigEndian(Int32(2))
        appendBigEndian(value)
    }

    public mutating func int4(_ value: Int32) {
        appendBigEndian(Int32(4))
        appendBigEndian(value)
    }

    public mutating func int8(_ value: Int64) {
        appendBigEndian(Int32(8))
        appendBigEndian(value)
    }

    public mutating func float8(_ value: Double) {
        appendBigEndian(Int32(8))
        appendBigEndian(value.bitPattern)
    }

    /// A `uuid` from its 16 bytes, in order.
    public mutating func uuid(_ bytes: some Collection<UInt8>) {
        precondition(bytes.count == 16, "a uuid is 16 bytes")
        appendBigEndian(Int32(16))
        buffer.append(contentsOf: bytes)
    }

    /// A `timestamptz` (or `timestamp`) from microseconds since the Unix epoch.
    public mutating func timestamp(unixMicros micros: Int64) {
        int8(micros - Self.postgresEpochOffsetMicros)
    }

    /// A one-dimensional `text[]` (element OID 25, lower bound 1); an empty array has no dimensions,
    /// as PostgreSQL itself writes `'{}'`.
    public mutating func textArray(_ values: [String]) {
        let lengthIndex = buffer.count
        appendBigEndian(Int32(0))  // patched below
        let start = buffer.count
        appendBigEndian(Int32(values.isEmpty ? 0 : 1))  // dimensions
        appendBigEndian(Int32(0))  // no NULL elements
        appendBigEndian(Int32(bitPattern: PostgresType.text))
        if !values.isEmpty {
            appendBigEndian(Int32(values.count))
            appendBigEndian(Int32(1))  // lower bound
            for value in values { text(value) }
        }
        patchLength(at: lengthIndex, length: buffer.count - start)
    }

    /// A `jsonb` from UTF-8 JSON text (the server parses and validates it); binary jsonb is a version
    /// byte, 1, followed by the text.
    public mutating func jsonb(_ json: some Collection<UInt8>) {
        appendBigEndian(Int32(json.count + 1))
        buffer.append(1)
        buffer.append(contentsOf: json)
    }

    public mutating func bytea(_ bytes: some Collection<UInt8>) {
        appendBigEndian(Int32(bytes.count))
        buffer.append(contentsOf: bytes)
    }

    /// Returns the bytes written so far and empties the buffer, so a long stream can be sent in parts.
    public mutating func takeBuffered() -> [UInt8] {
        let taken = buffer
        buffer.removeAll(keepingCapacity: true)
        return taken
    }

    /// Replaces the 4-byte big-endian value at `offset` (counted from the first byte not yet taken),
    /// e.g. an `int4` field written before its value was known.
    public mutating func overwriteInt32(at offset: Int, _ value: Int32) {
        withUnsafeBytes(of: value.bigEndian) { bytes in
            for index in 0..<4 { buffer[offset + index] = bytes[index] }
        }
    }

    /// The end-of-data marker (a field count of −1) that ``finish()`` appends.
    public static let trailer: [UInt8] = [0xFF, 0xFF]

    /// The bytes written and not yet taken, trailer not included. Unlike ``finish()`` it leaves the
    /// buffer as it is, so a writer whose buffer is shared (a copy of it held elsewhere) is not copied.
    public var buffered: [UInt8] { buffer }

    /// Adds the trailer and returns the (remaining) stream.
    public mutating func finish() -> [UInt8] {
        buffer.append(contentsOf: Self.trailer)
        return takeBuffered()
    }

    @inline(__always)
    private mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { buffer.append(contentsOf: $0) }
    }

    private mutating func patchLength(at index: Int, length: Int) {
        withUnsafeBytes(of: Int32(length).bigEndian) { bytes in
            for offset in 0..<4 { buffer[index + offset] = bytes[offset] }
        }
    }
}
