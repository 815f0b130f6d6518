import CLibPQ
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A value bound to a `$n` placeholder.
public enum PostgresParameter: Sendable, Hashable, ExpressibleByStringLiteral, ExpressibleByNilLiteral {
    case null
    /// Text format; the server infers the type from the statement.
    case text(String)
    /// Binary format with an explicit type OID, e.g. `.binary(bitmap, oid: PostgresType.bytea)`.
    case binary([UInt8], oid: UInt32)

    public init(stringLiteral value: String) { self = .text(value) }
    public init(nilLiteral: ()) { self = .null }

    public static func bytea(_ bytes: [UInt8]) -> PostgresParameter { .binary(bytes, oid: PostgresType.bytea) }
}

/// One libpq connection (`PGconn`), closed exactly once: by `close()` or at `deinit`.
///
/// Every method blocks the calling thread until the server answers, so call it from a thread that
/// may block (the replayer's own thread, a ``PostgresPool`` worker), never from an event loop or a
/// Swift concurrency task directly.
///
/// `@unchecked Sendable`: libpq allows a `PGconn` to move between threads but not to be used by two
/// at once. The class may be handed from thread to thread (the pool does so), and its owner must use
/// it from one thread at a time; it holds no lock of its own because every caller already serialises
/// its use (the pool leases a connection to one body at a time).
public final class PostgresConnection: @unchecked Sendable {
    public enum TransactionStatus: Sendable {
        case idle, active, inTransaction, inError, unknown
    }

    private var handle: OpaquePointer?
    private var transactionDepth = 0
    /// SQL text → name of its server-side prepared statement (``executePrepared(_:parameters:resultFormat:)``).
    private var preparedStatements: [String: String] = [:]
    private var preparedCounter = 0

    /// Connects with a libpq URI (`postgresql://user@host:port/db?…`) or a `key=value` conninfo string.
    ///
    /// `connectTimeoutSeconds` is libpq's `connect_timeout` (libpq rounds values below 2 up to 2) and
    /// applies unless the URL sets its own; a refused connection fails at once regardless. The session
    /// time zone is set to UTC so `timestamptz` text output and `date_trunc` do not depend on the
    /// server's configuration. JIT compilation is turned off: our statements are short, but their
    /// per-name and per-piece subplans push the planner's estimate past `jit_above_cost`, and the
    /// compile then costs more than the run (`GET /event-names` over 20M rows: 110 ms of JIT for an
    /// 18 ms execution; the 30-day time-zone query's warm p50 8–9 ms without JIT, 13–23 with it).
    public init(url: String, applicationName: String = "event-metrics-service", connectTimeoutSeconds: Int = 5) throws {
        // Keywords are applied in order and later ones win: the defaults come first so the URL
        // (expanded from "dbname") can override them.
        let keywords = ["application_name", "connect_timeout", "dbname"]
        let values = [applicationName, String(max(connectTimeoutSeconds, 1)), url]
        let conn = withCStringArray(keywords) { kw in
            withCStringArray(values) { vals in PQconnectdbParams(kw, vals, 1) }
        }
        guard let conn else {
            throw PostgresError(code: .connectionFailed, message: "could not connect to PostgreSQL: libpq is out of memory")
        }
        guard PQstatus(conn) == CONNECTION_OK else {
            let detail = Self.trimmed(PQerrorMessage(conn))
            PQfinish(conn)
            throw PostgresError(code: .connectionFailed, message: "could not connect to PostgreSQL: \(detail)")
        }
        self.handle = conn
        // Server notices (NOTICE, and the FATAL text of a terminated idle session) would otherwise go
        // to stderr; callers see failures as errors instead.
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
        do {
            try executeScript("SET TimeZone TO 'UTC'; SET jit TO off")
        } catch {
            close()
            throw PostgresError(code: .connectionFailed, message: "could not set up the PostgreSQL session: \(error)")
        }
    }

    deinit {
        if let handle { PQfinish(handle) }
    }

