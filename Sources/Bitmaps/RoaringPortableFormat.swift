/// Structural checks of CRoaring's portable serialization
/// (https://github.com/RoaringBitmap/RoaringFormatSpec) before CRoaring reads it.
///
/// CRoaring 0.2.66's `roaring_bitmap_portable_deserialize_safe` stops at the end of the buffer but
/// trusts what it reads: an unsorted array container or a run reaching past 65535 gives wrong
/// counts, and later unions may write outside a container. Bytes from the database could be
/// corrupted or tampered with, so every invariant CRoaring relies on is checked here:
///
/// ```
/// cookie  u32 LE   12346 (no run containers), then u32 container count
///                  or 12347 | (count − 1) << 16, then a bit per container: run-encoded?
/// header  count × (u16 key, u16 cardinality − 1)      keys strictly increasing
/// offsets count × u32                                 unless run-capable and count < 4
/// data    per container: run:    u16 runs, runs × (u16 start, u16 length − 1)
///                        array:  cardinality × u16 (cardinality ≤ 4096), strictly increasing
///                        bitset: 1024 × u64 (cardinality > 4096), popcount = cardinality
/// ```
/// All integers are little-endian. The input must end exactly after the last container.
public enum RoaringPortableFormat {
    static let cookieNoRuns: UInt32 = 12346
    static let cookieWithRuns: UInt32 = 12347
    static let noOffsetThreshold = 4
    static let maxArrayCardinality = 4096

    public static func validate(_ bytes: [UInt8]) throws(BitmapError) {
        var reader = LittleEndianReader(bytes: bytes)
        let cookie = try reader.u32("cookie")
        let count: Int
        var runFlags: [UInt8] = []
        let hasRunCookie = cookie & 0xFFFF == cookieWithRuns
        if hasRunCookie {
            count = Int(cookie >> 16) + 1
            runFlags = try reader.bytes((count + 7) / 8, "run container flags")
        } else if cookie == cookieNoRuns {
            count = Int(try reader.u32("container count"))
            guard count <= 1 << 16 else { throw BitmapError("\(count) containers (at most 65536)", offset: 4) }
        } else {
            throw BitmapError("unknown cookie \(cookie)", offset: 0)
        }

        var keys: [UInt16] = []
        var cardinalities: [Int] = []
        keys.reserveCapacity(count)
        cardinalities.reserveCapacity(count)
        for index in 0..<count {
            let key = try reader.u16("key of container \(index)")
            if let previous = keys.last, key <= previous {
                throw BitmapError("container keys are not strictly increasing (\(previous) then \(key))", offset: reader.position - 2)
            }
            keys.append(key)
            cardinalities.append(Int(try reader.u16("cardinality of container \(index)")) + 1)
        }
        var offsets: [Int]?
        if !hasRunCookie || count >= noOffsetThreshold {
            offsets = try (0..<count).map { index throws(BitmapError) in Int(try reader.u32("offset of container \(index)")) }
        }

        for index in 0..<count {
            if let offsets, offsets[index] != reader.position {
                throw BitmapError("offset of container \(index) is \(offsets[index]), expected \(reader.position)", offset: reader.position)
            }
            let isRun = hasRunCookie && runFlags[index / 8] & (1 << (index % 8)) != 0
            if isRun {
                try checkRunContainer(&reader, index: index, cardinality: cardinalities[index])
            } else if cardinalities[index] <= maxArrayCardinality {
                try checkArrayContainer(&reader, index: index, cardinality: cardinalities[index])
            } else {
                try checkBitsetContainer(&reader, index: index, cardinality: cardinalities[index])
            }
        }
        guard reader.position == bytes.count else {
            throw BitmapError("\(bytes.count - reader.position) bytes after the last container", offset: reader.position)
        }
    }

    private static func checkRunContainer(_ reader: inout LittleEndianReader, index: Int, cardinality: Int) throws(BitmapError) {
        let start = reader.position
        let runs = Int(try reader.u16("run count of container \(index)"))
        guard runs > 0 else { throw BitmapError("run container \(index) has no runs", offset: start) }
        var total = 0
        var nextFree = 0  // smallest value a following run may start at
        for _ in 0..<runs {
            let first = Int(try reader.u16("run start in container \(index)"))
            let length = Int(try reader.u16("run length in container \(index)"))
            guard first >= nextFree else {
                throw BitmapError("runs of container \(index) overlap or are not sorted", offset: reader.position - 4)
            }
            guard first + length <= 0xFFFF else {
                throw BitmapError("a run of container \(index) ends past 65535", offset: reader.position - 4)
            }
            total += length + 1
            nextFree = first + length + 1
        }
        guard total == cardinality else {
            throw BitmapError("run container \(index) holds \(total) values but its header says \(cardinality)", offset: start)
        }
    }

    private static func checkArrayContainer(_ reader: inout LittleEndianReader, index: Int, cardinality: Int) throws(BitmapError) {
        var previous = -1
        for _ in 0..<cardinality {
            let value = Int(try reader.u16("value in array container \(index)"))
            guard value > previous else {
                throw BitmapError("array container \(index) is not strictly increasing", offset: reader.position - 2)
            }
            previous = value
        }
    }

    private static func checkBitsetContainer(_ reader: inout LittleEndianReader, index: Int, cardinality: Int) throws(BitmapError) {
        let start = reader.position
        let total = try reader.popCount(words: 1024, "bitset container \(index)")
        guard total == cardinality else {
            throw BitmapError("bitset container \(index) holds \(total) values but its header says \(cardinality)", offset: start)
        }
    }
}

/// Bounds-checked little-endian reads; every failure names what was being read.
struct LittleEndianReader {
    let bytes: [UInt8]
    private(set) var position = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    private mutating func take(_ count: Int, _ what: @autoclosure () -> String) throws(BitmapError) -> Int {
        guard count <= bytes.count - position else {
            throw BitmapError("truncated while reading the \(what())", offset: position)
        }
        defer { position += count }
        return position
    }

    mutating func bytes(_ count: Int, _ what: @autoclosure () -> String) throws(BitmapError) -> [UInt8] {
        let start = try take(count, what())
        return Array(bytes[start..<(start + count)])
    }

    mutating func u16(_ what: @autoclosure () -> String) throws(BitmapError) -> UInt16 {
        let start = try take(2, what())
        return UInt16(bytes[start]) | UInt16(bytes[start + 1]) << 8
    }

    mutating func u32(_ what: @autoclosure () -> String) throws(BitmapError) -> UInt32 {
        let start = try take(4, what())
        var value: UInt32 = 0
        for offset in (0..<4).reversed() { value = value << 8 | UInt32(bytes[start + offset]) }
        return value
    }

    /// The number of set bits in the next `words` 64-bit words.
    mutating func popCount(words: Int, _ what: @autoclosure () -> String) throws(BitmapError) -> Int {
        let start = try take(words * 8, what())
        return bytes.withUnsafeBytes { raw in
            var total = 0
            for word in 0..<words {
                total += raw.loadUnaligned(fromByteOffset: start + word * 8, as: UInt64.self).nonzeroBitCount
            }
            return total
        }
    }
}
