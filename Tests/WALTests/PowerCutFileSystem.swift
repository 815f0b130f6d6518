import Foundation
import Synchronization
@testable import WAL

/// SplitMix64: a tiny seeded generator, so a power-cut run is a pure function of its seed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// What survives a power cut: file names (full paths) and their bytes.
struct PowerCutImage: Sendable {
    var files: [String: [UInt8]]
}

/// An in-memory `WALFileSystem` with one directory that models the page cache, for simulated
/// power cuts (the `PowerCut` suite).
///
/// Each file keeps two versions: `durable` (as of its last fdatasync/fsync) and `current` (what reads
/// see). The directory keeps the names as of its last fsync and the creates, renames and unlinks since.
/// Every operation that changes something counts; the one numbered `cutAt` is the cut: the model
/// then resolves what survived (`image`) and fails that operation and every later one with EIO, as a
/// machine that lost power would never complete them.
///
/// At the cut, as the kernel may:
/// - each directory operation not covered by a directory fsync is independently kept or lost
///   (applied in order to the names as of the last fsync);
/// - each file whose bytes differ from its durable version is lost (durable version), kept (current),
///   or torn: its size is any 512-byte boundary between the two sizes (or either size), and each
///   512-byte sector independently has its new or old bytes (zeros where the old file had none), so
///   any subset of the unsynced sectors reached the disk, in any order.
final class PowerCutFileSystem: WALFileSystem {
    static let sectorSize = 512
    static let directoryInode = -1

    private struct Inode {
        var durable: [UInt8] = []
        var current: [UInt8] = []
    }

    private enum DirectoryOperation {
        case link(String, Int)
        case unlink(String)
        case rename(String, String)
    }

    private struct Model {
        var inodes: [Int: Inode] = [:]
        var nextInode = 1
        var names: [String: Int] = [:]
        var durableNames: [String: Int] = [:]
        var pending: [DirectoryOperation] = []
        var descriptors: [CInt: Int] = [:]
        var nextDescriptor: CInt = 3
        var operations = 0
        var cutAt: Int?
        var image: PowerCutImage?
        var generator: SeededGenerator
    }

    let directory: String
    private let model: Mutex<Model>

    /// A file system that cuts power before its `cutAt`-th changing operation (never when nil),
    /// resolving the cut with a generator seeded by `seed`.
    init(directory: String, seed: UInt64, cutAt: Int?, image: PowerCutImage? = nil) {
        self.directory = directory
        var model = Model(cutAt: cutAt, generator: SeededGenerator(seed: seed ^ 0x5EED_0F_C0FFEE))
        for (path, bytes) in image?.files ?? [:] {
            let inode = model.nextInode
            model.nextInode += 1
            model.inodes[inode] = Inode(durable: bytes, current: bytes)
            model.names[path] = inode
            model.durableNames[path] = inode
        }
        self.model = Mutex(model)
    }

    /// What survived, once the cut happened.
    var image: PowerCutImage? { model.withLock { $0.image } }
    var isCut: Bool { image != nil }
    var operationCount: Int { model.withLock { $0.operations } }

    /// Cuts power now (if it has not been cut yet) and returns what survived.
    func cutNow() -> PowerCutImage {
        model.withLock { model in
            if model.image == nil { model.image = Self.resolve(&model) }
            return model.image!
        }
    }

    // MARK: WALFileSystem

    func open(_ path: String, mode: WALOpenMode) throws -> CInt {
        try model.withLock { model in
            let inode: Int
            switch mode {
            case .directory:
                try Self.alive(&model, changing: false)
                guard path == directory else { throw WALError.system(errno: ENOENT, operation: "open", file: path) }
                inode = Self.directoryInode
            case .readOnly, .readWrite:
                try Self.alive(&model, changing: false)
                guard let existing = model.names[path] else { throw WALError.system(errno: ENOENT, operation: "open", file: path) }
                inode = existing
            case .createTruncate:
                try Self.alive(&model, changing: true)
                if let existing = model.names[path] {
                    inode = existing
                    model.inodes[existing]!.current = []
                } else {
                    inode = model.nextInode
                    model.nextInode += 1
                    model.inodes[inode] = Inode()
                    model.names[path] = inode
                    model.pending.append(.link(path, inode))
                }
            }
            let fd = model.nextDescriptor
            model.nextDescriptor += 1
            model.descriptors[fd] = inode
            return fd
        }
    }

    func close(_ fd: CInt) throws {
        _ = model.withLock { $0.descriptors.removeValue(forKey: fd) }
    }

