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

        let scans = try checkSegments(directory: directory, names: names, fileSystem: fs)
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

    /// What recovery reads at open: work bounded by what a crash can have damaged, not by the backlog.
    ///
    /// Only the newest segment can hold bytes written after the last fdatasync (a rotation syncs and
    /// trims the segment it seals, and creates the next one with a directory fsync, before writing to
    /// it), so only it is scanned whole, batch by batch (header, lengths and CRC32C, no LZ4 decode:
    /// `PayloadCheck.checksum`); so is the one before it when the newest holds nothing (a torn
    /// creation, removed). Each older, sealed segment gets `checkSealed`: header, first batch header,
    /// last bytes and sequence continuity with the next segment, a few reads whatever its size. One
    /// that fails the check is scanned whole, so the planner sees exactly what is wrong. Readers verify
    /// every batch (CRC32C and decode) as they read it; `wal verify` scans and decodes all.
    static func checkSegments(directory: String, names: [String], fileSystem: any WALFileSystem) throws -> [(path: String, scan: SegmentScan)] {
        let ids = names.compactMap(SegmentFile.id(fromName:)).sorted()
        var scans: [(path: String, scan: SegmentScan)?] = Array(repeating: nil, count: ids.count)
        func fullScan(_ index: Int) throws {
            let path = SegmentFile.path(directory: directory, id: ids[index])
            scans[index] = (path, try scanSegment(path: path, id: ids[index], fileSystem: fileSystem))
        }
        guard !ids.isEmpty else { return [] }
        var index = ids.count - 1
        try fullScan(index)
        if let newest = scans[index]?.scan, newest.header == nil, newest.batches.isEmpty, index > 0 {
            index -= 1
            try fullScan(index)
        }
        while index > 0 {
            index -= 1
            let next = scans[index + 1]!.scan
            let path = SegmentFile.path(directory: directory, id: ids[index])
            if next.segmentId == ids[index] + 1,
               let nextFirst = next.header?.firstSequence ?? next.batches.first?.header.firstSequence,
               let checked = try checkSealed(path: path, id: ids[index], nextFirstSequence: nextFirst, fileSystem: fileSystem) {
                scans[index] = (path, checked)
            } else {
                try fullScan(index)
            }
        }
        return scans.map { $0! }
    }

    /// The start-up check of a sealed segment: a valid header naming this id; a first batch header
    /// that parses and starts at the header's first sequence (or, in a segment with no records, only
    /// zeros or nothing after the header); a last byte range that is not zeros (a zero-filled tail is
    /// trimmed by a full scan); and a first sequence no later than the next segment's. Nil when any of
    /// these fails: the caller scans the segment whole.
    static func checkSealed(path: String, id: UInt64, nextFirstSequence: UInt64, fileSystem: any WALFileSystem) throws -> SegmentScan? {
        let file = try WALFile(path: path, mode: .readOnly, fileSystem: fileSystem)
        defer { try? file.close() }
        let size = try file.size()
        var head = [UInt8](repeating: 0, count: SegmentHeader.size + BatchHeader.size)
        let got = try head.withUnsafeMutableBytes { try file.read(into: $0, at: 0) }
        head.removeLast(head.count - got)
        guard case .success(let header) = head.withUnsafeBytes({ SegmentHeader.decode($0, expectedSegmentId: id) }),
              header.firstSequence <= nextFirstSequence
        else { return nil }
        let afterHeader = head[SegmentHeader.size...]
        if header.firstSequence == nextFirstSequence {
            // No records: nothing but the header (and nothing after it that is not zero).
            guard afterHeader.allSatisfy({ $0 == 0 }), size <= UInt64(got) else { return nil }
        } else {
            guard afterHeader.count == BatchHeader.size,
                  case .success(let first) = head.withUnsafeBytes({
                      BatchHeader.parse(UnsafeRawBufferPointer(rebasing: $0[SegmentHeader.size...]), expectedSegmentId: id)
                  }),
                  first.firstSequence == header.firstSequence
            else { return nil }
            var last = [UInt8](repeating: 0, count: 8)
            let lastGot = try last.withUnsafeMutableBytes { try file.read(into: $0, at: size - 8) }
            guard lastGot == 8, last.contains(where: { $0 != 0 }) else { return nil }
        }
        var scan = SegmentScan(segmentId: id, fileSize: size, header: header)
        scan.unscanned = header.firstSequence..<nextFirstSequence
        return scan
    }

    static func scanSegment(path: String, id: UInt64, fileSystem: any WALFileSystem) throws -> SegmentScan {
        let file = try WALFile(path: path, mode: .readOnly, fileSystem: fileSystem)
        let bytes = try file.readAll()
        try file.close()
        return bytes.withUnsafeBytes { RecoveryScanner.scan($0, segmentId: id, payloads: .checksum) }
    }

    /// Reads and scans every segment file in the directory, oldest first, one file in memory at a time
    /// (`wal inspect` and `wal verify`; opening uses `checkSegments`).
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

    static func quarantine(path: String, range: Range<UInt64>, directory: String, fileSystem: any WALFileSystem) throws {
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
