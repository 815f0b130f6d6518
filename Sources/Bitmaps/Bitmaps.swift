/// # Bitmaps
///
/// Exact sets of 32-bit user ids for the metrics rollups, on CRoaring (Debian's libroaring 0.2.66).
///
/// - ``RoaringBitmap`` owns one `roaring_bitmap_t` and frees it exactly once; unions, cardinality and
///   CRoaring's portable serialization (the bytes stored in the rollup tables' `users` column).
/// - ``RoaringPortableFormat`` checks serialized bytes before CRoaring reads them: bytes come from
///   the database, and this CRoaring version's "safe" deserializer only guards against reading past
///   the buffer, not against containers whose contents break its invariants.
///
/// The module knows nothing of PostgreSQL or of events.
public enum Bitmaps {}
