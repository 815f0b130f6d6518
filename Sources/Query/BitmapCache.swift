import Bitmaps
import Foundation
import Metrics

/// A byte-budgeted cache of deserialized rollup bitmaps (whole days of `rollup_daily`, blocks of
/// `rollup_blocks`, hours of `rollup_hourly` for local buckets, the same rows of the campaign tables
/// with the campaign in the key, and the unions of local buckets with the row versions they stand
/// for), shared by every metrics query of the service (`--query-cache-bytes`).
///
/// Exact by construction: an entry is stored with the row's `version` (a fresh number from the
/// `rollup_versions` sequence on every write of the row, by any node's replayer or a rebuild), the
/// metrics statement reads every row's version in its own snapshot and sends the bitmap only when the
/// cache does not hold that key at that version (``RollupMetricsQuery``). A late event that changed
/// a cached day or block changed its version, so the stale entry is simply not used, and replaced.
///
/// Least recently used entries are evicted beyond the budget (a sixteenth of it at once, see
/// ``evictLeastRecentlyUsed()``); a bitmap larger than the whole budget is not kept. Entries are
/// never modified once stored: queries only read them (CRoaring reads are safe from several
/// threads), and the fold copies before it would write (``RollupMetricsFold``).
/// Exposed as `metrics_query_cache_hits_total`, `metrics_query_cache_misses_total` and
/// `metrics_query_cache_bytes`.
public final class BitmapCache: @unchecked Sendable {
    /// 128 MiB: at 10M users a whole-day or block bitmap is at most ~1.25 MB, so this holds the
    /// pieces of several long windows, per channel, and keeps the service well inside its memory bound.
    public static let defaultBytes = 128 << 20

    /// Which row: level 0 is `rollup_daily`, 1... `rollup_blocks`; `start` in Unix seconds.
    public struct Key: Hashable, Sendable {
        var eventName: [UInt8]
        var level: Int
        var start: Int64
        var channel: [UInt8]
        /// Only for the unions of local buckets (``LocalBucketQuery/memoLevel``): the end of the
        /// bucket's part of the window.
        var end: Int64 = 0
        /// A row of the campaign tables (`rollup_campaign_…`; `""`: the events without a campaign);
        /// nil for the main tables.
        var campaign: [UInt8]? = nil

        /// The byte arrays hashed as whole buffers (the synthesized hash feeds them to the hasher one
        /// byte at a time, which was most of a warm `group_by=campaign` query's lookups).
        public func hash(into hasher: inout Hasher) {
            hasher.combine(level)
            hasher.combine(start)
            hasher.combine(end)
            // One call per array (an array literal of them allocated on every hash).
            Self.combine(eventName, into: &hasher)
            Self.combine(channel, into: &hasher)
            Self.combine(campaign ?? [], into: &hasher)
            hasher.combine(campaign == nil)
        }

        private static func combine(_ bytes: [UInt8], into hasher: inout Hasher) {
            bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
            hasher.combine(bytes.count)
        }
    }

    struct Entry {
        var version: Int64
        var bitmap: RoaringBitmap
        var bytes: Int
        var lastUse: UInt64
        /// For the union of a local bucket: the (level, start, version) of every row it is the union
        /// of, flattened; it stands for exactly those row versions.
        var signature: [Int64] = []
    }

    public let budget: Int
    /// An NSLock, not a `Mutex`: lookups hand out the cached (non-Sendable) bitmaps while the cache
    /// keeps them, which `Mutex.withLock`'s `sending` result refuses; the immutability above is what
    /// makes sharing them safe.
    private let lock = NSLock()
    private var entries: [Key: Entry] = [:]
    private var bytes = 0
    private var tick: UInt64 = 0
    private var counts = (hits: 0, misses: 0)
    private let hits = Counter(label: "metrics_query_cache_hits_total")
    private let misses = Counter(label: "metrics_query_cache_misses_total")
    private let size = Gauge(label: "metrics_query_cache_bytes")

    /// `budget` 0 turns the cache off.
    public init(budget: Int) {
        self.budget = max(budget, 0)
    }

    public var isEnabled: Bool { budget > 0 }

    /// Bytes held now.
    public var currentBytes: Int { lock.withLock { bytes } }

    /// Bitmaps served from the cache, and fetched from the database, so far (also in Prometheus).
    public var statistics: (hits: Int, misses: Int) { lock.withLock { counts } }

    /// The entries for `eventName` at the given pieces (level, start), any channel (and with
    /// `campaigns`, any campaign, of the campaign tables only; else of the main tables only): what a
    /// query offers the database as already held. The caller keeps the returned bitmaps for the length
    /// of the query, so an eviction meanwhile cannot take one it was promised. The entries count as
    /// used now (least recently used order), as the query is about to read them; the hits are counted
    /// as rows use them (``used(_:)``, ``countHits(_:)``).
    func entries(eventName: String, pieces: [(level: Int, start: Int64)], campaigns: Bool = false) -> [(key: Key, version: Int64, bitmap: RoaringBitmap)] {
        guard isEnabled, !pieces.isEmpty else { return [] }
        let name = Array(eventName.utf8)
        let wanted = Set(pieces.map { Piece(level: $0.level, start: $0.start) })
        return used(where: { ($0.campaign != nil) == campaigns && $0.eventName == name && wanted.contains(Piece(level: $0.level, start: $0.start)) }) {
            (key: $0, version: $1.version, bitmap: $1.bitmap)
        }
    }

