/// The rows of one statement, copied out of libpq into Swift storage so the `PGresult` is freed at once
/// and the value can cross threads.
///
/// Cells live in one byte buffer with an offset and length per cell (length −1 is NULL): one
/// allocation for the data instead of one `String` per cell. In `.text` format the cells hold
/// PostgreSQL's text output; in `.binary` format they hold its binary send format (big-endian
/// integers, raw `bytea`, …), which is how rollup bitmaps are read without hex decoding.
public struct PostgresResult: Sendable {
    public enum Format: Int32, Sendable {
        case text = 0
        case binary = 1
    }

    public let columns: [String]
    /// The type OID of each column (e.g. 20 int8, 25 text, 17 bytea, 2950 uuid).
    public let columnTypes: [UInt32]
    public let rowCount: Int
    /// Rows inserted/updated/deleted/copied (from the command tag); 0 when the command reports none.
    public let affectedRows: Int
    /// The command tag, e.g. `INSERT 0 3` or `SELECT 2`.
    public let commandTag: String
    public let format: Format

    private let storage: [UInt8]
    private let offsets: [Int]
    private let lengths: [Int32]

    init(
        columns: [String], columnTypes: [UInt32], rowCount: Int, affectedRows: Int, commandTag: String,
        format: Format, storage: [UInt8], offsets: [Int], lengths: [Int32]
    ) {
        self.columns = columns
        self.columnTypes = columnTypes
        self.rowCount = rowCount
        self.affectedRows = affectedRows
        self.commandTag = commandTag
        self.format = format
        self.storage = storage
        self.offsets = offsets
        self.lengths = lengths
    }

    public var columnCount: Int { columns.count }

    /// The index of a column by name.
    public func column(_ name: String) -> Int? { columns.firstIndex(of: name) }

    @inline(__always)
    private func cell(_ row: Int, _ column: Int) -> (offset: Int, length: Int)? {
        precondition(row >= 0 && row < rowCount && column >= 0 && column < columns.count, "cell (\(row), \(column)) out of range")
        let index = row * columns.count + column
        let length = lengths[index]
        return length < 0 ? nil : (offsets[index], Int(length))
    }

    public func isNull(_ row: Int, _ column: Int) -> Bool { cell(row, column) == nil }

    /// The raw bytes of a cell as the server sent them (text or binary format); nil for NULL.
    public func bytes(_ row: Int, _ column: Int) -> ArraySlice<UInt8>? {
        guard let (offset, length) = cell(row, column) else { return nil }
        return storage[offset..<(offset + length)]
    }

    /// The cell as UTF-8 text; in binary format only meaningful for text-like columns.
    public func string(_ row: Int, _ column: Int) -> String? {
        guard let slice = bytes(row, column) else { return nil }
        return String(decoding: slice, as: UTF8.self)
    }

    /// A numeric cell: nil for NULL, its text parsed in text format, or its big-endian bits (with
    /// their byte count) decoded by `binary` in binary format.
    private func number<T: LosslessStringConvertible>(
        _ row: Int, _ column: Int, binary: (_ bits: UInt64, _ byteCount: Int) -> T?
    ) -> T? {
        guard let slice = bytes(row, column) else { return nil }
        switch format {
        case .text:
            return T(String(decoding: slice, as: UTF8.self))
        case .binary:
            guard slice.count <= 8 else { return nil }
            return binary(slice.reduce(0) { $0 << 8 | UInt64($1) }, slice.count)
        }
    }

    /// An integer cell (int2, int4, int8, or text digits in text format, e.g. `count(*)`).
    public func int64(_ row: Int, _ column: Int) -> Int64? {
        number(row, column) { bits, byteCount in
            guard byteCount == 2 || byteCount == 4 || byteCount == 8 else { return nil }
            // Sign-extend 2- and 4-byte integers.
            let shift = UInt64(64 - 8 * byteCount)
            return Int64(bitPattern: bits << shift) >> Int64(shift)
        }
    }

    public func int(_ row: Int, _ column: Int) -> Int? { int64(row, column).map { Int($0) } }

    /// A float8 or float4 cell (or its text).
    public func double(_ row: Int, _ column: Int) -> Double? {
        number(row, column) { bits, byteCount in
            switch byteCount {
            case 8: Double(bitPattern: bits)
            case 4: Double(Float(bitPattern: UInt32(truncatingIfNeeded: bits)))
            default: nil
            }
        }
    }

    public func bool(_ row: Int, _ column: Int) -> Bool? {
        guard let slice = bytes(row, column), let first = slice.first else { return nil }
        switch format {
        case .text: return first == UInt8(ascii: "t")
        case .binary: return first != 0
        }
    }

    /// A `bytea` cell as raw bytes: as sent in binary format, or decoded from the text format's `\x…`
    /// hex form. Nil for NULL or for text that is not hex-encoded bytea.
    public func bytea(_ row: Int, _ column: Int) -> [UInt8]? {
        guard let slice = bytes(row, column) else { return nil }
        switch format {
        case .binary:
            return Array(slice)
        case .text:
            return Self.decodeHexBytea(slice)
        }
    }

    /// Every cell as optional text; convenient for small results and tests.
    public var rows: [[String?]] {
        (0..<rowCount).map { row in (0..<columns.count).map { string(row, $0) } }
    }

    static func decodeHexBytea(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        guard text.count >= 2, text.count % 2 == 0,
              text[text.startIndex] == UInt8(ascii: "\\"), text[text.startIndex + 1] == UInt8(ascii: "x")
        else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity((text.count - 2) / 2)
        var index = text.startIndex + 2
        while index < text.endIndex {
            guard let high = nibble(text[index]), let low = nibble(text[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }
}
