#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Every error the WAL throws. A struct with an open set of codes (like swift-nio's
/// `FileSystemError`) so that new codes do not break callers' exhaustive switches, and with the
/// place it happened, because an operator acting on "corruption" needs the file and byte offset.
public struct WALError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// Bad bytes in acknowledged data: a bad batch with valid data after it, or in an older segment.
        public static let corruption = Code("corruption")
        /// The WAL stopped after a failed write or fdatasync; it refuses appends until reopened.
        public static let failed = Code("failed")
        /// The append would push the unreplayed bytes over `maxUnreplayedBytes`.
        public static let overCapacity = Code("overCapacity")
        /// Free disk space is below `minFreeDiskBytes`, or a write failed with ENOSPC/EDQUOT.
        public static let diskFull = Code("diskFull")
        /// The next segment could not be created or opened (EMFILE, ENFILE, a failed header write or
        /// sync of the new file, …) before anything of the batch was written. The batch is refused,
        /// the WAL stays writable and tries again with the next batch. ENOSPC here is `.diskFull`.
        public static let segmentUnavailable = Code("segmentUnavailable")
        /// The WAL is closing or closed.
        public static let closed = Code("closed")
        /// A system call failed; `errno` and `operation` say which.
        public static let io = Code("io")
        /// The append is larger than one batch can hold (`WriteAheadLog.maxAppendBytes`).
        public static let tooLarge = Code("tooLarge")
        /// A `WALConfiguration` value is out of range.
        public static let invalidConfiguration = Code("invalidConfiguration")
    }

    public var code: Code
    public var message: String
    /// The file the error is about (a segment path for corruption).
    public var file: String?
    /// The byte offset in `file` (the start of the bad bytes for corruption).
    public var offset: UInt64?
    /// The `errno` of a failed system call.
    public var errno: Int32?
    /// The system call or step that failed ("pwrite", "fdatasync", …).
    public var operation: String?
    /// What caused this error, e.g. the write error behind a `.failed`.
    public var underlying: (any Error)?

    public init(
        _ code: Code, _ message: String, file: String? = nil, offset: UInt64? = nil,
        errno: Int32? = nil, operation: String? = nil, underlying: (any Error)? = nil
    ) {
        self.code = code
        self.message = message
        self.file = file
        self.offset = offset
        self.errno = errno
        self.operation = operation
        self.underlying = underlying
    }

    /// The error of a failed system call: ENOSPC and EDQUOT become `.diskFull`, the rest `.io`.
    public static func system(errno: Int32, operation: String, file: String? = nil) -> WALError {
        let code: Code = (errno == ENOSPC || errno == EDQUOT) ? .diskFull : .io
        let text = String(cString: strerror(errno))
        return WALError(code, "\(operation) failed: \(text)", file: file, errno: errno, operation: operation)
    }

    public var description: String {
        var text = "WALError.\(code): \(message)"
        if let file { text += " (file \(file)" + (offset.map { " at offset \($0)" } ?? "") + ")" }
        if let errno { text += " [errno \(errno)]" }
        if let underlying { text += " caused by: \(underlying)" }
        return text
    }

    /// The same error, naming `path` when it did not name a file yet.
    func inFile(_ path: String) -> WALError {
        var copy = self
        if copy.file == nil { copy.file = path }
        return copy
    }
}
