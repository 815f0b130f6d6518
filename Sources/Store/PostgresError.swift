/// Every failure of the Store module.
///
/// `message` and `query` are server-side detail for logs and operators; HTTP routes map the `code` to
/// their own client-facing errors and never show these texts.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is; an open set, so switch with a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case connectionFailed, connectionLost, queryFailed, copyFailed, queryTimeout
            case uniqueViolation, closed, poolTimeout, migrationFailed
        }
        private let base: Base

        /// The connection could not be established (server down, refused, bad URL, auth).
        public static let connectionFailed = Code(base: .connectionFailed)
        /// An established connection broke (server restart, `pg_terminate_backend`, network).
        public static let connectionLost = Code(base: .connectionLost)
        /// The server rejected a statement; `sqlState` says why.
        public static let queryFailed = Code(base: .queryFailed)
        /// A `COPY … FROM STDIN` failed while streaming or at its end.
        public static let copyFailed = Code(base: .copyFailed)
        /// The statement was cancelled by `statement_timeout` (SQLSTATE 57014).
        public static let queryTimeout = Code(base: .queryTimeout)
        /// A unique constraint was violated (SQLSTATE 23505).
        public static let uniqueViolation = Code(base: .uniqueViolation)
        /// The connection or pool was closed by its owner.
        public static let closed = Code(base: .closed)
        /// No pooled connection became free within the pool's acquire timeout.
        public static let poolTimeout = Code(base: .poolTimeout)
        /// A schema migration file was missing, misnamed or failed to apply.
        public static let migrationFailed = Code(base: .migrationFailed)

        public var description: String { base.rawValue }
    }

    public var code: Code
    /// Server-side detail: libpq's or the server's message (with DETAIL/HINT when present).
    public var message: String
    /// The five-character SQLSTATE when the server reported one.
    public var sqlState: String?
    /// The statement (truncated) or operation that failed, for logs.
    public var query: String?

    public init(code: Code, message: String, sqlState: String? = nil, query: String? = nil) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.query = query
    }

    /// True when the failure means the server or the connection is unavailable, so a caller should
    /// answer "try again later" (HTTP 503) rather than treat it as a bug.
    public var isUnavailable: Bool {
        code == .connectionFailed || code == .connectionLost || code == .poolTimeout || code == .closed
    }

    public var description: String {
        var out = "PostgresError(\(code)"
        if let sqlState { out += ", sqlstate \(sqlState)" }
        out += "): \(message)"
        if let query { out += " [in: \(query)]" }
        return out
    }

    /// Keeps log lines bounded when a long statement fails.
    static func truncated(_ sql: String, limit: Int = 200) -> String {
        let collapsed = sql.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        return collapsed.count <= limit ? collapsed : String(collapsed.prefix(limit)) + "…"
    }
}
