/// PostgreSQL's binary array format, e.g. for passing a whole batch of rows as a few `unnest`ed
/// array parameters (one round trip instead of one per row) and for reading `array_agg(uid)`.
///
/// ```
/// int32 dimensions (0 or 1)   int32 has-nulls (0)   uint32 element type OID
/// [int32 length, int32 lower bound (1)]             when dimensions = 1
/// per element: int32 byte length, bytes             (big-endian throughout)
/// ```
public enum PostgresBinaryArray {
    /// Seconds between the Unix epoch and PostgreSQL's (2000-01-01T00:00:00Z).
    public static let postgresEpochOffsetSeconds: Int64 = 946_684_800

    public static func text(_ values: [String]) -> PostgresParameter {
        array(elementType: PostgresType.text, arrayType: PostgresType.textArray, values.map { Array($0.utf8) })
    }

    public static func bytea(_ values: [[UInt8]]) -> PostgresParameter {
        array(elementType: PostgresType.bytea, arrayType: PostgresType.byteaArray, values)
    }

    public static func int8(_ values: [Int64]) -> PostgresParameter {
        array(elementType: PostgresType.int8, arrayType: PostgresType.int8Array, values.map(bigEndianBytes))
    }

    public static func int4(_ values: [Int32]) -> PostgresParameter {
        array(elementType: PostgresType.int4, arrayType: PostgresType.int4Array, values.map(bigEndianBytes))
    }

    /// `timestamptz[]` from Unix seconds.
    public static func timestamptz(seconds values: [Int64]) -> PostgresParameter {
        timestamptz(unixMicros: values.map { $0 * 1_000_000 })
    }

    /// `timestamptz[]` from microseconds since the Unix epoch.
    public static func timestamptz(unixMicros values: [Int64]) -> PostgresParameter {
        array(
            elementType: PostgresType.timestamptz, arrayType: PostgresType.timestamptzArray,
            values.map { bigEndianBytes($0 - postgresEpochOffsetSeconds * 1_000_000) })
    }

    private static func array(elementType: UInt32, arrayType: UInt32, _ elements: [[UInt8]]) -> PostgresParameter {
        var out: [UInt8] = []
        out.reserveCapacity(20 + elements.reduce(0) { $0 + 4 + $1.count })
        out += bigEndianBytes(Int32(elements.isEmpty ? 0 : 1))
        out += bigEndianBytes(Int32(0))
        out += bigEndianBytes(elementType)
        if !elements.isEmpty {
            out += bigEndianBytes(Int32(elements.count))
            out += bigEndianBytes(Int32(1))
            for element in elements {
                out += bigEndianBytes(Int32(element.count))
                out += element
            }
        }
        return .binary(out, oid: arrayType)
    }

    private static func bigEndianBytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }

    /// Reads a one-dimensional `int4[]` without NULLs in binary format (e.g. `array_agg(uid)`) as
    /// `UInt32` bit patterns; nil when the bytes are not such an array.
    public static func decodeInt4(_ bytes: ArraySlice<UInt8>) -> [UInt32]? {
        var values: [UInt32] = []
        let ok = bytes.withUnsafeBytes { raw -> Bool in
            func word(_ offset: Int) -> UInt32 { UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
            guard raw.count >= 12 else { return false }
            let dimensions = word(0)
            guard word(8) == PostgresType.int4 else { return false }
            if dimensions == 0 { return raw.count == 12 }
            guard dimensions == 1, word(4) == 0, raw.count >= 20 else { return false }
            let count = Int(word(12))
            guard raw.count == 20 + count * 8 else { return false }
            values.reserveCapacity(count)
            var offset = 20
            for _ in 0..<count {
                guard word(offset) == 4 else { return false }
                values.append(word(offset + 4))
                offset += 8
            }
            return true
        }
        return ok ? values : nil
    }
}

extension PostgresParameter {
    /// A `timestamptz` in binary form from microseconds since the Unix epoch: no text formatting or
    /// parsing, and no dependence on the session's time zone.
    public static func timestamptz(unixMicros: Int64) -> PostgresParameter {
        let micros = unixMicros - PostgresBinaryArray.postgresEpochOffsetSeconds * 1_000_000
        return .binary(withUnsafeBytes(of: micros.bigEndian) { Array($0) }, oid: PostgresType.timestamptz)
    }

    public static func int8(_ value: Int64) -> PostgresParameter {
        .binary(withUnsafeBytes(of: value.bigEndian) { Array($0) }, oid: PostgresType.int8)
    }
}
