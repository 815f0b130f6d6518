/// Segment file names and creation.
///
/// A segment is `<20-digit zero-padded id>.wal`, so `ls` lists them in order and the name alone
/// gives the id. A new segment is written as `<name>.tmp` (header + fdatasync), renamed into place,
/// and the directory is fsynced: a `.wal` file therefore always starts with a complete header,
/// and a crash mid-creation leaves only a `.tmp` file, which the next open deletes.
enum SegmentFile {
    static let suffix = ".wal"
    static let temporarySuffix = ".tmp"
    static let quarantineSuffix = ".quarantine"

    static func name(for id: UInt64) -> String {
        let digits = String(id)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + suffix
    }

    static func path(directory: String, id: UInt64) -> String {
        join(directory, name(for: id))
    }

    /// The id of a segment file name, or nil for any other name (temporary and quarantine files).
    static func id(fromName name: String) -> UInt64? {
        guard name.hasSuffix(suffix) else { return nil }
        let digits = name.dropLast(suffix.count)
        guard digits.count == 20, digits.allSatisfy({ $0 >= "0" && $0 <= "9" }) else { return nil }
        return UInt64(digits)
    }

    /// Where the bad bytes at `offset` of a segment are copied in `.skipCorrupt` mode.
    static func quarantinePath(segmentPath: String, offset: UInt64) -> String {
        "\(segmentPath).\(offset)\(quarantineSuffix)"
    }

    /// Opens `<name>.tmp` for segment `id` ahead of need, to be passed to `create` as `spare`: the
    /// writer keeps the next segment's file open, so a rotation needs no new descriptor.
    static func prepare(directory: String, id: UInt64, fileSystem: any WALFileSystem) throws -> WALFile {
        try WALFile(path: path(directory: directory, id: id) + temporarySuffix, mode: .createTruncate, fileSystem: fileSystem)
    }

    /// Creates segment `id` atomically (see the type's comment) and returns it open for writing.
    /// `spare` is its `.tmp` file from `prepare` (empty), `directoryHandle` the directory kept open
    /// for fsync; without them both are opened here.
    static func create(
        directory: String, id: UInt64, firstSequence: UInt64, fileSystem: any WALFileSystem,
        spare: WALFile? = nil, directoryHandle: WALFile? = nil
    ) throws -> WALFile {
        let finalPath = path(directory: directory, id: id)
        let temporaryPath = finalPath + temporarySuffix
        let file = try spare ?? WALFile(path: temporaryPath, mode: .createTruncate, fileSystem: fileSystem)
        let header = SegmentHeader(segmentId: id, firstSequence: firstSequence).encode()
        try header.withUnsafeBytes { try file.writeAll($0, at: 0) }
        try file.dataSync()
        do {
            try fileSystem.rename(temporaryPath, to: finalPath)
        } catch let error as WALError {
            throw error.inFile(temporaryPath)
        }
        if let directoryHandle { try directoryHandle.sync() } else { try fileSystem.syncDirectory(directory) }
        // The descriptor stays valid across the rename; errors from now on name the final path.
        file.moved(to: finalPath)
        return file
    }
}

func join(_ directory: String, _ name: String) -> String {
    directory.hasSuffix("/") ? directory + name : directory + "/" + name
}
