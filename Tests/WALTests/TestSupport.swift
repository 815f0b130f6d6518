import Foundation
import Logging
import Synchronization
import Testing
import TestSupport
@testable import WAL

/// A fresh directory under the system temp dir, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init(_ name: String = "wal") {
        let template = NSTemporaryDirectory() + "\(name)-XXXXXX"
        var bytes = Array(template.utf8CString)
        let made = bytes.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.flatMap { mkdtemp($0) } }
        precondition(made != nil, "mkdtemp failed")
        path = String(decoding: bytes.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }
    func segmentPath(_ id: UInt64) -> String { file(SegmentFile.name(for: id)) }

    func read(_ name: String) -> [UInt8] { [UInt8](FileManager.default.contents(atPath: file(name)) ?? Data()) }
    /// Plain unlink/open/write/close: FileManager.createFile syncs, and ext4 flushes a file
    /// truncated to zero and rewritten on close (auto_da_alloc); both make table tests slow.
    func write(_ name: String, _ bytes: [UInt8]) {
        unlink(file(name))
        let fd = open(file(name), O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        precondition(fd >= 0, "open failed")
        let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        precondition(written == bytes.count, "short write in test setup")
        close(fd)
    }
    func names() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }
}

let quietLogger = Logger(label: "wal-tests", factory: { _ in SwiftLogNoOpLogHandler() })

func configuration(_ directory: TemporaryDirectory, _ change: (inout WALConfiguration) -> Void = { _ in }) -> WALConfiguration {
    var configuration = WALConfiguration(directory: directory.path)
    configuration.minFreeDiskBytes = 0
    change(&configuration)
    return configuration
}

/// Runs `body` with an open WAL and closes it afterwards.
@discardableResult
func withWAL<T>(
    _ configuration: WALConfiguration, _ body: (WriteAheadLog) async throws -> T
) async throws -> T {
    let wal = try WriteAheadLog.open(configuration, logger: quietLogger)
    do {
        let result = try await body(wal)
        try await wal.close()
        return result
    } catch {
        try? await wal.close()
        throw error
    }
}

/// Every durable batch from `position` on.
func readAll(_ wal: WriteAheadLog, from position: WALPosition = .start) throws -> [WALBatch] {
    let reader = wal.reader(from: position)
    var batches: [WALBatch] = []
    while let batch = try reader.next() { batches.append(batch) }
    return batches
}

func record(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Builds the bytes of a segment holding one batch per element of `batches`, as the writer would.
func segmentBytes(id: UInt64 = 1, firstSequence: UInt64 = 1, batches: [[[UInt8]]]) -> (bytes: [UInt8], offsets: [Int]) {
    var bytes = SegmentHeader(segmentId: id, firstSequence: firstSequence).encode()
    var offsets: [Int] = []
    var sequence = firstSequence
    var encoder = BatchEncoder()
    for records in batches {
        encoder.reset()
        for record in records { encoder.add(record) }
        encoder.compress()
        offsets.append(bytes.count)
        encoder.withFrame(segmentId: id, firstSequence: sequence) { bytes.append(contentsOf: $0) }
        sequence += UInt64(records.count)
    }
    return (bytes, offsets)
}

func scan(_ bytes: [UInt8], id: UInt64 = 1) -> SegmentScan {
    bytes.withUnsafeBytes { RecoveryScanner.scan($0, segmentId: id) }
}

/// Runs a blocking call on its own thread (as the replayer does) and awaits its result.
func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: body()) }.start()
    }
}

/// A `WALFileSystem` that forwards to the real one and injects the faults a test arms: short
/// writes, ENOSPC, failed fdatasync, failed truncation, a fake free-space figure; it can also
/// skip syncs to keep file-heavy table tests fast.
final class FaultyFileSystem: ForwardingFileSystem {
    struct Plan {
        /// The next pwrite writes only this many bytes (a short write) …
        var shortWriteBytes: Int?
        /// … and the pwrite after it (or the next one) fails with this errno.
        var failWritesWith: Int32?
        var failDataSyncWith: Int32?
        var failTruncateWith: Int32?
        var failCreateWith: Int32?
        /// Opening a directory (to fsync it) fails with this errno, like EMFILE would.
        var failDirectoryOpenWith: Int32?
        /// Opening an existing file read-write fails.
        var failReadWriteOpenWith: Int32?
        var failRenameWith: Int32?
        /// fsync (the WAL uses it for directories) fails with this errno.
        var failFsyncWith: Int32?
        var availableBytes: Int64?
        var skipSyncs = false
        /// Makes each fdatasync take this long (so concurrent appends pile up into groups).
        var dataSyncDelay: Duration?
        var dataSyncs = 0
        var writes = 0
        /// When the last successful fdatasync returned (MonotonicClock ns).
        var lastDataSyncFinished: UInt64 = 0
    }

