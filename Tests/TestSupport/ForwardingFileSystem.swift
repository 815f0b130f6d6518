import WAL

/// A `WALFileSystem` that passes every call on to `base` unless the conforming type implements it:
/// a test's file system states only the calls it changes (a fault, a count, a starved `open`), and
/// a call added to `WALFileSystem` is forwarded everywhere by adding it here once.
public protocol ForwardingFileSystem: WALFileSystem {
    var base: POSIXFileSystem { get }
}

extension ForwardingFileSystem {
    public func open(_ path: String, mode: WALOpenMode) throws -> CInt { try base.open(path, mode: mode) }
    public func close(_ fd: CInt) throws { try base.close(fd) }
    public func pread(_ fd: CInt, into buffer: UnsafeMutableRawBufferPointer, offset: Int64) throws -> Int {
        try base.pread(fd, into: buffer, offset: offset)
    }
    public func pwrite(_ fd: CInt, from buffer: UnsafeRawBufferPointer, offset: Int64) throws -> Int {
        try base.pwrite(fd, from: buffer, offset: offset)
    }
    public func fdatasync(_ fd: CInt) throws { try base.fdatasync(fd) }
    public func fsync(_ fd: CInt) throws { try base.fsync(fd) }
    public func ftruncate(_ fd: CInt, length: Int64) throws { try base.ftruncate(fd, length: length) }
    public func fileSize(_ fd: CInt) throws -> Int64 { try base.fileSize(fd) }
    public func rename(_ from: String, to: String) throws { try base.rename(from, to: to) }
    public func unlink(_ path: String) throws { try base.unlink(path) }
    public func contentsOfDirectory(_ path: String) throws -> [String] { try base.contentsOfDirectory(path) }
    public func createDirectory(_ path: String) throws { try base.createDirectory(path) }
    public func availableBytes(_ path: String) throws -> Int64 { try base.availableBytes(path) }
}