    /// Closes the connection; later calls throw `.closed`. Safe to call more than once.
    public func close() {
        if let handle {
            PQfinish(handle)
            self.handle = nil
        }
    }

    /// Whether libpq considers the connection usable (`PQstatus == CONNECTION_OK`). A connection the
    /// server dropped while idle is only noticed after ``refreshHealth()`` or the next statement.
    public var isHealthy: Bool {
        guard let handle else { return false }
        return PQstatus(handle) == CONNECTION_OK
    }

    /// Reads, without blocking, whatever the server sent while the connection sat idle (for example
    /// the FATAL notice of `pg_terminate_backend` or a server shutdown, then EOF) and reports whether
    /// the connection is still usable. The pool calls it before lending out an idle connection.
    @discardableResult
    public func refreshHealth() -> Bool {
        guard let handle else { return false }
        // A terminated backend sends a FATAL message and then closes; one read may see only the
        // message, so keep reading while the socket is readable (EOF is readable too). libpq's socket
        // is non-blocking internally, and poll with a zero timeout never waits.
        for _ in 0..<8 {
            guard PQstatus(handle) == CONNECTION_OK else { return false }
            var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 0) > 0 else { break }
            if PQconsumeInput(handle) == 0 { return false }
            while let notify = PQnotifies(handle) { PQfreemem(notify) }
        }
        return PQstatus(handle) == CONNECTION_OK
    }

    public var transactionStatus: TransactionStatus {
        guard let handle else { return .unknown }
        switch PQtransactionStatus(handle) {
        case PQTRANS_IDLE: return .idle
        case PQTRANS_ACTIVE: return .active
        case PQTRANS_INTRANS: return .inTransaction
        case PQTRANS_INERROR: return .inError
        default: return .unknown
        }
    }

    /// The server process serving this connection (for `pg_terminate_backend`, `pg_stat_activity`).
    public var backendPID: Int32 {
        guard let handle else { return 0 }
        return PQbackendPID(handle)
    }

    /// The server version as an integer, e.g. 150004 for 15.4.
    public var serverVersion: Int {
        guard let handle else { return 0 }
        return Int(PQserverVersion(handle))
    }

    // MARK: - Statements

    /// Runs one statement with text parameters bound to `$1`, `$2`, … (nil is SQL NULL); rows come back
    /// in text format.
    @discardableResult
    public func execute(_ sql: String, _ params: [String?] = []) throws -> PostgresResult {
        try execute(sql, parameters: params.map { $0.map(PostgresParameter.text) ?? .null }, resultFormat: .text)
    }

    /// Runs one statement with text parameters and asks for every column in binary format, so `bytea`
    /// arrives as raw bytes and integers as big-endian words (read them with the result's helpers).
    public func executeBinary(_ sql: String, _ params: [String?] = []) throws -> PostgresResult {
        try execute(sql, parameters: params.map { $0.map(PostgresParameter.text) ?? .null }, resultFormat: .binary)
    }

    /// Runs one statement with typed parameters (text or binary) and the chosen result format.
    @discardableResult
    public func execute(
        _ sql: String, parameters: [PostgresParameter], resultFormat: PostgresResult.Format = .text
    ) throws -> PostgresResult {
        let conn = try liveHandle(for: sql)
        let result = try withParameterArrays(parameters, sql: sql) { count, types, values, lengths, formats in
            PQexecParams(conn, sql, count, types, values, lengths, formats, resultFormat.rawValue)
        }
        return try consume(result, sql: sql, format: resultFormat)
    }

    /// Like ``execute(_:parameters:resultFormat:)``, but the statement is parsed and planned once per
    /// connection (`PQprepare`) and then only executed: for hot statements whose planning costs a
    /// noticeable share of their run time (the metrics query). The statement's parameter types are
    /// fixed by its first call, so use it only for SQL whose parameters always have the same types.
    /// At most ``maxPreparedStatements`` are kept; beyond that the cache starts over.
    @discardableResult
    public func executePrepared(
        _ sql: String, parameters: [PostgresParameter], resultFormat: PostgresResult.Format = .text
    ) throws -> PostgresResult {
        let conn = try liveHandle(for: sql)
        let name = try preparedName(for: sql, parameters: parameters, on: conn)
        let result = try withParameterArrays(parameters, sql: sql) { count, _, values, lengths, formats in
            PQexecPrepared(conn, name, count, values, lengths, formats, resultFormat.rawValue)
        }
        return try consume(result, sql: sql, format: resultFormat)
    }

    /// Like ``executePrepared(_:parameters:resultFormat:)``, but hands the rows to `eachRow` one at a
    /// time as they arrive (libpq single-row mode), each as a one-row ``PostgresResult``: the caller
    /// folds a large answer (the metrics query's bitmaps) without ever holding all of it. If `eachRow`
    /// throws, the remaining rows are read and dropped, so the connection stays usable, and the error
    /// is rethrown; a server error mid-way throws after the rows already handed over.
    public func executePrepared(
        _ sql: String, parameters: [PostgresParameter], resultFormat: PostgresResult.Format = .text,
        eachRow: (PostgresResult) throws -> Void
    ) throws {
        let conn = try liveHandle(for: sql)
        let name = try preparedName(for: sql, parameters: parameters, on: conn)
        let sent = try withParameterArrays(parameters, sql: sql) { count, _, values, lengths, formats in
            PQsendQueryPrepared(conn, name, count, values, lengths, formats, resultFormat.rawValue)
        }
        guard sent == 1 else { throw connectionError(sql: sql, defaultCode: .queryFailed) }
        guard PQsetSingleRowMode(conn) == 1 else {
            drainResults(conn)
            throw PostgresError(code: .queryFailed, message: "libpq refused single-row mode", query: PostgresError.truncated(sql))
        }
        var failure: (any Error)?
        while let result = PQgetResult(conn) {
            if failure != nil {
                PQclear(result)
                continue
            }
            switch PQresultStatus(result) {
            case PGRES_SINGLE_TUPLE:
                do {
                    try eachRow(try consume(result, sql: sql, format: resultFormat))
                } catch {
                    failure = error
                }
            case PGRES_TUPLES_OK, PGRES_COMMAND_OK:
                PQclear(result)  // the end of the rows
            default:
                do { _ = try consume(result, sql: sql, format: resultFormat) } catch { failure = error }
            }
        }
        if let failure { throw failure }
    }

    /// The name of `sql` prepared on this connection, preparing it on first use.
    private func preparedName(for sql: String, parameters: [PostgresParameter], on conn: OpaquePointer) throws -> String {
        if let known = preparedStatements[sql] { return known }
        if preparedStatements.count >= Self.maxPreparedStatements {
            try executeScript("DEALLOCATE ALL")
            preparedStatements.removeAll()
        }
        preparedCounter += 1
        let name = "store_prepared_\(preparedCounter)"
        let prepared = try withParameterArrays(parameters, sql: sql) { count, types, _, _, _ in
            PQprepare(conn, name, sql, count, types)
        }
        _ = try consume(prepared, sql: sql, format: .text)
        preparedStatements[sql] = name
        return name
    }

    public static let maxPreparedStatements = 256

    /// Marshals parameters into libpq's parallel arrays (type OIDs, values, lengths, formats) for the
    /// duration of `body`.
    private func withParameterArrays<R>(
        _ parameters: [PostgresParameter], sql: String,
        _ body: (Int32, [UInt32], [UnsafePointer<CChar>?], [Int32], [Int32]) -> R
    ) throws -> R {
        let count = parameters.count
        var types = [UInt32](repeating: 0, count: count)
        var lengths = [Int32](repeating: 0, count: count)
        var formats = [Int32](repeating: 0, count: count)
        var values = [UnsafePointer<CChar>?](repeating: nil, count: count)
        var allocations: [UnsafeMutableRawPointer] = []
        allocations.reserveCapacity(count)
        defer { allocations.forEach { free($0) } }

        for (index, parameter) in parameters.enumerated() {
            let bytes: [UInt8]
            switch parameter {
            case .null:
                continue
            case .text(let string):
                bytes = Array(string.utf8)
                guard !bytes.contains(0) else {
                    throw PostgresError(code: .queryFailed, message: "parameter $\(index + 1) contains a NUL character, which PostgreSQL text cannot hold", query: PostgresError.truncated(sql))
                }
            case .binary(let data, let oid):
                bytes = data
                types[index] = oid
                formats[index] = 1
            }
            // NUL-terminated so text parameters are valid C strings; binary ones pass their length.
            let memory = malloc(bytes.count + 1)!
            allocations.append(memory)
            bytes.withUnsafeBytes { memory.copyMemory(from: $0.baseAddress ?? UnsafeRawPointer(memory), byteCount: bytes.count) }
            memory.storeBytes(of: 0, toByteOffset: bytes.count, as: UInt8.self)
            values[index] = UnsafePointer(memory.assumingMemoryBound(to: CChar.self))
            lengths[index] = Int32(bytes.count)
        }
        return body(Int32(count), types, values, lengths, formats)
    }

    /// Runs plain SQL that may hold several statements separated by semicolons (migrations, DDL);
    /// no parameters. Returns the last statement's result; stops at the first error.
    @discardableResult
    public func executeScript(_ sql: String) throws -> PostgresResult {
        let conn = try liveHandle(for: sql)
        return try consume(PQexec(conn, sql), sql: sql, format: .text)
    }

    /// Sets `statement_timeout` for this session; nil or 0 disables it. A statement that runs longer
    /// fails with `.queryTimeout`.
    public func setStatementTimeout(milliseconds: Int?) throws {
        try execute("SELECT set_config('statement_timeout', $1, false)", [String(max(milliseconds ?? 0, 0))])
    }

    // MARK: - Transactions

    /// Runs `body` inside `BEGIN`/`COMMIT`, rolling back when it throws. Nested calls use savepoints.
    ///
    /// A body that swallows a statement error would otherwise have PostgreSQL turn the `COMMIT`
    /// silently into a `ROLLBACK`; this throws instead, so a caller never believes rolled-back work
    /// was committed.
    @discardableResult
    public func transaction<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        let savepoint: String?
        switch transactionStatus {
        case .idle:
            savepoint = nil
            try executeScript("BEGIN")
        case .inTransaction:
            savepoint = "store_savepoint_\(transactionDepth)"
            try executeScript("SAVEPOINT \(savepoint!)")
        default:
            throw PostgresError(code: .queryFailed, message: "cannot start a transaction: connection is \(transactionStatus)")
        }
        transactionDepth += 1
        defer { transactionDepth -= 1 }

        let value: T
        do {
            value = try body(self)
        } catch {
            rollBack(to: savepoint)
            throw error
        }
        if transactionStatus == .inError {
            rollBack(to: savepoint)
            throw PostgresError(code: .queryFailed, message: "transaction rolled back: a statement in it failed and the error was not propagated")
        }
        if let savepoint {
            try executeScript("RELEASE SAVEPOINT \(savepoint)")
        } else {
            let result = try executeScript("COMMIT")
            if result.commandTag == "ROLLBACK" {
                throw PostgresError(code: .queryFailed, message: "transaction rolled back by the server at COMMIT")
            }
        }
        return value
    }

    private func rollBack(to savepoint: String?) {
        if let savepoint {
            _ = try? executeScript("ROLLBACK TO SAVEPOINT \(savepoint); RELEASE SAVEPOINT \(savepoint)")
        } else {
            _ = try? executeScript("ROLLBACK")
        }
    }

    // MARK: - COPY FROM STDIN

    /// Sends `data` to a `COPY … FROM STDIN` statement (text, CSV or binary format as the statement
    /// says) and returns the number of rows copied.
    @discardableResult
    public func copyIn(_ copyStatement: String, _ data: [UInt8]) throws -> Int {
        try copyIn(copyStatement) { stream in try stream.send(data) }
    }

    /// Streams a `COPY … FROM STDIN`: `body` sends the data in as many pieces as it likes, so a large
    /// load needs no single buffer. If `body` throws, the COPY is aborted (nothing is stored) and the
    /// error is rethrown. Returns the number of rows copied.
    @discardableResult
    public func copyIn(_ copyStatement: String, _ body: (CopyInStream) throws -> Void) throws -> Int {
        let conn = try liveHandle(for: copyStatement)
        let start = PQexec(conn, copyStatement)
        let status = PQresultStatus(start)
        guard status == PGRES_COPY_IN else {
            if status == PGRES_FATAL_ERROR || start == nil {
                throw error(from: start, sql: copyStatement, defaultCode: .copyFailed, clear: true)
            }
            PQclear(start)
            throw PostgresError(code: .copyFailed, message: "statement is not a COPY … FROM STDIN", query: PostgresError.truncated(copyStatement))
        }
        PQclear(start)

        do {
            try body(CopyInStream(connection: self, sql: copyStatement))
        } catch {
            _ = PQputCopyEnd(conn, "COPY aborted by the client")
            drainResults(conn)
            throw error
        }
        guard PQputCopyEnd(conn, nil) == 1 else {
            let failure = connectionError(sql: copyStatement, defaultCode: .copyFailed)
            drainResults(conn)
            throw failure
        }
        // PQgetResult yields the COPY's final status, then nil.
        var firstError: PostgresError?
        var rows = 0
        while let result = PQgetResult(conn) {
            if PQresultStatus(result) == PGRES_COMMAND_OK {
                rows = Int(String(cString: PQcmdTuples(result))) ?? 0
                PQclear(result)
            } else {
                let failure = error(from: result, sql: copyStatement, defaultCode: .copyFailed, clear: true)
                if firstError == nil { firstError = failure }
            }
        }
        if let firstError { throw firstError }
        return rows
    }

    /// Sends data into a running `COPY … FROM STDIN`; only valid inside ``copyIn(_:_:)-(_,(CopyInStream)throws->Void)``.
    public struct CopyInStream {
        let connection: PostgresConnection
        let sql: String

        /// Sends bytes in pieces of at most 1 MiB (libpq takes an `Int32` length).
        public func send(_ bytes: [UInt8]) throws {
            try bytes.withUnsafeBytes { try send($0) }
        }

        public func send(_ bytes: UnsafeRawBufferPointer) throws {
            guard let conn = connection.handle else {
                throw PostgresError(code: .closed, message: "connection is closed", query: PostgresError.truncated(sql))
            }
            let chunk = 1 << 20
            var offset = 0
            while offset < bytes.count {
                let length = min(chunk, bytes.count - offset)
                let pointer = bytes.baseAddress!.advanced(by: offset).assumingMemoryBound(to: CChar.self)
                guard PQputCopyData(conn, pointer, Int32(length)) == 1 else {
                    throw connection.connectionError(sql: sql, defaultCode: .copyFailed)
                }
                offset += length
            }
        }
    }

    // MARK: - Results and errors

    private func liveHandle(for sql: String) throws -> OpaquePointer {
        guard let handle else {
            throw PostgresError(code: .closed, message: "connection is closed", query: PostgresError.truncated(sql))
        }
        return handle
    }

    private func drainResults(_ conn: OpaquePointer) {
        while let result = PQgetResult(conn) { PQclear(result) }
    }

    /// Turns a `PGresult` into a ``PostgresResult`` or a ``PostgresError``, and frees it.
    private func consume(_ result: OpaquePointer?, sql: String, format: PostgresResult.Format) throws -> PostgresResult {
        guard let result else { throw connectionError(sql: sql, defaultCode: .queryFailed) }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY, PGRES_SINGLE_TUPLE:
            return Self.copyOut(result, format: format)
        case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
            // A COPY started through execute(): end it so the connection stays usable.
            if let handle {
                if PQresultStatus(result) == PGRES_COPY_IN { _ = PQputCopyEnd(handle, "use copyIn() for COPY FROM STDIN") }
                drainResults(handle)
            }
            throw PostgresError(code: .queryFailed, message: "COPY must run through copyIn()", query: PostgresError.truncated(sql))
        default:
            throw error(from: result, sql: sql, defaultCode: .queryFailed, clear: false)
        }
    }

    private static func copyOut(_ result: OpaquePointer, format: PostgresResult.Format) -> PostgresResult {
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        var columns: [String] = []
        var types: [UInt32] = []
        columns.reserveCapacity(columnCount)
        for column in 0..<columnCount {
            columns.append(String(cString: PQfname(result, Int32(column))))
            types.append(PQftype(result, Int32(column)))
        }
        var total = 0
        for row in 0..<rowCount {
            for column in 0..<columnCount { total += Int(PQgetlength(result, Int32(row), Int32(column))) }
        }
        var storage: [UInt8] = []
        storage.reserveCapacity(total)
        var offsets: [Int] = []
        var lengths: [Int32] = []
        offsets.reserveCapacity(rowCount * columnCount)
        lengths.reserveCapacity(rowCount * columnCount)
        for row in 0..<rowCount {
            for column in 0..<columnCount {
                let r = Int32(row), c = Int32(column)
                offsets.append(storage.count)
                if PQgetisnull(result, r, c) == 1 {
                    lengths.append(-1)
                    continue
                }
                let length = Int(PQgetlength(result, r, c))
                lengths.append(Int32(length))
                if length > 0, let value = PQgetvalue(result, r, c) {
                    storage.append(contentsOf: UnsafeRawBufferPointer(start: value, count: length))
                }
            }
        }
        let tag = String(cString: PQcmdStatus(result))
        let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
        return PostgresResult(
            columns: columns, columnTypes: types, rowCount: rowCount, affectedRows: affected, commandTag: tag,
            format: format, storage: storage, offsets: offsets, lengths: lengths)
    }

    /// An error from a failed `PGresult` (or from the connection when there is none), classified by
    /// SQLSTATE and connection state.
    private func error(from result: OpaquePointer?, sql: String, defaultCode: PostgresError.Code, clear: Bool) -> PostgresError {
        guard let result else { return connectionError(sql: sql, defaultCode: defaultCode) }
        defer { if clear { PQclear(result) } }
        func field(_ code: Character) -> String? {
            guard let value = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
            return String(cString: value)
        }
        let sqlState = field("C")
        var message = field("M") ?? Self.trimmed(PQresultErrorMessage(result))
        if message.isEmpty, let handle { message = Self.trimmed(PQerrorMessage(handle)) }
        if let detail = field("D") { message += " — \(detail)" }
        if let hint = field("H") { message += " (hint: \(hint))" }
        return PostgresError(
            code: classify(sqlState: sqlState, defaultCode: defaultCode), message: message, sqlState: sqlState,
            query: PostgresError.truncated(sql))
    }

    fileprivate func connectionError(sql: String, defaultCode: PostgresError.Code) -> PostgresError {
        let message = handle.map { Self.trimmed(PQerrorMessage($0)) } ?? "connection is closed"
        return PostgresError(
            code: classify(sqlState: nil, defaultCode: defaultCode), message: message.isEmpty ? "no result from server" : message,
            query: PostgresError.truncated(sql))
    }

    private func classify(sqlState: String?, defaultCode: PostgresError.Code) -> PostgresError.Code {
        if !isHealthy { return .connectionLost }
        switch sqlState {
        case "57014": return .queryTimeout
        case "23505": return .uniqueViolation
        case "57P01", "57P02", "57P03": return .connectionLost
        case let state? where state.hasPrefix("08"): return .connectionLost
        default: return defaultCode
        }
    }

    private static func trimmed(_ cString: UnsafePointer<CChar>?) -> String {
        guard let cString else { return "" }
        return String(cString: cString).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Quotes an identifier (table, database, savepoint name) for the rare SQL that cannot take it as
    /// a parameter, e.g. `CREATE DATABASE`.
    public static func quoteIdentifier(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// Calls `body` with a NULL-terminated array of C strings that live for the duration of the call.
private func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    let pointers = copies.map { UnsafePointer($0) } + [nil]
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