    let plan: Mutex<Plan>
    let base = POSIXFileSystem()

    init(_ plan: Plan = Plan()) { self.plan = Mutex(plan) }

    func arm(_ change: (inout Plan) -> Void) { plan.withLock { change(&$0) } }
    var dataSyncs: Int { plan.withLock { $0.dataSyncs } }

    func open(_ path: String, mode: WALOpenMode) throws -> CInt {
        let failure = plan.withLock { plan -> Int32? in
            switch mode {
            case .createTruncate: plan.failCreateWith
            case .directory: plan.failDirectoryOpenWith
            case .readWrite: plan.failReadWriteOpenWith
            case .readOnly: nil
            }
        }
        if let failure { throw WALError.system(errno: failure, operation: "open", file: path) }
        return try base.open(path, mode: mode)
    }
    func pwrite(_ fd: CInt, from buffer: UnsafeRawBufferPointer, offset: Int64) throws -> Int {
        enum Action { case pass, short(Int), fail(Int32) }
        let action = plan.withLock { plan -> Action in
            plan.writes += 1
            if let bytes = plan.shortWriteBytes {
                plan.shortWriteBytes = nil
                return .short(min(bytes, buffer.count))
            }
            if let code = plan.failWritesWith { return .fail(code) }
            return .pass
        }
        switch action {
        case .pass: return try base.pwrite(fd, from: buffer, offset: offset)
        case .short(let bytes): return try base.pwrite(fd, from: UnsafeRawBufferPointer(rebasing: buffer[0..<bytes]), offset: offset)
        case .fail(let code): throw WALError.system(errno: code, operation: "pwrite")
        }
    }
    func fdatasync(_ fd: CInt) throws {
        let (skip, failure, delay) = plan.withLock { plan -> (Bool, Int32?, Duration?) in
            plan.dataSyncs += 1
            return (plan.skipSyncs, plan.failDataSyncWith, plan.dataSyncDelay)
        }
        if let failure { throw WALError.system(errno: failure, operation: "fdatasync") }
        if let delay { Thread.sleep(forTimeInterval: Double(delay.components.attoseconds) / 1e18 + Double(delay.components.seconds)) }
        if !skip { try base.fdatasync(fd) }
        plan.withLock { $0.lastDataSyncFinished = MonotonicClock.now() }
    }
    func fsync(_ fd: CInt) throws {
        if let code = plan.withLock({ $0.failFsyncWith }) { throw WALError.system(errno: code, operation: "fsync") }
        if !plan.withLock({ $0.skipSyncs }) { try base.fsync(fd) }
    }
    func ftruncate(_ fd: CInt, length: Int64) throws {
        if let code = plan.withLock({ $0.failTruncateWith }) { throw WALError.system(errno: code, operation: "ftruncate") }
        try base.ftruncate(fd, length: length)
    }
    func rename(_ from: String, to: String) throws {
        if let code = plan.withLock({ $0.failRenameWith }) { throw WALError.system(errno: code, operation: "rename", file: from) }
        try base.rename(from, to: to)
    }
    func availableBytes(_ path: String) throws -> Int64 {
        if let bytes = plan.withLock({ $0.availableBytes }) { return bytes }
        return try base.availableBytes(path)
    }
}

/// A fault a parameterized test arms on a ``FaultyFileSystem``, and the error it must produce.
struct FileSystemFault: Sendable, CustomTestStringConvertible {
    var name: String
    var arm: @Sendable (inout FaultyFileSystem.Plan) -> Void
    var expectedCode: WALError.Code
    /// The failed system call the error names, where the test checks it.
    var expectedOperation: String?
    /// When the failed group was written whole and could not be truncated, reopening may find it:
    /// it was never acknowledged, and the replayer's idempotency makes it harmless (DESIGN.md, 8).
    var failedGroupMaySurvive = false
    var testDescription: String { name }
}

/// A file system whose syncs do nothing: for table tests that reopen a WAL hundreds of times and
/// test recovery logic, not durability.
func noSyncFileSystem() -> FaultyFileSystem { FaultyFileSystem(.init(skipSyncs: true)) }
