/// The coarser rollup levels of `rollup_blocks` (`0004_rollup_levels.sql`, `docs/rollups.md`):
/// aligned power-of-two blocks of UTC days, a segment tree over the day numbers.
///
/// Level 0 is `rollup_daily`; a block of level k (1...``maxLevel``) covers 2^k days and starts on a
/// day number (days since 1970-01-01) that is a multiple of 2^k. Any range of whole days is then the
/// disjoint union of at most two blocks per level (``cover(days:)``), so a 180-day window reads
/// about 8 bitmaps instead of 180. Pure arithmetic, tested without a database.
public struct RollupLevel: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// 256-day blocks at the top: the metrics window is at most 400 days by default, so a longer top
    /// block would rarely fit inside a window, while every level adds one row write per batch.
    public static let maxLevel = 8
    public static let all: [RollupLevel] = (1...maxLevel).map { RollupLevel($0) }

    /// 1...``maxLevel``.
    public let level: Int

    public init(_ level: Int) {
        precondition((1...Self.maxLevel).contains(level), "rollup levels are 1...\(Self.maxLevel)")
        self.level = level
    }

    public var days: Int64 { 1 << Int64(level) }

    /// `rollup_blocks`, or its campaign twin `rollup_campaign_blocks`.
    public static func tableName(campaign: Bool) -> String { campaign ? "rollup_campaign_blocks" : "rollup_blocks" }
    public var seconds: Int64 { 86_400 << Int64(level) }

    /// The start (Unix seconds) of the block holding `seconds`.
    public func bucket(containing seconds: Int64) -> Int64 {
        let (quotient, remainder) = seconds.quotientAndRemainder(dividingBy: self.seconds)
        return (remainder < 0 ? quotient - 1 : quotient) * self.seconds
    }

    public static func < (lhs: RollupLevel, rhs: RollupLevel) -> Bool { lhs.level < rhs.level }

    public var description: String { "level \(level) (\(days) days)" }

    /// One piece of a cover: a daily row (`level` nil) or a block, starting at `start` (Unix seconds).
    public struct Piece: Hashable, Sendable {
        public var level: RollupLevel?
        public var start: Int64

        public init(level: RollupLevel?, start: Int64) {
            self.level = level
            self.start = start
        }

        public var seconds: Int64 { level?.seconds ?? 86_400 }
    }

    /// The fewest aligned pieces whose disjoint union is exactly `days` (Unix seconds of whole UTC
    /// days, both bounds multiples of 86,400), in time order: from the left edge take the largest
    /// aligned block that starts there and still fits, then move on. At most two per level.
    public static func cover(days: Range<Int64>) -> [Piece] {
        precondition(days.lowerBound % 86_400 == 0 && days.upperBound % 86_400 == 0, "a cover is of whole days")
        var pieces: [Piece] = []
        var start = days.lowerBound
        while start < days.upperBound {
            var chosen: RollupLevel?
            for level in all.reversed() where start % level.seconds == 0 && start + level.seconds <= days.upperBound {
                chosen = level
                break
            }
            let piece = Piece(level: chosen, start: start)
            pieces.append(piece)
            start += piece.seconds
        }
        return pieces
    }
}
