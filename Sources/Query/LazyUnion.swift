import Bitmaps

/// The running union of a group's bitmaps, as a metrics fold builds it row by row.
///
/// The first input is kept as it is (perhaps a cached bitmap shared with other queries, never
/// written): a group of one row needs no copy. The second input (a bitmap or raw uids) makes it an
/// own copy, and every further bitmap is added lazily (`roaring_bitmap_lazy_or_inplace`, no
/// cardinality upkeep per union: a local day is ~24 hourly bitmaps), so ``finish()`` must run before
/// ``bitmap`` is read.
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

    /// Adds raw uids, into the own copy (made now if need be: once per union, however many inputs).
    mutating func add(contentsOf uids: [UInt32]) {
        guard !uids.isEmpty else { return }
        // Plain adds keep container cardinalities, which lazy unions left unknown.
        finish()
        if !owned {
            bitmap = bitmap?.copy() ?? RoaringBitmap()
            owned = true
        }
        bitmap!.add(contentsOf: uids)
    }

    /// Repairs the container cardinalities after lazy unions.
    mutating func finish() {
        guard dirty else { return }
        bitmap?.repairAfterLazyUnions()
        dirty = false
    }
}