    func pread(_ fd: CInt, into buffer: UnsafeMutableRawBufferPointer, offset: Int64) throws -> Int {
        try model.withLock { model in
            try Self.alive(&model, changing: false)
            let bytes = model.inodes[try Self.inode(model, fd)]!.current
            let start = Int(offset)
            guard start < bytes.count else { return 0 }
            let count = min(buffer.count, bytes.count - start)
            bytes.withUnsafeBytes { source in
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[start..<(start + count)]))
            }
            return count
        }
    }

    func pwrite(_ fd: CInt, from buffer: UnsafeRawBufferPointer, offset: Int64) throws -> Int {
        try model.withLock { model in
            try Self.alive(&model, changing: true)
            let inode = try Self.inode(model, fd)
            let start = Int(offset)
            let end = start + buffer.count
            if model.inodes[inode]!.current.count < end {
                model.inodes[inode]!.current.append(contentsOf: repeatElement(0, count: end - model.inodes[inode]!.current.count))
            }
            model.inodes[inode]!.current.withUnsafeMutableBytes { target in
                UnsafeMutableRawBufferPointer(rebasing: target[start..<end]).copyMemory(from: buffer)
            }
            return buffer.count
        }
    }

    func fdatasync(_ fd: CInt) throws { try sync(fd) }
    func fsync(_ fd: CInt) throws { try sync(fd) }

    private func sync(_ fd: CInt) throws {
        try model.withLock { model in
            try Self.alive(&model, changing: true)
            let inode = try Self.inode(model, fd)
            if inode == Self.directoryInode {
                model.durableNames = model.names
                model.pending.removeAll()
            } else {
                model.inodes[inode]!.durable = model.inodes[inode]!.current
            }
        }
    }

    func ftruncate(_ fd: CInt, length: Int64) throws {
        try model.withLock { model in
            try Self.alive(&model, changing: true)
            let inode = try Self.inode(model, fd)
            let count = model.inodes[inode]!.current.count
            if Int(length) < count {
                model.inodes[inode]!.current.removeLast(count - Int(length))
            } else {
                model.inodes[inode]!.current.append(contentsOf: repeatElement(0, count: Int(length) - count))
            }
        }
    }

    func fileSize(_ fd: CInt) throws -> Int64 {
        try model.withLock { model in
            try Self.alive(&model, changing: false)
            return Int64(model.inodes[try Self.inode(model, fd)]!.current.count)
        }
    }

    func rename(_ from: String, to: String) throws {
        try model.withLock { model in
            try Self.alive(&model, changing: true)
            guard let inode = model.names.removeValue(forKey: from) else {
                throw WALError.system(errno: ENOENT, operation: "rename", file: from)
            }
            model.names[to] = inode
            model.pending.append(.rename(from, to))
        }
    }

    func unlink(_ path: String) throws {
        try model.withLock { model in
            try Self.alive(&model, changing: true)
            guard model.names.removeValue(forKey: path) != nil else {
                throw WALError.system(errno: ENOENT, operation: "unlink", file: path)
            }
            model.pending.append(.unlink(path))
        }
    }

    func contentsOfDirectory(_ path: String) throws -> [String] {
        try model.withLock { model in
            try Self.alive(&model, changing: false)
            let prefix = path.hasSuffix("/") ? path : path + "/"
            return model.names.keys.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }.sorted()
        }
    }

    func createDirectory(_ path: String) throws {}

    func availableBytes(_ path: String) throws -> Int64 { 1 << 40 }

    // MARK: The cut

    /// Counts a changing operation and cuts power when it is the chosen one; after the cut nothing
    /// succeeds.
    private static func alive(_ model: inout Model, changing: Bool) throws {
        if model.image == nil, changing {
            if model.operations == model.cutAt { model.image = resolve(&model) }
            model.operations += 1
        }
        if model.image != nil { throw WALError.system(errno: EIO, operation: "power cut") }
    }

    private static func inode(_ model: Model, _ fd: CInt) throws -> Int {
        guard let inode = model.descriptors[fd] else { throw WALError.system(errno: EBADF, operation: "fd") }
        return inode
    }

    private static func resolve(_ model: inout Model) -> PowerCutImage {
        var names = model.durableNames
        for operation in model.pending where Bool.random(using: &model.generator) {
            switch operation {
            case .link(let path, let inode): names[path] = inode
            case .unlink(let path): names[path] = nil
            case .rename(let from, let to):
                if let inode = names.removeValue(forKey: from) { names[to] = inode }
            }
        }
        var contents: [Int: [UInt8]] = [:]
        var files: [String: [UInt8]] = [:]
        for path in names.keys.sorted() {
            let inode = names[path]!
            if contents[inode] == nil { contents[inode] = survivingBytes(model.inodes[inode]!, &model.generator) }
            files[path] = contents[inode]!
        }
        return PowerCutImage(files: files)
    }

    private static func survivingBytes(_ inode: Inode, _ generator: inout SeededGenerator) -> [UInt8] {
        let old = inode.durable
        let new = inode.current
        if old == new { return old }
        switch Int.random(in: 0..<4, using: &generator) {
        case 0: return old
        case 1: return new
        default: break
        }
        let low = min(old.count, new.count)
        let high = max(old.count, new.count)
        var sizes = [old.count, new.count]
        var boundary = (low / sectorSize + 1) * sectorSize
        while boundary < high {
            sizes.append(boundary)
            boundary += sectorSize
        }
        let size = sizes.randomElement(using: &generator)!
        var result = [UInt8](repeating: 0, count: size)
        var sector = 0
        while sector < size {
            let end = min(sector + sectorSize, size)
            let reached = Bool.random(using: &generator)
            for index in sector..<end {
                if reached {
                    result[index] = index < new.count ? new[index] : 0
                } else {
                    result[index] = index < old.count ? old[index] : 0
                }
            }
            sector = end
        }
        return result
    }
}
