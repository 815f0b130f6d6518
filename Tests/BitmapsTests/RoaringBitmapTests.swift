import Testing
@testable import Bitmaps

/// The wrapper against Swift's own `Set`: every shape of container (array, bitset, run), every
/// serialization layout (with and without run containers, below and above the offset threshold).
@Suite struct RoaringBitmapTests {
    /// Named shapes: a few sparse values, one dense block (bitset), long runs, many containers.
    static let shapes: [(String, [UInt32])] = [
        ("empty", []),
        ("one", [42]),
        ("sparse", [0, 7, 65_535, 65_536, 1_000_000, UInt32.max]),
        ("bitset", (0..<20_000).map { $0 * 3 }),
        ("runs", Array(100..<70_000) + Array(200_000..<200_100)),
        ("many containers", (0..<40).flatMap { key in [UInt32(key) << 16, UInt32(key) << 16 | 9] }),
        ("three run containers", Array(0..<5_000) + Array(65_536..<70_000) + Array(131_072..<140_000)),
    ]

    @Test(arguments: shapes.map(\.0))
    func roundTripsEveryShape(name: String) throws {
        let values = Self.shapes.first { $0.0 == name }!.1
        let expected = Set(values)
        for optimize in [false, true] {
            let bitmap = RoaringBitmap(values.shuffled() + values.prefix(10))
            if optimize { bitmap.runOptimize() }
            #expect(bitmap.cardinality == expected.count)
            #expect(bitmap.isEmpty == expected.isEmpty)
            #expect(bitmap.values == expected.sorted())
            let bytes = bitmap.portableSerialized()
            try RoaringPortableFormat.validate(bytes)
            let back = try RoaringBitmap(portable: bytes)
            #expect(back == bitmap)
            #expect(back.values == expected.sorted())
        }
    }

    @Test func unionsMatchSetUnion() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            let sets = (0..<Int.random(in: 0...6, using: &generator)).map { _ in
                (0..<Int.random(in: 0...5_000, using: &generator)).map { _ in UInt32.random(in: 0..<200_000, using: &generator) }
            }
            let expected = sets.reduce(into: Set<UInt32>()) { $0.formUnion($1) }
            let bitmaps = sets.map { RoaringBitmap($0) }
            let many = RoaringBitmap.union(bitmaps)
            #expect(many.values == expected.sorted())
            let pairwise = RoaringBitmap()
            for bitmap in bitmaps { pairwise.formUnion(bitmap) }
            #expect(pairwise == many)
            // Lazy unions (every container shape, dense inputs become bitsets) equal it once repaired.
            let lazy = RoaringBitmap(Array(0..<UInt32(100)))
            for bitmap in bitmaps + [RoaringBitmap((0..<30_000).map { $0 * 2 })] { lazy.formUnionLazily(bitmap) }
            lazy.repairAfterLazyUnions()
            let eager = RoaringBitmap.union(bitmaps + [RoaringBitmap(Array(0..<UInt32(100))), RoaringBitmap((0..<30_000).map { $0 * 2 })])
            #expect(lazy == eager)
            #expect(lazy.cardinality == eager.values.count)
            // The inputs are unchanged.
            for (bitmap, values) in zip(bitmaps, sets) { #expect(bitmap.cardinality == Set(values).count) }
        }
    }

    @Test func copiesAreIndependent() {
        let original = RoaringBitmap([1, 2, 3])
        let copy = original.copy()
        copy.add(4)
        original.formUnion(original)
        #expect(original.values == [1, 2, 3])
        #expect(copy.values == [1, 2, 3, 4])
        #expect(copy.contains(4) && !original.contains(4))
    }

    @Test func manyBitmapsAreFreedWithoutLeakingOrCrashing() {
        // Exercised under the address sanitizer in CI-like runs; here it must simply not crash.
        for round in 0..<2_000 {
            let bitmap = RoaringBitmap([UInt32(round), UInt32(round) + 70_000])
            _ = RoaringBitmap.union([bitmap, bitmap.copy(), RoaringBitmap()])
        }
    }
}
