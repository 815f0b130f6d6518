import APISupport
import WAL

extension APIError {
    /// What a client sees when the WAL refuses an append: always 503 with `Retry-After`, because
    /// nothing was acknowledged and the same request can be sent again.
    static func walRefused(_ error: any Error) -> APIError {
        guard let walError = error as? WALError else {
            return .unavailable("wal_unavailable", "The write-ahead log is unavailable; retry later.", retryAfterSeconds: 5)
        }
        switch walError.code {
        case .overCapacity:
            return .unavailable(
                "wal_over_capacity",
                "Too many events are waiting to be stored in PostgreSQL; retry later.",
                retryAfterSeconds: 5
            )
        case .segmentUnavailable:
            // Recoverable (e.g. the process was out of file descriptors): the next batch tries again.
            return .unavailable(
                "wal_segment_unavailable",
                "The write-ahead log could not open its next segment; retry shortly.",
                retryAfterSeconds: 1
            )
        case .diskFull:
            return .unavailable("disk_full", "The server's disk is full; retry later.", retryAfterSeconds: 30)
        default:
            return .unavailable(
                "wal_unavailable",
                "The write-ahead log cannot accept writes until the service is restarted; retry later.",
                retryAfterSeconds: 5
            )
        }
    }
}
