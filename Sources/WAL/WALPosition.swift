/// The byte position of a batch boundary inside one segment file.
///
/// Positions are what the replayer stores as its checkpoint, so they must stay meaningful across
/// restarts: a position never changes once a batch is durable (recovery only ever truncates the torn
/// tail after the last durable batch, and skipping corrupt bytes leaves the bytes in place).
/// `offset` counts from the start of the file, so the first batch of a segment sits at
/// `SegmentHeader.size` (32), never at 0.
public struct WALPosition: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var segment: UInt64
    public var offset: UInt64

    public init(segment: UInt64, offset: UInt64) {
        self.segment = segment
        self.offset = offset
    }

    /// Before every segment: a reader started here begins at the oldest retained batch.
    public static let start = WALPosition(segment: 0, offset: 0)

    public static func < (lhs: WALPosition, rhs: WALPosition) -> Bool {
        (lhs.segment, lhs.offset) < (rhs.segment, rhs.offset)
    }

    /// `segment:offset`, the form used in logs, errors and the CLI.
    public var description: String { "\(segment):\(offset)" }
}
