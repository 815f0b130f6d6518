/// How long a client connection may take and how many there may be (README, "Configuration"):
/// the bounds that keep idle and slow connections from holding descriptors and memory for ever.
public struct ConnectionSettings: Sendable, Equatable {
    /// Open client connections answered normally; beyond this, a new connection gets a 503 with
    /// `Retry-After` and is closed. `serve` derives it from the descriptor limit (`DescriptorBudget`).
    public var maxConnections: Int
    /// Connections being refused (a 503 written, waiting up to ``refusalLinger`` for the client to
    /// read it) beyond `maxConnections`; past both, the listener stops accepting and new connections
    /// wait in the kernel's backlog, so a flood never costs more descriptors than this sum.
    public var refusalReserve: Int
    /// Nothing read for this long while no request is in progress (keep-alive idle, a connection that
    /// never sends): the connection is closed. Hummingbird's own `idleTimeout`.
    public var idleTimeout: Duration
    /// A request's head and body must be read in full within this, counted from its first byte
    /// (slowloris: headers or a body trickled in); else the connection is closed.
    public var requestReadTimeout: Duration
    /// A response the client does not read (the socket's send buffer stays full) for this long: the
    /// connection is closed.
    public var writeTimeout: Duration
    /// The longest request line (method, path, query string, version; counted up to its line feed)
    /// accepted; a longer one gets 414
    /// with the JSON error. Far below the HTTP decoder's own 80 KiB limit, which answers an empty 400.
    public var maxRequestLineBytes: Int
    /// How long a refused or rejected connection stays half-open so the client reads the error
    /// before the close (a close with unread input sends a reset, which can destroy the answer).
    public var refusalLinger: Duration

    public init(
        maxConnections: Int = 1_000,
        refusalReserve: Int = 64,
        idleTimeout: Duration = .seconds(30),
        requestReadTimeout: Duration = .seconds(15),
        writeTimeout: Duration = .seconds(30),
        maxRequestLineBytes: Int = 8_192,
        refusalLinger: Duration = .seconds(2)
    ) {
        self.maxConnections = maxConnections
        self.refusalReserve = refusalReserve
        self.idleTimeout = idleTimeout
        self.requestReadTimeout = requestReadTimeout
        self.writeTimeout = writeTimeout
        self.maxRequestLineBytes = maxRequestLineBytes
        self.refusalLinger = refusalLinger
    }
}
