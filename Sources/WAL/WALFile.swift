/// One open file descriptor, closed exactly once (by `close()` or, failing that, by `deinit`).
///
/// Not `Sendable`: each `WALFile` belongs to one thread at a time (the writer thread's active
/// segment, a reader's current segment, recovery's scan). Errors name the file's path.
final class WALFile {
    /// Changes only when the file is renamed through `moved(to:)`.
    private(set) var path: String
    private let fileSystem: any WALFileSystem
    private var descriptor: CInt?

    init(path: String, mode: WALOpenMode, fileSystem: any WALFileSystem) throws {
        self.path = path
        self.fileSystem = fileSystem
        do {
            descriptor = try fileSystem.open(path, mode: mode)
        } catch let error as WALError {
            throw error.inFile(path)
        }
    }

    deinit {
        if let descriptor { try? fileSystem.close(descriptor) }
    }

    /// Records that the file was renamed to `newPath` (the descriptor stays valid across a rename).
    func moved(to newPath: String) {
        path = newPath
    }

    /// Closes the descriptor; later calls do nothing.
    func close() throws {
        guard let fd = descriptor else { return }
        descriptor = nil
        try wrap { try fileSystem.close(fd) }
    }

    /// Reads up to `buffer.count` bytes at `offset`, looping over short reads; fewer only at end of file.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
        let fd = try open()
        var done = 0
        while done < buffer.count {
            let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[done...])
            let count = try wrap { try fileSystem.pread(fd, into: chunk, offset: Int64(offset) + Int64(done)) }
            if count == 0 { break }
            done += count
        }
        return done
    }

    /// Reads the whole file into memory (recovery and the inspector scan segments this way). The
    /// buffer is not zero-filled first: `pread` writes every byte it counts, and start-up reads the
    /// newest segment (up to 64 MiB) this way, so zeroing it would be a second pass over it.
    func readAll() throws -> [UInt8] {
        let size = Int(try size())
        return try [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            count = try read(into: UnsafeMutableRawBufferPointer(buffer), at: 0)
        }
    }

    /// Writes all of `buffer` at `offset`. A short write is continued; if a later part fails, the
    /// error is thrown and the bytes already written stay on disk: the caller truncates them away.
    func writeAll(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws {
        let fd = try open()
        var done = 0
        while done < buffer.count {
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[done...])
            let count = try wrap { try fileSystem.pwrite(fd, from: chunk, offset: Int64(offset) + Int64(done)) }
            if count <= 0 {
                throw WALError(.io, "pwrite wrote nothing", file: path, offset: offset + UInt64(done), operation: "pwrite")
            }
            done += count
        }
    }

    /// Writes zeros over `start..<end` (``writeAll(_:at:)`` in pieces of at most 1 MiB).
    func writeZeros(from start: UInt64, to end: UInt64) throws {
        var offset = start
        while offset < end {
            let count = Int(min(end - offset, UInt64(Self.zeros.count)))
            try Self.zeros.withUnsafeBytes { try writeAll(UnsafeRawBufferPointer(rebasing: $0[0..<count]), at: offset) }
            offset += UInt64(count)
        }
    }

    private static let zeros = [UInt8](repeating: 0, count: 1 << 20)

    func dataSync() throws { let fd = try open(); try wrap { try fileSystem.fdatasync(fd) } }
    func sync() throws { let fd = try open(); try wrap { try fileSystem.fsync(fd) } }
    func truncate(to length: UInt64) throws {
        let fd = try open()
        try wrap { try fileSystem.ftruncate(fd, length: Int64(length)) }
    }
    func size() throws -> UInt64 {
        let fd = try open()
        return UInt64(max(0, try wrap { try fileSystem.fileSize(fd) }))
    }

    private func open() throws -> CInt {
        guard let descriptor else { throw WALError(.closed, "file already closed", file: path) }
        return descriptor
    }

    private func wrap<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as WALError { throw error.inFile(path) }
    }
}

extension WALFileSystem {
    /// fsync of a directory, so that a file created, renamed or deleted in it survives a crash.
    func syncDirectory(_ path: String) throws {
        let directory = try WALFile(path: path, mode: .directory, fileSystem: self)
        try directory.sync()
        try directory.close()
    }
}
