/// One segment as `wal inspect` shows it.
public struct WALSegmentInspection: Sendable, Equatable {
    public var file: String
    public var segmentId: UInt64
    public var fileBytes: UInt64
    public var batches: Int
    public var records: Int
    /// Uncompressed payload bytes (records plus their 4-byte length prefixes).
    public var rawBytes: Int64
    /// Bytes the valid batches occupy on disk (frame headers plus stored payloads).
    public var storedBytes: Int64
    /// The sequence numbers of the first and last record, and where the first and last batch start.
    public var firstSequence: UInt64?
    public var lastSequence: UInt64?
    public var firstPosition: WALPosition?
    public var lastPosition: WALPosition?
    /// Bad regions found ("offset 123: CRC32C mismatch …"); empty when the segment is clean.
    public var problems: [String]

    /// rawBytes / storedBytes (how much LZ4 and batching save); 0 for an empty segment.
    public var compressionRatio: Double { storedBytes > 0 ? Double(rawBytes) / Double(storedBytes) : 0 }
}

public struct WALInspection: Sendable, Equatable {
    public var directory: String
    public var segments: [WALSegmentInspection]
    public var batches: Int { segments.reduce(0) { $0 + $1.batches } }
    public var records: Int { segments.reduce(0) { $0 + $1.records } }
    public var rawBytes: Int64 { segments.reduce(0) { $0 + $1.rawBytes } }
    public var storedBytes: Int64 { segments.reduce(0) { $0 + $1.storedBytes } }
    public var fileBytes: UInt64 { segments.reduce(0) { $0 + $1.fileBytes } }
    public var compressionRatio: Double { storedBytes > 0 ? Double(rawBytes) / Double(storedBytes) : 0 }
}

/// The verdict of `wal verify`: what opening in strict mode and then reading every batch would find
/// (open checks sealed segments only cheaply; `verify` scans them all), without changing anything.
public enum WALVerification: Sendable, Equatable {
    case clean
    /// The newest segment ends in a torn write at `offset`; opening cuts it off. Nothing
    /// acknowledged is lost.
    case tornTail(file: String, offset: UInt64)
    /// Acknowledged data is damaged; a strict open refuses to start.
    case corruption(file: String, offset: UInt64, message: String)
    /// The directory or a segment could not be read.
    case unreadable(message: String)

    /// A process exit code for the CLI: 0 clean, 1 corruption, 2 torn tail, 3 unreadable.
    public var exitCode: Int32 {
        switch self {
        case .clean: 0
        case .corruption: 1
        case .tornTail: 2
        case .unreadable: 3
        }
    }
}

/// Read-only views of a WAL directory for the CLI (`wal inspect`, `wal verify`). Never changes
/// a file; safe to run beside a live WAL (it may then see the tail of a batch being written).
public enum WALInspector {
    public static func inspect(directory: String, fileSystem: any WALFileSystem = POSIXFileSystem()) throws -> WALInspection {
        let names = try fileSystem.contentsOfDirectory(directory)
        let scans = try Recovery.scanSegments(directory: directory, names: names, fileSystem: fileSystem)
        return WALInspection(directory: directory, segments: scans.map { summarize(path: $0.path, scan: $0.scan) })
    }

    public static func verify(directory: String, fileSystem: any WALFileSystem = POSIXFileSystem()) -> WALVerification {
        do {
            let names = try fileSystem.contentsOfDirectory(directory)
            let scans = try Recovery.scanSegments(directory: directory, names: names, fileSystem: fileSystem)
            let plan = try RecoveryPlanner.plan(scans, mode: .strict)
            for action in plan.actions {
                switch action {
                case .truncate(let path, let offset, _): return .tornTail(file: path, offset: offset)
                case .removeNewest(let path): return .tornTail(file: path, offset: 0)
                case .trimZeros: continue  // zero-filled space ahead of the writer: not a defect
                case .quarantine, .warn: continue  // not produced in strict mode
                }
            }
            return .clean
        } catch let error as WALError where error.code == .corruption {
            return .corruption(file: error.file ?? directory, offset: error.offset ?? 0, message: error.message)
        } catch {
            return .unreadable(message: "\(error)")
        }
    }

    static func summarize(path: String, scan: SegmentScan) -> WALSegmentInspection {
        var problems = scan.badRegions.map { "offset \($0.range.lowerBound): \($0.range.count) bad bytes: \($0.defect)" }
        if let tail = scan.tail {
            problems.append("offset \(tail.range.lowerBound): \(tail.range.count) bad bytes at the end: \(tail.defect)")
        }
        problems += scan.sequenceBreaks.map { "offset \($0.offset): first sequence \($0.found), expected \($0.expected)" }
        let first = scan.batches.first
        let last = scan.batches.last
        return WALSegmentInspection(
            file: path,
            segmentId: scan.segmentId,
            fileBytes: scan.fileSize,
            batches: scan.batches.count,
            records: scan.recordCount,
            rawBytes: scan.batches.reduce(0) { $0 + Int64($1.header.rawLength) },
            storedBytes: scan.batches.reduce(0) { $0 + Int64($1.header.frameLength) },
            firstSequence: first?.header.firstSequence,
            lastSequence: last.map { $0.header.firstSequence + UInt64($0.header.recordCount) - 1 },
            firstPosition: first.map { WALPosition(segment: scan.segmentId, offset: $0.offset) },
            lastPosition: last.map { WALPosition(segment: scan.segmentId, offset: $0.offset) },
            problems: problems)
    }
}
