/// Every failure of the Store module.
///
/// `message` and `query` are server-side detail for logs and operators; HTTP routes map the `code` to
/// their own client-facing errors and never show these texts.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is; an open set, so switch with a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The connection could not be established (server down, refused, bad URL, auth).
        public static let connectionFailed = Code("connectionFailed")
        /// An established connection broke (server restart, `pg_terminate_backend`, network).
        public static let connectionLost = Code("connectionLost")
        /// The server rejected a statement; `sqlState` says why.
        public static let queryFailed = Code("queryFailed")
        /// A `COPY … FROM STDIN` failed while streaming or at its end.
        public static let copyFailed = Code("copyFailed")
        /// The statement was cancelled by `statement_timeout` (SQLSTATE 57014).
        public static let queryTimeout = Code("queryTimeout")
        /// A unique constraint was violated (SQLSTATE 23505).
        public static let uniqueViolation = Code("uniqueViolation")
        /// The connection or pool was closed by its owner.
        public static let closed = Code("closed")
        /// No pooled connection became free within the pool's acquire timeout.
        public static let poolTimeout = Code("poolTimeout")
        /// A schema migration file was missing, misnamed or failed to apply.
        public static let migrationFailed = Code("migrationFailed")
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

    /// A unique constraint rejected a row (SQLSTATE 23505): for the replayer's direct COPY, a key
    /// already stored.
    public var isUniqueViolation: Bool { code == .uniqueViolation || sqlState == "23505" }

    /// Errors caused by the rows themselves (bad encoding, value out of range, constraint, program
    /// limit), as opposed to the connection or the server's state: only these make a record poison.
    public var isDataError: Bool {
        guard let state = sqlState else { return false }
        return state.hasPrefix("22") || state.hasPrefix("23") || state == "54000"
    }

    /// Keeps log lines bounded when a long statement fails.
    static func truncated(_ sql: String, limit: Int = 200) -> String {
        let collapsed = sql.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        return collapsed.count <= limit ? collapsed : String(collapsed.prefix(limit)) + "…"
    }
}
