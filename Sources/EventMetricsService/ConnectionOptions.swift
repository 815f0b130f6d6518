import ArgumentParser
import Operations

/// Client connection limits and timeouts (README, "Configuration"; `ConnectionSettings`).
struct ConnectionOptions: ParsableArguments {
    @Option(name: .customLong("max-connections"), help: "Open client connections answered; beyond it a new one gets 503 + Retry-After. 0 derives it from the file-descriptor limit, keeping descriptors for the WAL, PostgreSQL and the admin listener (env MAX_CONNECTIONS).")
    var maxConnections: Int = Environment.int("MAX_CONNECTIONS", default: 0)

    @Option(name: .customLong("idle-timeout-seconds"), help: "Close a connection after this long without reading anything while no request is in progress (env IDLE_TIMEOUT_SECONDS).")
    var idleTimeoutSeconds: Double = Environment.double("IDLE_TIMEOUT_SECONDS", default: 30)

    @Option(name: .customLong("request-read-timeout-seconds"), help: "A request's head and body must arrive within this of its first byte, else the connection is closed (env REQUEST_READ_TIMEOUT_SECONDS).")
    var requestReadTimeoutSeconds: Double = Environment.double("REQUEST_READ_TIMEOUT_SECONDS", default: 15)

    @Option(name: .customLong("write-timeout-seconds"), help: "Close a connection whose client has not read its response for this long (env WRITE_TIMEOUT_SECONDS).")
    var writeTimeoutSeconds: Double = Environment.double("WRITE_TIMEOUT_SECONDS", default: 30)

    @Option(name: .customLong("max-request-line-bytes"), help: "Longest request line (method, path, query string) accepted, else 414 (env MAX_REQUEST_LINE_BYTES).")
    var maxRequestLineBytes: Int = Environment.int("MAX_REQUEST_LINE_BYTES", default: 8_192)

    func validate() throws {
        guard maxConnections >= 0 else { throw ValidationError("--max-connections must be 0 or more") }
        for (name, value) in [("idle-timeout", idleTimeoutSeconds), ("request-read-timeout", requestReadTimeoutSeconds), ("write-timeout", writeTimeoutSeconds)] {
            guard value > 0, value.isFinite else { throw ValidationError("--\(name)-seconds must be more than 0") }
        }
        guard maxRequestLineBytes >= 256 else { throw ValidationError("--max-request-line-bytes must be at least 256") }
    }

    /// The settings, with the connection limit from `DescriptorBudget` (which also logs it).
    func settings(maxConnections: Int, refusalReserve: Int) -> ConnectionSettings {
        ConnectionSettings(
            maxConnections: maxConnections,
            refusalReserve: refusalReserve,
            idleTimeout: .milliseconds(Int64(idleTimeoutSeconds * 1000)),
            requestReadTimeout: .milliseconds(Int64(requestReadTimeoutSeconds * 1000)),
            writeTimeout: .milliseconds(Int64(writeTimeoutSeconds * 1000)),
            maxRequestLineBytes: maxRequestLineBytes
        )
    }
}
