import Hummingbird
import NIOCore

/// The service's request context: Hummingbird's basic one plus the peer address, which the rate
/// limiter uses to tell clients apart when they send no API key.
public struct ServiceRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}
