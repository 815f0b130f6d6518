import Testing
@testable import Bitmaps

/// Bytes from the database are untrusted: every malformation is an error, never a crash or a wrong
/// count.
@Suite struct PortableFormatTests {
    static func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }

    /// cookie 12346, `count` containers, then headers, offsets and array data as given.
    static func arrayBitmap(_ containers: [(key: UInt16, values: [UInt16])]) -> [UInt8] {
        var out = littleEndian(UInt32(12346)) + littleEndian(UInt32(containers.count))
        for container in containers {
            out += littleEndian(container.key) + littleEndian(UInt16(container.values.count - 1))
        }
        var offset = out.count + 4 * containers.count
        for container in containers {
            out += littleEndian(UInt32(offset))
            offset += 2 * container.values.count
        }
        for container in containers { for value in container.values { out += littleEndian(value) } }
        return out
    }

    /// cookie 12347 with one run container holding `runs` (start, length − 1), header cardinality `cardinality`.
    static func runBitmap(_ runs: [(UInt16, UInt16)], cardinality: Int) -> [UInt8] {
        var out = littleEndian(UInt32(12347)) + [0x01]  // one container (count − 1 = 0), run flag set
        out += littleEndian(UInt16(0)) + littleEndian(UInt16(cardinality - 1))
        out += littleEndian(UInt16(runs.count))
        for (start, length) in runs { out += littleEndian(start) + littleEndian(length) }
        return out
    }

    @Test func handBuiltValidBitmapsRead() throws {
        let array = try RoaringBitmap(portable: Self.arrayBitmap([(0, [1, 5, 9]), (2, [0])]))
        #expect(array.values == [1, 5, 9, 131_072])
        let runs = try RoaringBitmap(portable: Self.runBitmap([(10, 4), (100, 0)], cardinality: 6))
        #expect(runs.values == [10, 11, 12, 13, 14, 100])
    }

    static let valid = RoaringBitmap((0..<5_000).map { $0 * 7 } + [1_000_000]).portableSerialized()
    static let dense: [UInt8] = {
        let bitmap = RoaringBitmap((0..<10_000).map { $0 * 2 })
        return bitmap.portableSerialized()
    }()

    static let malformed: [(String, [UInt8])] = [
        ("empty input", []),
        ("unknown cookie", littleEndian(UInt32(99)) + littleEndian(UInt32(0))),
        ("truncated", Array(valid.dropLast(3))),
        ("trailing bytes", valid + [0]),
        ("array not sorted", arrayBitmap([(0, [5, 1, 9])])),
        ("array with a duplicate", arrayBitmap([(0, [1, 1, 9])])),
        ("keys not increasing", arrayBitmap([(3, [1]), (2, [1])])),
        ("run past 65535", runBitmap([(65_530, 10)], cardinality: 11)),
        ("overlapping runs", runBitmap([(10, 5), (12, 1)], cardinality: 8)),
        ("run cardinality mismatch", runBitmap([(10, 4)], cardinality: 9)),
        ("no runs", runBitmap([], cardinality: 1)),
        ("bitset popcount mismatch", {
            var bytes = dense
            bytes[bytes.count - 1] ^= 0x80
            return bytes
        }()),
        ("offset wrong", {
            var bytes = arrayBitmap([(0, [1]), (1, [2])])
            bytes[16] &+= 2
            return bytes
        }()),
        ("too many containers", littleEndian(UInt32(12346)) + littleEndian(UInt32(70_000))),
    ]

    @Test(arguments: malformed.map(\.0))
    func malformedInputThrows(name: String) {
        let bytes = Self.malformed.first { $0.0 == name }!.1
        #expect(throws: BitmapError.self) { try RoaringBitmap(portable: bytes) }
    }

    /// Random corruption of real bitmaps: either rejected, or read as a bitmap that is internally sound
    /// (it serializes to bytes that validate and read back equal).
    @Test func randomCorruptionNeverCrashes() throws {
        var generator = SystemRandomNumberGenerator()
        let sources = [Self.valid, Self.dense, RoaringBitmap(Array(0..<70_000)).portableSerialized(),
                       { let b = RoaringBitmap(Array(0..<70_000)); b.runOptimize(); return b.portableSerialized() }()]
        for _ in 0..<3_000 {
            var bytes = sources.randomElement(using: &generator)!
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                case 1: bytes.removeLast(min(bytes.count - 1, Int.random(in: 1...16, using: &generator)))
                default: bytes.insert(UInt8.random(in: 0...255, using: &generator), at: Int.random(in: 0...bytes.count, using: &generator))
                }
            }
            guard let bitmap = try? RoaringBitmap(portable: bytes) else { continue }
            let again = bitmap.portableSerialized()
            try RoaringPortableFormat.validate(again)
            #expect(try RoaringBitmap(portable: again) == bitmap)
            #expect(bitmap.values.count == bitmap.cardinality)
        }
    }
}
