import Foundation
import WAL

/// Human-readable text for `wal inspect` and `wal verify`.
enum WALReport {
    static func text(_ inspection: WALInspection) -> String {
        var lines = ["WAL \(inspection.directory): \(inspection.segments.count) segment(s)"]
        let header = ["segment", "batches", "records", "raw bytes", "stored bytes", "ratio", "first", "last"]
        var rows = [header]
        for segment in inspection.segments {
            rows.append([
                segment.file, String(segment.batches), String(segment.records), String(segment.rawBytes),
                String(segment.storedBytes), ratio(segment.compressionRatio),
                position(segment.firstPosition, segment.firstSequence), position(segment.lastPosition, segment.lastSequence),
            ])
        }
        rows.append([
            "total", String(inspection.batches), String(inspection.records), String(inspection.rawBytes),
            String(inspection.storedBytes), ratio(inspection.compressionRatio), "", "",
        ])
        lines += table(rows)
        for segment in inspection.segments {
            for problem in segment.problems { lines.append("problem in \(segment.file): \(problem)") }
        }
        return lines.joined(separator: "\n")
    }

    static func text(_ verification: WALVerification) -> String {
        switch verification {
        case .clean:
            "clean: every batch's checksum is good"
        case .tornTail(let file, let offset):
            "torn tail: \(file) ends in a partial batch at byte \(offset); opening the WAL truncates it (nothing acknowledged is lost)"
        case .corruption(let file, let offset, let message):
            "corruption: \(file) at byte \(offset): \(message). In strict mode the service refuses to start if its start-up checks reach these bytes, or stops replaying when it reads them; --wal-recovery skip quarantines the damaged bytes"
        case .unreadable(let message):
            "unreadable: \(message)"
        }
    }

    private static func ratio(_ value: Double) -> String { String(format: "%.2fx", value) }

    private static func position(_ position: WALPosition?, _ sequence: UInt64?) -> String {
        guard let position else { return "-" }
        return sequence.map { "\(position) (seq \($0))" } ?? "\(position)"
    }

    private static func table(_ rows: [[String]]) -> [String] {
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }
    }
}
