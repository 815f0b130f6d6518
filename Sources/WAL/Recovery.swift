import Logging
import Metrics

/// The I/O half of recovery: lists and reads the segments, has `RecoveryPlanner` decide, then
/// carries the plan out. No segment is changed unless the whole plan was accepted, so a refused
/// open (corruption in strict mode) leaves the segments exactly as it found them.
enum Recovery {
    struct Result {
        var segments: [RecoveredSegment]
        var nextSequence: UInt64
        var quarantinedBytes: Int64
    }

    static func run(_ configuration: WALConfiguration, logger: Logger) throws -> Result {
        let fs = configuration.fileSystem
        let directory = configuration.directory
        try fs.createDirectory(directory)

        let names = try fs.contentsOfDirectory(directory)
        let leftovers = names.filter { $0.hasSuffix(SegmentFile.suffix + SegmentFile.temporarySuffix) }
        for name in leftovers {
            logger.info("removing unfinished segment file", metadata: ["file": "\(join(directory, name))"])
            try fs.unlink(join(directory, name))
        }
        if !leftovers.isEmpty { try fs.syncDirectory(directory) }

        let scans = try scanSegments(directory: directory, names: names, fileSystem: fs)
        let plan = try RecoveryPlanner.plan(scans, mode: configuration.recoveryMode)
        var quarantined: Int64 = 0
        for action in plan.actions {
            switch action {
            case .truncate(let path, let offset, let defect):
                logger.warning("truncating torn tail", metadata: [
                    "file": "\(path)", "offset": "\(offset)", "reason": "\(defect)",
                ])
                try truncate(path, to: offset, fileSystem: fs)
            case .trimZeros(let path, let offset):
                // Info, not a warning: after any crash the space zero-filled ahead is still there.
                logger.info("trimming zero-filled space after the last batch", metadata: ["file": "\(path)", "offset": "\(offset)"])
                try truncate(path, to: offset, fileSystem: fs)
            case .removeNewest(let path):
                logger.warning("removing newest segment: it holds no valid header and no valid batch", metadata: ["file": "\(path)"])
                try fs.unlink(path)
                try fs.syncDirectory(directory)
            case .quarantine(let path, let range, let defect):
                try quarantine(path: path, range: range, directory: directory, fileSystem: fs)
                quarantined += Int64(range.count)
                logger.error("quarantined corrupt WAL bytes", metadata: [
                    "file": "\(path)", "offset": "\(range.lowerBound)", "bytes": "\(range.count)", "reason": "\(defect)",
                ])
            case .warn(let path, let message):
                logger.error("WAL inconsistency accepted in skip mode", metadata: ["file": "\(path)", "detail": "\(message)"])
            }
        }
        if quarantined > 0 {
            Counter(label: "wal_quarantined_bytes_total").increment(by: quarantined)
        }

        var segments = plan.segments
        if segments.isEmpty {
            let id = plan.nextSegmentId
            let file = try SegmentFile.create(directory: directory, id: id, firstSequence: plan.nextSequence, fileSystem: fs)
            try file.close()
            segments.append(RecoveredSegment(
                id: id, path: SegmentFile.path(directory: directory, id: id), size: UInt64(SegmentHeader.size),
                batches: 0, records: 0, firstSequence: plan.nextSequence, skipRanges: []))
        }
        logger.info("WAL recovered", metadata: [
            "directory": "\(directory)", "segments": "\(segments.count)", "nextSequence": "\(plan.nextSequence)",
        ])
        return Result(segments: segments, nextSequence: plan.nextSequence, quarantinedBytes: quarantined)
    }

    /// Reads and scans every segment file in the directory, oldest first, one file in memory at a time.
    static func scanSegments(directory: String, names: [String], fileSystem: any WALFileSystem) throws -> [(path: String, scan: SegmentScan)] {
        var scans: [(path: String, scan: SegmentScan)] = []
        for id in names.compactMap(SegmentFile.id(fromName:)).sorted() {
            let path = SegmentFile.path(directory: directory, id: id)
            let file = try WALFile(path: path, mode: .readOnly, fileSystem: fileSystem)
            let bytes = try file.readAll()
            try file.close()
            scans.append((path, bytes.withUnsafeBytes { RecoveryScanner.scan($0, segmentId: id) }))
        }
        return scans
    }

    /// Copies the bad bytes to `<segment>.<offset>.quarantine` (same name every time, so a reopen
    /// rewrites rather than multiplies it) and makes that file durable.
    /// Cuts `path` at `offset` and syncs it before recovery goes on.
    private static func truncate(_ path: String, to offset: UInt64, fileSystem: any WALFileSystem) throws {
        let file = try WALFile(path: path, mode: .readWrite, fileSystem: fileSystem)
        try file.truncate(to: offset)
        try file.sync()
        try file.close()
    }

    private static func quarantine(path: String, range: Range<UInt64>, directory: String, fileSystem: any WALFileSystem) throws {
        let source = try WALFile(path: path, mode: .readOnly, fileSystem: fileSystem)
        var bytes = [UInt8](repeating: 0, count: Int(range.count))
        _ = try bytes.withUnsafeMutableBytes { try source.read(into: $0, at: range.lowerBound) }
        try source.close()
        let target = try WALFile(
            path: SegmentFile.quarantinePath(segmentPath: path, offset: range.lowerBound), mode: .createTruncate, fileSystem: fileSystem)
        try bytes.withUnsafeBytes { try target.writeAll($0, at: 0) }
        try target.sync()
        try target.close()
        try fileSystem.syncDirectory(directory)
    }
}
