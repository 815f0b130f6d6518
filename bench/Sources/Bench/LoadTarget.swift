import Foundation

/// Where `bench load` sends its requests.
///
/// The old Go tool took a bare path (`-endpoint events`) and always hit the local service, so a path
/// means `http://127.0.0.1:8080/<path>`; a full URL (`http://10.0.0.5:9000/events`) or `host:port/path`
/// also works. The tool never talks to any other URL.
struct LoadTarget: Sendable, Equatable {
    static let defaultBase = "http://127.0.0.1:8080"

    let url: String

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
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
        else {
            throw LoadTargetError(endpoint: endpoint)
        }
        if bulk, components.path.hasSuffix("/events") || components.path == "events" {
            components.path += "/bulk"
        }
        if components.path.isEmpty { components.path = "/" }
        guard let resolved = components.string else { throw LoadTargetError(endpoint: endpoint) }
        url = resolved
    }
}

struct LoadTargetError: Error, CustomStringConvertible {
    let endpoint: String
    var description: String {
        "cannot make an http(s) URL of endpoint '\(endpoint)': give a path (events), host:port/path, or a full URL"
    }
}
