#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import ServiceLifecycle

/// Runs one HTTP listener (the API, the admin scrape) and, when it cannot listen, says which one, on
/// which address, and what to do: NIO's own error reads only `bind(descriptor:ptr:bytes:): Address
/// already in use (errno: 98)`, with no port, after the other listener has already started.
struct ListenerService<Listener: Service>: Service {
    /// "API" or "admin".
    let name: String
    let host: String
    let port: Int
    /// The option and variable that set the port, for the advice.
    let portSetting: String
    let listener: Listener

    func run() async throws {
        do {
            try await listener.run()
        } catch let error as IOError where [EADDRINUSE, EACCES, EADDRNOTAVAIL].contains(error.errnoCode) {
            throw ListenerStartError(description: advice(errno: error.errnoCode))
        }
    }

    /// What went wrong and what to do, in words an operator can act on.
    func advice(errno: CInt) -> String {
        let address = "\(host):\(port)"
        switch errno {
        case EADDRINUSE:
            return "the \(name) listener cannot listen on \(address): another process is using port \(port)"
                + " (see `ss -ltnp 'sport = :\(port)'`). Stop it, or choose another port with \(portSetting)."
        case EACCES:
            return "the \(name) listener may not listen on \(address): ports below 1024 need privileges."
                + " Choose another port with \(portSetting)."
        default:
            return "the \(name) listener cannot listen on \(address): \(host) is not an address of this machine."
                + " Choose another address with --host (env HOST)."
        }
    }
}

/// Why a listener could not start (``ListenerService/advice(errno:)``).
struct ListenerStartError: Error, CustomStringConvertible {
    var description: String
}
