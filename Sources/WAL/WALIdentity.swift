/// A random id for a WAL directory, written once to `wal.id` when the directory is first opened.
///
/// Segment ids and offsets restart at 1 in a new directory, so a checkpoint taken against one
/// directory can point into the middle of another. The replayer stores this id with its checkpoint
/// and trusts a checkpoint only when the ids match; otherwise it replays the directory from its
/// start (replay is idempotent), instead of silently skipping data.
enum WALIdentity {
    static let fileName = "wal.id"

    static func loadOrCreate(directory: String, fileSystem: any WALFileSystem) throws -> String {
        let path = join(directory, fileName)
        if try fileSystem.contentsOfDirectory(directory).contains(fileName) {
            let file = try WALFile(path: path, mode: .readOnly, fileSystem: fileSystem)
            let bytes = try file.readAll()
            try file.close()
            let id = String(decoding: bytes, as: UTF8.self).trimmingWhitespace
            guard id.count == 32, id.allSatisfy(\.isHexDigit) else {
                throw WALError(.corruption, "\(fileName) does not hold a 32-digit hex id", file: path, offset: 0)
            }
            return id
        }
        let id = (0..<2).map { _ in hex(UInt64.random(in: .min ... .max)) }.joined()
        let temporary = path + ".tmp"
        let file = try WALFile(path: temporary, mode: .createTruncate, fileSystem: fileSystem)
        try Array((id + "\n").utf8).withUnsafeBytes { try file.writeAll($0, at: 0) }
        try file.sync()
        try file.close()
        try fileSystem.rename(temporary, to: path)
        try fileSystem.syncDirectory(directory)
        return id
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        String(self.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
