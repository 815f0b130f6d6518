import Hummingbird
import NIOCore

/// The service's request context: Hummingbird's basic one plus the peer address, which the rate
/// limiter uses to tell clients apart when they send no API key.
public struct ServiceRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Kept so the peer address is read only when asked for: reading it takes the channel's lock,
    /// ~1 µs on every request although only the rate limiter (when on, without keys) needs it. A
    /// client that has already closed its connection reads `nil`, and the limiter then counts it
    /// in the one shared "unknown" bucket (stricter, never looser).
    private let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    public var remoteAddress: SocketAddress? { channel.remoteAddress }
}
