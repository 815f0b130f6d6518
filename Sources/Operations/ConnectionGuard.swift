import HummingbirdCore
import Logging
import Metrics
import NIOCore
import Synchronization

/// Counts the service's open client connections and sets up each new one: within the limit, the
/// HTTP/1 pipeline with ``ConnectionGuardHandler`` in front (timeouts, request-line limit); beyond
/// it, a 503 with `Retry-After` and a close. One per listener, shared by all its connections.
public final class ConnectionGuard: Sendable {
    public let settings: ConnectionSettings
    /// Connections open, refused ones included until they close.
    private let open = Atomic<Int>(0)
    /// Connections being served: what `maxConnections` limits (a refused one lingering for its
    /// client to read the 503 does not keep a served one out).
    private let served = Atomic<Int>(0)
    let refused = Counter(label: "http_connections_refused_total", dimensions: [("reason", "limit")])
    let readTimeouts = Counter(label: "http_connections_timed_out_total", dimensions: [("phase", "read")])
    let writeTimeouts = Counter(label: "http_connections_timed_out_total", dimensions: [("phase", "write")])
    let longRequestLines = Counter(label: "http_requests_rejected_total", dimensions: [("reason", "request_line_too_long")])

    public init(settings: ConnectionSettings) {
        self.settings = settings
    }

    /// Client connections open now (refused ones included until they close).
    public var openConnections: Int { open.load(ordering: .relaxed) }

    /// The listener's backstop: past `maxConnections + refusalReserve` it stops accepting.
    public var availableConnectionsDelegate: MaximumAvailableConnections {
        MaximumAvailableConnections(settings.maxConnections + settings.refusalReserve)
    }

    /// Called on the new channel's event loop. Returns whether the connection is over the limit.
    func connectionOpened(_ channel: any Channel) -> Bool {
        open.add(1, ordering: .relaxed)
        let overLimit = served.add(1, ordering: .relaxed).newValue > settings.maxConnections
        if overLimit { served.subtract(1, ordering: .relaxed) }
        channel.closeFuture.whenComplete { [self] _ in
            open.subtract(1, ordering: .relaxed)
            if !overLimit { served.subtract(1, ordering: .relaxed) }
        }
        return overLimit
    }
}

/// `HTTP1Channel` with a ``ConnectionGuardHandler`` at the head of each connection's pipeline and a
/// ``RequestEndHandler`` after the HTTP decoder telling it where each request ends. Requests are
/// then handled exactly as `HTTP1Channel` handles them.
public struct GuardedHTTP1Channel: ServerChildChannel {
    public typealias Value = HTTP1Channel.Value

    let responder: HTTPChannelHandler.Responder
    let configuration: HTTP1Channel.Configuration
    let connectionGuard: ConnectionGuard

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let overLimit = connectionGuard.connectionOpened(channel)
        let head = ConnectionGuardHandler(connectionGuard: connectionGuard, refuse: overLimit)
        // Built per connection, on its event loop, so the two handlers can share state without locks.
        let end = NIOLoopBound(RequestEndHandler(head: head), eventLoop: channel.eventLoop)
        var configuration = configuration
        configuration.additionalChannelHandlers = { [end.value] }
        do {
            try channel.pipeline.syncOperations.addHandler(head, position: .first)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return HTTP1Channel(responder: responder, configuration: configuration).setup(channel: channel, logger: logger)
    }

    public func handle(value: Value, logger: Logger) async {
        await HTTP1Channel(responder: responder, configuration: configuration).handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1 with the connection limit and timeouts of `connectionGuard.settings`.
    public static func guardedHTTP1(_ connectionGuard: ConnectionGuard) -> HTTPServerBuilder {
        let settings = connectionGuard.settings
        let configuration = HTTP1Channel.Configuration(idleTimeout: TimeAmount(settings.idleTimeout))
        return HTTPServerBuilder { responder in
            GuardedHTTP1Channel(responder: responder, configuration: configuration, connectionGuard: connectionGuard)
        }
    }
}
