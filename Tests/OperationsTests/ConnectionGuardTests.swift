import Foundation
import Hummingbird
import HummingbirdTesting
import Operations
import Testing

/// The connection guard on a live server and raw sockets: the limit answers 503 + Retry-After,
/// half-sent requests and idle connections are closed by their timeouts, a slow handler is not, and
/// an over-long request line gets the JSON 414.
@Suite("Connection guard", .serialized)
struct ConnectionGuardTests {
    static func app(_ settings: ConnectionSettings) -> some ApplicationProtocol {
        let router = Router()
        router.get("/health") { _, _ in "ok" }
        router.post("/echo") { request, _ -> String in
            let body = try await request.body.collect(upTo: 1 << 20)
            return String(buffer: body)
        }
        router.get("/big") { _, _ -> ByteBuffer in
            ByteBuffer(repeating: UInt8(ascii: "b"), count: ConnectionGuardTests.bigResponseBytes)
        }
        router.get("/slow") { _, _ -> String in
            try await Task.sleep(for: .milliseconds(800))
            return "done"
        }
        return Application(router: router, server: .guardedHTTP1(ConnectionGuard(settings: settings)))
    }

    @Test func connectionsOverTheLimitGet503WithRetryAfter() async throws {
        // The test client's own connection is one of the three.
        let settings = ConnectionSettings(maxConnections: 3, idleTimeout: .seconds(30), requestReadTimeout: .seconds(30))
        try await Self.app(settings).test(.live) { client in
            try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
            let port = try #require(client.port)
            var held: [RawConnection] = []
            for _ in 0..<2 {
                let connection = try RawConnection(port: port)
                let answer = connection.request("GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
                #expect(answer.hasPrefix("HTTP/1.1 200"))
                held.append(connection)
            }
            let refused = try RawConnection(port: port)
            let asked = ContinuousClock.now
            let answer = refused.readUntilClosed(seconds: 5)
            // The server shuts its side once the answer is written, not after the 2 s linger.
            #expect(ContinuousClock.now - asked < .milliseconds(1500))
            #expect(answer.text.hasPrefix("HTTP/1.1 503"))
            #expect(answer.text.lowercased().contains("\r\nretry-after: 1\r\n"))
            #expect(answer.text.contains(#""code":"too_many_connections""#))
            #expect(answer.closed)  // half-closed by the server once its answer is written

            // A slot frees up when a served connection closes (the refused one, still open on this
            // side, does not hold one).
            held.removeLast().close()
            var served = false
            for _ in 0..<20 where !served {
                let retry = try RawConnection(port: port)
                served = retry.request("GET /health HTTP/1.1\r\nHost: t\r\n\r\n").hasPrefix("HTTP/1.1 200")
                if !served { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(served)
        }
    }

    @Test(arguments: [
        ("half a head", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"),
        ("half a body", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc"),
    ])
    func halfSentRequestsAreClosedWithinTheReadTimeout(_ name: String, _ bytes: String) async throws {
        let settings = ConnectionSettings(idleTimeout: .seconds(30), requestReadTimeout: .milliseconds(500))
        try await Self.app(settings).test(.live) { client in
            let connection = try RawConnection(port: try #require(client.port))
            let started = ContinuousClock.now
            connection.send(bytes)
            let answer = connection.readUntilClosed(seconds: 10)
            let elapsed = ContinuousClock.now - started
            #expect(answer.closed, "\(name)")
            #expect(elapsed >= .milliseconds(400), "\(name)")
            #expect(elapsed < .seconds(5), "\(name)")
        }
    }

    /// The read timer is one per connection, re-armed lazily: a request that starts while the timer
    /// of an earlier one is pending still gets its whole read timeout, counted from its own first byte.
    @Test func eachRequestOnAKeepAliveConnectionGetsItsOwnReadTimeout() async throws {
        let settings = ConnectionSettings(idleTimeout: .seconds(30), requestReadTimeout: .milliseconds(600))
        try await Self.app(settings).test(.live) { client in
            let connection = try RawConnection(port: try #require(client.port))
            #expect(connection.request("GET /health HTTP/1.1\r\nHost: t\r\n\r\n").hasPrefix("HTTP/1.1 200"))
            try await Task.sleep(for: .milliseconds(300))  // the first request's timer is still pending
            let started = ContinuousClock.now
            connection.send("POST /echo HTTP/1.1\r\nHost: t\r\n")
            #expect(connection.readUntilClosed(seconds: 10).closed)
            let elapsed = ContinuousClock.now - started
            #expect(elapsed >= .milliseconds(500))
            #expect(elapsed < .seconds(5))
        }
    }

    @Test func idleConnectionsAreClosedAfterTheIdleTimeout() async throws {
        let settings = ConnectionSettings(idleTimeout: .milliseconds(500), requestReadTimeout: .seconds(30))
        try await Self.app(settings).test(.live) { client in
            let connection = try RawConnection(port: try #require(client.port))
            let started = ContinuousClock.now
            #expect(connection.readUntilClosed(seconds: 10).closed)
            #expect(ContinuousClock.now - started < .seconds(5))
        }
    }

    /// The read timeout covers reading the request, not handling it: a handler slower than the
    /// timeout still answers, and the next request on the connection is read afresh.
    @Test func slowHandlersAreNotCutByTheReadTimeout() async throws {
        let settings = ConnectionSettings(idleTimeout: .seconds(30), requestReadTimeout: .milliseconds(300))
        try await Self.app(settings).test(.live) { client in
            let connection = try RawConnection(port: try #require(client.port))
            #expect(connection.request("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n").hasPrefix("HTTP/1.1 200"))
            #expect(connection.request("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi").hasPrefix("HTTP/1.1 200"))
        }
    }

    static let bigResponseBytes = 64 << 20

    /// A client that stops reading: once the socket's buffers are full the channel turns unwritable,
    /// and the connection is closed after the write timeout instead of holding 64 MiB for ever.
    @Test func clientsThatDoNotReadAreClosedAfterTheWriteTimeout() async throws {
        let settings = ConnectionSettings(idleTimeout: .seconds(30), requestReadTimeout: .seconds(30), writeTimeout: .milliseconds(300))
        try await Self.app(settings).test(.live) { client in
            let connection = try RawConnection(port: try #require(client.port))
            connection.send("GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
            // Not reading for well over the timeout is the point of the test, not a race on its outcome.
            try await Task.sleep(for: .seconds(2))
            let answer = connection.readUntilClosed(seconds: 20, keepBytes: false)
            #expect(answer.closed)
            #expect(answer.count < Self.bigResponseBytes)
        }
    }

    @Test func overLongRequestLineGets414JSON() async throws {
        let settings = ConnectionSettings(maxRequestLineBytes: 8_192)
        try await Self.app(settings).test(.live) { client in
            let port = try #require(client.port)
            let connection = try RawConnection(port: port)
            let name = String(repeating: "x", count: 100_000)
            connection.send("GET /metrics?event_name=\(name)&group_by=day HTTP/1.1\r\nHost: t\r\n\r\n")
            let answer = connection.readUntilClosed(seconds: 10)
            #expect(answer.text.hasPrefix("HTTP/1.1 414"))
            #expect(answer.text.contains("Content-Type: application/json"))
            #expect(answer.text.contains(#"{"error":{"code":"request_line_too_long","#))
            #expect(answer.text.contains(#""field":"url""#))
            // A line of exactly the limit (counted up to its line feed) is read as usual: here a 404.
            let line = "GET /h?q=" + String(repeating: "y", count: 8_192 - 19) + " HTTP/1.1\r\n"
            #expect(line.utf8.count == 8_192 + 1)
            let fits = try RawConnection(port: port)
            #expect(fits.request(line + "Host: t\r\n\r\n").hasPrefix("HTTP/1.1 404"))
        }
    }
}

/// A blocking TCP client on 127.0.0.1 that sends raw bytes and reads raw answers.
final class RawConnection {
    private var fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { Glibc.close(fd); throw POSIXError(.ECONNREFUSED) }
    }

    deinit { close() }

    func close() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
    }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count <= 0 { return }
            sent += count
        }
    }

    /// Sends a request and reads until one whole response (headers and Content-Length body) is in.
    func request(_ text: String, seconds: Double = 10) -> String {
        send(text)
        var received: [UInt8] = []
        let deadline = Date().addingTimeInterval(seconds)
        while case .data(let chunk) = receive(until: deadline) {
            received += chunk
            let answer = String(decoding: received, as: UTF8.self)
            if let end = answer.range(of: "\r\n\r\n") {
                let head = answer[..<end.lowerBound].lowercased()
                let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                if answer.utf8.count - answer[..<end.upperBound].utf8.count >= length { return answer }
            }
        }
        return String(decoding: received, as: UTF8.self)
    }

    /// Reads until the server closes (end of file or reset) or `seconds` pass; `count` is the bytes
    /// read, `text` them all unless `keepBytes` is false.
    func readUntilClosed(seconds: Double, keepBytes: Bool = true) -> (text: String, closed: Bool, count: Int) {
        var received: [UInt8] = []
        var count = 0
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            switch receive(until: deadline) {
            case .data(let chunk):
                count += chunk.count
                if keepBytes { received += chunk }
            case .closed: return (String(decoding: received, as: UTF8.self), true, count)
            case .timedOut: return (String(decoding: received, as: UTF8.self), false, count)
            }
        }
    }

    enum Received { case data([UInt8]), closed, timedOut }

    /// One poll and recv: bytes, the server's close (end of file or a reset), or the deadline.
    private func receive(until deadline: Date) -> Received {
        var pollfd = Glibc.pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(max(0, deadline.timeIntervalSinceNow * 1000))
        guard poll(&pollfd, 1, milliseconds) > 0 else { return .timedOut }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return count <= 0 ? .closed : .data(Array(buffer[0..<count]))
    }
}