    /// Walks every entry once (a dictionary walk: no hash per key), marks those `matches` takes as
    /// used now, and returns `take` of each.
    private func used<T>(where matches: (Key) -> Bool, _ take: (Key, Entry) -> T) -> [T] {
        lock.withLock {
            tick += 1
            var found: [T] = []
            var index = entries.startIndex
            while index != entries.endIndex {
                let key = entries.keys[index]
                if matches(key) {
                    entries.values[index].lastUse = tick
                    found.append(take(key, entries.values[index]))
                }
                index = entries.index(after: index)
            }
            return found
        }
    }

    private struct Piece: Hashable {
        var level: Int
        var start: Int64
    }

    /// The entries held for exactly these keys (one lookup each, for queries whose pieces are one
    /// row each), with the same promise as above.
    func entries(_ keys: [Key]) -> [Key: (version: Int64, bitmap: RoaringBitmap)] {
        guard isEnabled, !keys.isEmpty else { return [:] }
        return lock.withLock {
            var found: [Key: (version: Int64, bitmap: RoaringBitmap)] = [:]
            for key in keys {
                if let entry = entries[key] { found[key] = (entry.version, entry.bitmap) }
            }
            return found
        }
    }

    /// The union of a local bucket's rows and the row versions it was made of (``LocalBucketQuery``).
    func memo(_ key: Key) -> (signature: [Int64], bitmap: RoaringBitmap)? {
        guard isEnabled else { return nil }
        return lock.withLock { entries[key].map { ($0.signature, $0.bitmap) } }
    }

    /// The kept unions at `level` of `eventName` whose key matches `matches`, with their signatures,
    /// counted as used now (``CampaignUnions``: every campaign's union of one window, whose campaigns
    /// the query learns only from the rows).
    func memos(eventName: String, level: Int, where matches: (Key) -> Bool) -> [(key: Key, signature: [Int64], bitmap: RoaringBitmap)] {
        guard isEnabled else { return [] }
        let name = Array(eventName.utf8)
        return used(where: { $0.level == level && $0.eventName == name && matches($0) }) { (key: $0, signature: $1.signature, bitmap: $1.bitmap) }
    }

    /// Keeps the union of a local bucket, with the row versions it is the union of; never modified
    /// afterwards. Counted in the budget like the bitmaps of rows (not as a miss).
    func storeMemo(_ key: Key, signature: [Int64], bitmap: RoaringBitmap) {
        guard isEnabled else { return }
        insert(key, Entry(version: 0, bitmap: bitmap, bytes: bitmap.portableSize, lastUse: 0, signature: signature), replacing: { _ in true })
    }

    /// Marks a held entry as used (a hit).
    func used(_ key: Key) {
        hits.increment()
        lock.withLock {
            tick += 1
            counts.hits += 1
            entries[key]?.lastUse = tick
        }
    }

    /// Counts `count` hits on entries ``entries(eventName:pieces:campaigns:)`` returned (and so already
    /// marked used): the campaign queries', thousands per query, without a lookup each.
    func countHits(_ count: Int) {
        guard count > 0 else { return }
        hits.increment(by: Int64(count))
        lock.withLock { counts.hits += count }
    }

    /// Stores a bitmap the database just sent (a miss), evicting the least recently used beyond the
    /// budget. The bitmap must not be modified afterwards.
    func store(_ key: Key, version: Int64, bitmap: RoaringBitmap, bytes count: Int) {
        misses.increment()
        guard isEnabled else { return }
        lock.withLock { counts.misses += 1 }
        // Another query may have stored a newer version meanwhile: keep the newest.
        insert(key, Entry(version: version, bitmap: bitmap, bytes: count, lastUse: 0), replacing: { $0.version < version })
    }

    /// How many entries of one level are held (tests).
    func count(level: Int) -> Int { lock.withLock { entries.keys.filter { $0.level == level }.count } }

    /// Drops every entry of one level (tests: a cache that lost some bitmaps but kept others).
    func evict(level: Int) {
        lock.withLock {
            for (key, entry) in entries where key.level == level {
                bytes -= entry.bytes
                entries[key] = nil
            }
        }
    }

    private func insert(_ key: Key, _ entry: Entry, replacing: (Entry) -> Bool) {
        let count = entry.bytes
        let held = lock.withLock {
            guard count <= budget else { return bytes }
            tick += 1
            if let old = entries[key] {
                guard replacing(old) else { return bytes }
                bytes -= old.bytes
            }
            var entry = entry
            entry.lastUse = tick
            entries[key] = entry
            bytes += count
            if bytes > budget { evictLeastRecentlyUsed() }
            return bytes
        }
        size.record(held)
    }

    /// Evicts the least recently used entries until a sixteenth of the budget is free, in one sort:
    /// the next stores then evict nothing. Finding the one oldest entry for every store meant a walk
    /// over every entry each time; with the ~30,000 small campaign bitmaps a full cache holds, a
    /// cold `group_by=campaign` (~9,000 stores) spent seconds there (86 s in a debug build). Called
    /// with the lock held.
    private func evictLeastRecentlyUsed() {
        let target = budget - budget / 16
        let oldestFirst = entries.map { (lastUse: $0.value.lastUse, key: $0.key) }.sorted { $0.lastUse < $1.lastUse }
        for (_, key) in oldestFirst {
            guard bytes > target, let entry = entries.removeValue(forKey: key) else { break }
            bytes -= entry.bytes
        }
    }
}
