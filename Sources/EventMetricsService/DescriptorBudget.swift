#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging
import NIOCore
import Operations

/// File descriptors: how many the process may open and how many client connections that leaves.
///
/// Every client connection holds one, and so do the WAL (its segment, the next one while it is
/// created, the directory for fsync, readers), PostgreSQL connections, the admin listener and the
/// event loops. Client connections are capped so the rest always have theirs: before issue #23,
/// idle connections used them all and the WAL could not open its next segment.
enum DescriptorBudget {
    struct Limits: Equatable {
        var soft: Int
        var hard: Int
        /// The soft limit found at start, when it was raised.
        var raisedFrom: Int?
    }

    /// Raises the soft `RLIMIT_NOFILE` to the hard limit (what an unprivileged process may do) and
    /// returns what it has now.
    static func raiseSoftLimit() -> Limits {
        var limit = rlimit()
        guard getrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0 else { return Limits(soft: 1024, hard: 1024) }
        let before = limit.rlim_cur
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(RLIMIT_NOFILE_VALUE, &raised) == 0 { limit = raised }
        }
        return Limits(soft: clamp(limit.rlim_cur), hard: clamp(limit.rlim_max), raisedFrom: limit.rlim_cur != before ? clamp(before) : nil)
    }

    /// Descriptors kept for everything but client connections: 128 for the process, the WAL, the
    /// replayer's PostgreSQL connection, the admin listener and its scrapes; 3 per event loop (epoll,
    /// eventfd, timerfd); one per metrics pool connection.
    static func reserved(queryPoolSize: Int, eventLoops: Int = System.coreCount) -> Int {
        128 + 3 * eventLoops + queryPoolSize
    }

    /// The most client connections (answered plus being refused) that fit beside the reserve, and the
    /// share of them kept for refusals: 1/16, at least 1 and at most 64.
    static func ceiling(softLimit: Int, reserved: Int) -> (maxConnections: Int, refusalReserve: Int) {
        let usable = max(2, softLimit - reserved)
        let refusals = min(64, max(1, usable / 16))
        return (usable - refusals, refusals)
    }

    /// `requested` (0: as many as the budget allows, at most 10,000) clamped to the budget, with a
    /// warning when a larger figure was asked for.
    static func connectionLimits(requested: Int, limits: Limits, queryPoolSize: Int, logger: Logger) -> (maxConnections: Int, refusalReserve: Int) {
        let reserve = reserved(queryPoolSize: queryPoolSize)
        let ceiling = ceiling(softLimit: limits.soft, reserved: reserve)
        var maxConnections = requested > 0 ? requested : min(10_000, ceiling.maxConnections)
        if maxConnections > ceiling.maxConnections {
            logger.warning("--max-connections is more than the descriptor limit allows; lowered", metadata: [
                "requested": "\(requested)", "max_connections": "\(ceiling.maxConnections)", "nofile": "\(limits.soft)",
            ])
            maxConnections = ceiling.maxConnections
        }
        logger.info("file descriptors", metadata: [
            "nofile_soft": "\(limits.soft)", "nofile_hard": "\(limits.hard)",
            "raised_from": "\(limits.raisedFrom.map(String.init) ?? "-")", "reserved": "\(reserve)",
            "max_connections": "\(maxConnections)", "refusal_reserve": "\(ceiling.refusalReserve)",
        ])
        return (maxConnections, ceiling.refusalReserve)
    }

    private static func clamp(_ value: rlim_t) -> Int {
        value >= rlim_t(Int.max) ? Int.max : Int(value)
    }
}

#if canImport(Glibc)
/// Glibc imports RLIMIT_NOFILE as an enum case on some toolchains and as an Int32 on others.
private let RLIMIT_NOFILE_VALUE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
#else
private let RLIMIT_NOFILE_VALUE = RLIMIT_NOFILE
#endif
