#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The real file system: each method is one system call, retried on `EINTR` (as swift-nio's
/// `System.swift` does), throwing a `WALError` that carries `errno` and the operation.
/// Linux only: the WAL depends on `fdatasync`.
public struct POSIXFileSystem: WALFileSystem {
    public init() {}

    public func open(_ path: String, mode: WALOpenMode) throws -> CInt {
        let flags: CInt
        switch mode {
        case .readOnly: flags = O_RDONLY | O_CLOEXEC
        case .readWrite: flags = O_RDWR | O_CLOEXEC
        case .createTruncate: flags = O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC
        case .directory: flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC
        }
        return CInt(try retryingEINTR("open", file: path) { sysOpen(path, flags) })
    }

    public func close(_ fd: CInt) throws {
        // Never retried: on Linux the descriptor is released even when close(2) reports EINTR.
        if sysClose(fd) != 0 && errno != EINTR {
            throw WALError.system(errno: errno, operation: "close")
        }
    }

    public func pread(_ fd: CInt, into buffer: UnsafeMutableRawBufferPointer, offset: Int64) throws -> Int {
        try retryingEINTR("pread") { sysPread(fd, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    public func pwrite(_ fd: CInt, from buffer: UnsafeRawBufferPointer, offset: Int64) throws -> Int {
        try retryingEINTR("pwrite") { sysPwrite(fd, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    public func fdatasync(_ fd: CInt) throws {
        _ = try retryingEINTR("fdatasync") { sysFdatasync(fd) }
    }

    public func fsync(_ fd: CInt) throws {
        _ = try retryingEINTR("fsync") { sysFsync(fd) }
    }

    public func ftruncate(_ fd: CInt, length: Int64) throws {
        _ = try retryingEINTR("ftruncate") { sysFtruncate(fd, off_t(length)) }
    }

    public func fileSize(_ fd: CInt) throws -> Int64 {
        var info = stat()
        _ = try retryingEINTR("fstat") { sysFstat(fd, &info) }
        return Int64(info.st_size)
    }

    public func rename(_ from: String, to: String) throws {
        _ = try retryingEINTR("rename", file: from) { sysRename(from, to) }
    }

    public func unlink(_ path: String) throws {
        _ = try retryingEINTR("unlink", file: path) { sysUnlink(path) }
    }

    public func contentsOfDirectory(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else { throw WALError.system(errno: errno, operation: "opendir", file: path) }
        defer { closedir(dir) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(dir) else {
                if errno != 0 { throw WALError.system(errno: errno, operation: "readdir", file: path) }
                return names
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
    }

    public func createDirectory(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw WALError.system(errno: errno, operation: "mkdir", file: prefix)
            }
            prefix += "/"
        }
    }

    public func availableBytes(_ path: String) throws -> Int64 {
        var info = statvfs()
        _ = try retryingEINTR("statvfs", file: path) { sysStatvfs(path, &info) }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }
}

// File-scope forwarders: inside `POSIXFileSystem` the method names shadow the C functions.
private func sysOpen(_ path: String, _ flags: CInt) -> CInt { open(path, flags, 0o644) }
private func sysClose(_ fd: CInt) -> CInt { close(fd) }
private func sysPread(_ fd: CInt, _ buffer: UnsafeMutableRawPointer?, _ count: Int, _ offset: off_t) -> Int {
    pread(fd, buffer, count, offset)
}
private func sysPwrite(_ fd: CInt, _ buffer: UnsafeRawPointer?, _ count: Int, _ offset: off_t) -> Int {
    pwrite(fd, buffer, count, offset)
}
private func sysFdatasync(_ fd: CInt) -> CInt { fdatasync(fd) }
private func sysFsync(_ fd: CInt) -> CInt { fsync(fd) }
private func sysFtruncate(_ fd: CInt, _ length: off_t) -> CInt { ftruncate(fd, length) }
private func sysFstat(_ fd: CInt, _ info: UnsafeMutablePointer<stat>) -> CInt { fstat(fd, info) }
private func sysRename(_ from: String, _ to: String) -> CInt { rename(from, to) }
private func sysUnlink(_ path: String) -> CInt { unlink(path) }
private func sysStatvfs(_ path: String, _ info: UnsafeMutablePointer<statvfs>) -> CInt { statvfs(path, info) }

/// Runs a system call until it does not fail with `EINTR`; a result of -1 becomes a `WALError`
/// carrying `errno` and the operation.
@inline(__always)
func retryingEINTR<T: FixedWidthInteger>(_ operation: String, file: String? = nil, _ call: () -> T) throws -> Int {
    while true {
        let result = call()
        if result != -1 { return Int(result) }
        let code = errno
        if code == EINTR { continue }
        throw WALError.system(errno: code, operation: operation, file: file)
    }
}
