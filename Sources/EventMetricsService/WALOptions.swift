import ArgumentParser
import WAL

/// WAL settings shared by `serve`, `replay` and `wal`.
struct WALOptions: ParsableArguments {
    @Option(name: .customLong("wal-dir"), help: "WAL directory (env WAL_DIR).")
    var walDirectory: String = Environment.string("WAL_DIR", default: ".data/wal")

    @Option(name: .customLong("wal-segment-bytes"), help: "Rotate segments at this size (env WAL_SEGMENT_BYTES).")
    var segmentBytes: Int = Environment.int("WAL_SEGMENT_BYTES", default: 64 << 20)

    @Option(name: .customLong("wal-max-unreplayed-bytes"), help: "Refuse appends (503) beyond this many unreplayed bytes (env WAL_MAX_UNREPLAYED_BYTES).")
    var maxUnreplayedBytes: Int = Environment.int("WAL_MAX_UNREPLAYED_BYTES", default: 8 << 30)

    @Option(name: .customLong("wal-min-free-disk-bytes"), help: "Refuse appends (503) when free disk falls below this (env WAL_MIN_FREE_DISK_BYTES).")
    var minFreeDiskBytes: Int = Environment.int("WAL_MIN_FREE_DISK_BYTES", default: 256 << 20)

    @Option(name: .customLong("wal-preallocate-bytes"), help: "Zero-fill this much ahead of the active segment's end, so fdatasync need not grow the file; 0 turns it off (env WAL_PREALLOCATE_BYTES).")
    var preallocateBytes: Int = Environment.int("WAL_PREALLOCATE_BYTES", default: 4 << 20)

    @Option(name: .customLong("wal-fsync"), help: "always (default: ack after fdatasync) or an interval in ms, which accepts losing that window on a power cut (env WAL_FSYNC).")
    var fsync: String = Environment.string("WAL_FSYNC", default: "always")

    @Option(name: .customLong("wal-recovery"), help: "strict (refuse to start on corruption found at start; stop replay, not ingestion, on corruption found while replaying) or skip (quarantine corrupt bytes and go on) (env WAL_RECOVERY).")
    var recovery: String = Environment.string("WAL_RECOVERY", default: "strict")

    @Flag(name: .customLong("wal-retain"), help: "Keep replayed segments instead of deleting them (env WAL_RETAIN=1).")
    var retain: Bool = Environment.bool("WAL_RETAIN", default: false)

    func configuration() throws -> WALConfiguration {
        var config = WALConfiguration(directory: walDirectory)
        config.segmentSize = segmentBytes
        config.maxUnreplayedBytes = Int64(maxUnreplayedBytes)
        config.minFreeDiskBytes = Int64(minFreeDiskBytes)
        guard preallocateBytes >= 0 else { throw ValidationError("--wal-preallocate-bytes must be 0 or more, not \(preallocateBytes)") }
        config.preallocationBytes = preallocateBytes
        switch fsync {
        case "always": config.fsyncPolicy = .always
        default:
            guard let ms = Int(fsync), ms > 0 else {
                throw ValidationError("--wal-fsync must be 'always' or a positive number of milliseconds, not '\(fsync)'")
            }
            config.fsyncPolicy = .interval(.milliseconds(ms))
        }
        switch recovery {
        case "strict": config.recoveryMode = .strict
        case "skip": config.recoveryMode = .skipCorrupt
        default: throw ValidationError("--wal-recovery must be 'strict' or 'skip', not '\(recovery)'")
        }
        return config
    }
}
