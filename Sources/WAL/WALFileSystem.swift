/// How a file is opened through `WALFileSystem.open`.
public enum WALOpenMode: Sendable, Equatable {
    /// `O_RDONLY`: readers, recovery scans and the inspector.
    case readOnly
    /// `O_RDWR` of an existing file: the writer appending to the newest segment, recovery truncating it.
    case readWrite
    /// `O_RDWR | O_CREAT | O_TRUNC`, mode 0644: new segments (as `.tmp`) and quarantine files.
    case createTruncate
    /// `O_RDONLY | O_DIRECTORY`: only to fsync a directory.
    case directory
}

/// The small set of file operations the WAL performs. Everything it does to disk goes through one
/// of these, so tests can wrap `POSIXFileSystem` and inject short writes, ENOSPC and failed
/// fdatasync calls at exactly the step they want.
///
/// Methods throw `WALError` (see `WALError.system(errno:operation:file:)`). File descriptors are
/// plain `CInt`s; the WAL wraps each in a `WALFile` that closes it exactly once.
public protocol WALFileSystem: Sendable {
    func open(_ path: String, mode: WALOpenMode) throws -> CInt
    func close(_ fd: CInt) throws
    /// One `pread`; may return fewer bytes than asked (0 at end of file).
    func pread(_ fd: CInt, into buffer: UnsafeMutableRawBufferPointer, offset: Int64) throws -> Int
    /// One `pwrite`; may write fewer bytes than asked (a short write).
    func pwrite(_ fd: CInt, from buffer: UnsafeRawBufferPointer, offset: Int64) throws -> Int
    func fdatasync(_ fd: CInt) throws
    func fsync(_ fd: CInt) throws
    func ftruncate(_ fd: CInt, length: Int64) throws
    func fileSize(_ fd: CInt) throws -> Int64
    func rename(_ from: String, to: String) throws
    func unlink(_ path: String) throws
    /// Names (not paths) of the entries in a directory, without "." and "..".
    func contentsOfDirectory(_ path: String) throws -> [String]
    /// `mkdir -p`.
    func createDirectory(_ path: String) throws
    /// Bytes available to an unprivileged user on the file system holding `path` (statvfs).
    func availableBytes(_ path: String) throws -> Int64
}
