import Foundation

/// Where `bench load` sends its requests.
///
/// The old Go tool took a bare path (`-endpoint events`) and always hit the local service, so a path
/// means `http://127.0.0.1:8080/<path>`; a full URL (`http://10.0.0.5:9000/events`) or `host:port/path`
/// also works. The tool never talks to any other URL. Plain HTTP only: the lean client has no TLS
/// (put a terminating proxy in front to measure HTTPS).
struct LoadTarget: Sendable, Equatable {
    static let defaultBase = "http://127.0.0.1:8080"

    let url: String
    let host: String
    let port: Int
    /// The request line's target: path and query, percent-encoded as given.
    let requestTarget: String
    /// The Host header's value: host, and the port unless it is 80.
    let hostHeader: String

    /// Resolves `endpoint`; with `bulk`, a path ending in `/events` becomes `/events/bulk`, so
    /// `-endpoint events --batch 500` does what its user means. Any other path is used as given.
    init(endpoint: String, bulk: Bool) throws {
        let trimmed = endpoint.trimmingCharacters(in: .whitespaces)
        var text: String
        if trimmed.contains("://") {
            text = trimmed
        } else if let first = trimmed.split(separator: "/").first, first.contains(":") {
            text = "http://" + trimmed  // host:port/path
        } else {
            text = Self.defaultBase + "/" + trimmed.drop(while: { $0 == "/" })
        }
        guard var components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            scheme == "http", let host = components.host, !host.isEmpty
        else {
            throw LoadTargetError(endpoint: endpoint)
        }
        let port = components.port ?? 80
        guard (1...65_535).contains(port) else { throw LoadTargetError(endpoint: endpoint) }
        if bulk, components.path.hasSuffix("/events") || components.path == "events" {
            components.path += "/bulk"
        }
        if components.path.isEmpty { components.path = "/" }
        guard let resolved = components.string else { throw LoadTargetError(endpoint: endpoint) }
        url = resolved
        // An IPv6 literal connects without its brackets and keeps them in the Host header (RFC 9110 §7.2).
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        self.port = port
        requestTarget = components.percentEncodedPath + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
        let hostText = self.host.contains(":") ? "[\(self.host)]" : self.host
        hostHeader = port == 80 ? hostText : "\(hostText):\(port)"
    }
}

struct LoadTargetError: Error, CustomStringConvertible {
    let endpoint: String
    var description: String {
        "cannot make an http URL of endpoint '\(endpoint)': give a path (events), host:port/path, or a full http:// URL (no https: the load client speaks plain HTTP/1.1)"
    }
}
