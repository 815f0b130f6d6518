import CRoaring

/// A set of `UInt32` (dictionary-encoded user ids), owning one CRoaring `roaring_bitmap_t` and
/// freeing it exactly once, in `deinit`.
///
/// Not `Sendable`: the C structure is mutable and unsynchronised. Each bitmap lives on the thread
/// that builds it (a replayer transaction, one metrics query on a pool thread) and only counts and
/// serialized bytes leave that thread.
public final class RoaringBitmap {
    /// Never nil: every initialiser traps when CRoaring cannot allocate, as Swift does for its own
    /// allocations.
    private let pointer: UnsafeMutablePointer<roaring_bitmap_t>

    private init(owning pointer: UnsafeMutablePointer<roaring_bitmap_t>?) {
        guard let pointer else { fatalError("CRoaring could not allocate a bitmap") }
        self.pointer = pointer
    }

    /// An empty set.
    public convenience init() {
        self.init(owning: roaring_bitmap_create())
    }

    /// The set of `values` (duplicates allowed, any order).
    public convenience init(_ values: [UInt32]) {
        self.init()
        add(contentsOf: values)
    }

    /// Reads CRoaring's portable serialization (the format shared with the Java and Go libraries).
    ///
    /// The bytes are checked with ``RoaringPortableFormat/validate(_:)`` first and then read with
    /// `roaring_bitmap_portable_deserialize_safe`, which never reads past `bytes`; trailing bytes
    /// are an error, so a truncated or padded value is never half-trusted.
    public convenience init(portable bytes: some Collection<UInt8>) throws(BitmapError) {
        let contiguous = Array(bytes)
        try RoaringPortableFormat.validate(contiguous)
        let pointer = contiguous.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                roaring_bitmap_portable_deserialize_safe(chars.baseAddress, chars.count)
            }
        }
        guard let pointer else {
            throw BitmapError("CRoaring rejected the serialized bitmap", offset: 0)
        }
        self.init(owning: pointer)
    }

    deinit {
        roaring_bitmap_free(pointer)
    }

    // MARK: - Contents

    public var cardinality: Int { Int(roaring_bitmap_get_cardinality(pointer)) }

    public var isEmpty: Bool { roaring_bitmap_is_empty(pointer) }

    public func contains(_ value: UInt32) -> Bool { roaring_bitmap_contains(pointer, value) }

    /// The members in increasing order.
    public var values: [UInt32] {
        let count = cardinality
        guard count > 0 else { return [] }
        return [UInt32](unsafeUninitializedCapacity: count) { buffer, initialized in
            roaring_bitmap_to_uint32_array(pointer, buffer.baseAddress)
            initialized = count
        }
    }

    public func add(_ value: UInt32) { roaring_bitmap_add(pointer, value) }

    /// Adds many values at once (`roaring_bitmap_add_many`), much faster than one by one.
    public func add(contentsOf values: [UInt32]) {
        values.withUnsafeBufferPointer { add(contentsOf: $0) }
    }

    public func add(contentsOf values: UnsafeBufferPointer<UInt32>) {
        guard let base = values.baseAddress, !values.isEmpty else { return }
        roaring_bitmap_add_many(pointer, values.count, base)
    }

    // MARK: - Set algebra

    /// Adds every member of `other` (`roaring_bitmap_or_inplace`).
    public func formUnion(_ other: RoaringBitmap) {
        guard other !== self else { return }
        withExtendedLifetime(other) { roaring_bitmap_or_inplace(pointer, other.pointer) }
    }

    /// Adds every member of `other` without keeping container cardinalities up to date
    /// (`roaring_bitmap_lazy_or_inplace`): cheaper for a chain of unions, but the bitmap must get
    /// ``repairAfterLazyUnions()`` before anything else reads it.
    public func formUnionLazily(_ other: RoaringBitmap) {
        guard other !== self else { return }
        withExtendedLifetime(other) { roaring_bitmap_lazy_or_inplace(pointer, other.pointer, false) }
    }

    /// Makes a bitmap that got ``formUnionLazily(_:)`` whole again (`roaring_bitmap_repair_after_lazy`).
    public func repairAfterLazyUnions() { roaring_bitmap_repair_after_lazy(pointer) }

    /// The union of `bitmaps` as a new bitmap (`roaring_bitmap_or_many`, one pass over all inputs
    /// instead of a chain of pairwise unions).
    public static func union(_ bitmaps: [RoaringBitmap]) -> RoaringBitmap {
        switch bitmaps.count {
        case 0: return RoaringBitmap()
        case 1: return bitmaps[0].copy()
        default:
            return withExtendedLifetime(bitmaps) {
                var pointers: [UnsafePointer<roaring_bitmap_t>?] = bitmaps.map { UnsafePointer($0.pointer) }
                return pointers.withUnsafeMutableBufferPointer { buffer in
                    RoaringBitmap(owning: roaring_bitmap_or_many(buffer.count, buffer.baseAddress))
                }
            }
        }
    }

    /// An independent copy.
    public func copy() -> RoaringBitmap {
        RoaringBitmap(owning: roaring_bitmap_copy(pointer))
    }

    // MARK: - Serialization

    /// Converts containers to run-length form where that is smaller (dense user ranges shrink a lot);
    /// call before serializing a bitmap that will be stored.
    @discardableResult
    public func runOptimize() -> Bool { roaring_bitmap_run_optimize(pointer) }

    /// The length of ``portableSerialized()`` without serializing (what the query cache counts).
    public var portableSize: Int { roaring_bitmap_portable_size_in_bytes(pointer) }

    /// CRoaring's portable serialization; ``init(portable:)`` reads it back.
    public func portableSerialized() -> [UInt8] {
        let size = roaring_bitmap_portable_size_in_bytes(pointer)
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            initialized = buffer.withMemoryRebound(to: CChar.self) { chars in
                roaring_bitmap_portable_serialize(pointer, chars.baseAddress)
            }
        }
    }
}

extension RoaringBitmap: Equatable {
    /// Same members (whatever the container layout).
    public static func == (lhs: RoaringBitmap, rhs: RoaringBitmap) -> Bool {
        withExtendedLifetime((lhs, rhs)) { roaring_bitmap_equals(lhs.pointer, rhs.pointer) }
    }
}

extension RoaringBitmap: CustomStringConvertible {
    public var description: String {
        let shown = values.prefix(8).map(String.init).joined(separator: ", ")
        return "RoaringBitmap(\(cardinality) values\(cardinality > 0 ? ": " + shown : "")\(cardinality > 8 ? ", …" : ""))"
    }
}
