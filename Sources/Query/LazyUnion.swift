import Bitmaps

/// The running union of a group's bitmaps, as a metrics fold builds it row by row.
///
/// The first input is kept as it is (perhaps a cached bitmap shared with other queries, never
/// written): a group of one row needs no copy. The second input makes it an own copy, and every
/// further one is added lazily (`roaring_bitmap_lazy_or_inplace`, no cardinality upkeep per union:
/// a local day is ~24 hourly bitmaps), so ``finish()`` must run before ``bitmap`` is read.
struct LazyUnion {
    private(set) var bitmap: RoaringBitmap?
    /// Whether `bitmap` is this union's own copy; until then it is an input.
    private var owned = false
    /// Whether lazy unions happened since the last ``finish()``.
    private var dirty = false

    mutating func add(_ users: RoaringBitmap) {
        guard let current = bitmap else {
            bitmap = users
            return
        }
        if !owned {
            bitmap = current.copy()
            owned = true
        }
        bitmap!.formUnionLazily(users)
        dirty = true
    }

    /// Repairs the container cardinalities after lazy unions.
    mutating func finish() {
        guard dirty else { return }
        bitmap?.repairAfterLazyUnions()
        dirty = false
    }
}
