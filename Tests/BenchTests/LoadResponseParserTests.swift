import NIOCore
import Testing

@testable import Bench

/// `bench load`'s HTTP/1.1 response parser, fed as the connection feeds it: each read appended to the
/// bytes the previous one left unconsumed. Every stream is also parsed split at every byte, and one
/// byte at a time, because the kernel may cut a response anywhere.
@Suite("LoadResponseParser")
struct LoadResponseParserTests {
    /// What a test compares: the fields the load client acts on, and the body as text.
    struct Seen: Equatable, CustomStringConvertible {
        var status: Int
        var retryAfter: Int?
        var closes: Bool
        var body: String?

        init(_ status: Int, retryAfter: Int? = nil, closes: Bool = false, body: String? = nil) {
            self.status = status
            self.retryAfter = retryAfter
            self.closes = closes
            self.body = body
        }

        init(_ response: LoadResponse) {
            self.init(
                response.status, retryAfter: response.retryAfter, closes: response.closesConnection,
                body: response.body.map { String(buffer: $0) })
        }

        var description: String { "\(status) retry \(retryAfter.map(String.init) ?? "-") closes \(closes) body \(body ?? "nil")" }
    }

    /// Feeds `reads` in order, keeping the unconsumed rest as `LoadConnection` does, then reports the
    /// connection closed when `close` is set.
    static func parse(_ reads: [[UInt8]], keepsBodies: Bool = false, close: Bool = false) throws -> [Seen] {
        var parser = LoadResponseParser(keepsBodies: keepsBodies)
        var carry = ByteBuffer()
        var seen: [Seen] = []
        for read in reads {
            carry.writeBytes(read)
            while let response = try parser.next(from: &carry) { seen.append(Seen(response)) }
            carry.discardReadBytes()
        }
        if close, let response = parser.connectionClosed() { seen.append(Seen(response)) }
        return seen
    }

    /// The stream whole, split in two at every offset, and byte by byte: all must read the same.
    static func parseEverySplit(_ text: String, keepsBodies: Bool = false, close: Bool = false) throws -> [Seen] {
        let bytes = Array(text.utf8)
        let whole = try parse([bytes], keepsBodies: keepsBodies, close: close)
        for cut in 1..<bytes.count {
            let split = try parse([Array(bytes[..<cut]), Array(bytes[cut...])], keepsBodies: keepsBodies, close: close)
            #expect(split == whole, "cut at byte \(cut)")
        }
        #expect(try parse(bytes.map { [$0] }, keepsBodies: keepsBodies, close: close) == whole, "byte by byte")
        return whole
    }

    static let accepted = "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nDate: Thu, 03 Dec 2026 07:00:00 GMT\r\n\r\n"

    @Test("a Content-Length response, its body skipped or kept")
    func contentLength() throws {
        let text = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"success\":true}"
        #expect(try Self.parseEverySplit(text) == [Seen(200)])
        #expect(try Self.parseEverySplit(text, keepsBodies: true) == [Seen(200, body: #"{"success":true}"#)])
    }

    @Test("a chunked body with extensions and trailers, split anywhere")
    func chunked() throws {
        let text = "HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5;name=value\r\nhello\r\nA\r\n, 10 bytes\r\n0\r\nX-Trailer: yes\r\n\r\n"
        #expect(try Self.parseEverySplit(text, keepsBodies: true) == [Seen(202, body: "hello, 10 bytes")])
        #expect(try Self.parseEverySplit(text) == [Seen(202)])
    }

    @Test("pipelined responses in one read come out in order, bodies kept apart")
    func pipelined() throws {
        let text = Self.accepted
            + "HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc"
            + "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Length: 2\r\n\r\n{}"
            + "HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
            + "HTTP/1.1 204 No Content\r\n\r\n"
            + Self.accepted
        #expect(
            try Self.parseEverySplit(text, keepsBodies: true) == [
                Seen(202, body: ""), Seen(200, body: "abc"), Seen(503, retryAfter: 7, body: "{}"), Seen(202, body: "ok"),
                Seen(204, body: ""), Seen(202, body: ""),
            ])
    }

    @Test("1xx answers are skipped; header names and values are case-insensitive")
    func informationalAndCase() throws {
        let text = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nCONTENT-LENGTH:  2 \r\nconnection: Keep-Alive, CLOSE\r\n\r\nok"
        #expect(try Self.parseEverySplit(text, keepsBodies: true) == [Seen(202, closes: true, body: "ok")])
    }

    @Test("HTTP/1.0 closes unless it says keep-alive; a body without length runs until close")
    func closing() throws {
        #expect(try Self.parseEverySplit("HTTP/1.0 202 Accepted\r\nContent-Length: 0\r\n\r\n") == [Seen(202, closes: true)])
        #expect(
            try Self.parseEverySplit("HTTP/1.0 202 Accepted\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n") == [Seen(202)])
        let untilClose = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of this"
        #expect(try Self.parse([Array(untilClose.utf8)], keepsBodies: true).isEmpty, "not complete before the close")
        #expect(try Self.parseEverySplit(untilClose, keepsBodies: true, close: true) == [Seen(200, closes: true, body: "all of this")])
    }

    @Test("a bare LF ends lines too; a Retry-After date is no number")
    func lenientLines() throws {
        let text = "HTTP/1.1 503 Service Unavailable\nRetry-After: Fri, 31 Dec 1999 23:59:59 GMT\nContent-Length: 1\n\r\nx"
        // The head ends at CRLF CRLF only, so a head of bare LFs needs one CRLF CRLF somewhere: this one
        // has none, and the parser waits for more.
        #expect(try Self.parse([Array(text.utf8)]).isEmpty)
        let crlfEnd = "HTTP/1.1 503 Service Unavailable\nRetry-After: Fri, 31 Dec 1999 23:59:59 GMT\r\nContent-Length: 1\r\n\r\nx"
        #expect(try Self.parseEverySplit(crlfEnd) == [Seen(503)])
    }

    @Test(
        "malformed responses are errors, not guesses",
        arguments: [
            "HTTP/2 200 OK\r\n\r\n",
            "HTTP/1.1 20 OK\r\n\r\n",
            "HTTP/1.1 2x0 OK\r\n\r\n",
            "ICY 200 OK\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 12ab\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 1234567890123456789\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1234567890abc\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
        ])
    func malformed(text: String) {
        #expect(throws: LoadResponseParser.Malformed.self) { try Self.parse([Array(text.utf8)], keepsBodies: true) }
    }

    @Test("a head or chunk line that never ends is refused once over its bound")
    func unboundedLines() {
        let head = "HTTP/1.1 200 OK\r\nX-Filler: " + String(repeating: "a", count: LoadResponseParser.maxHeadBytes)
        #expect(throws: LoadResponseParser.Malformed.self) { try Self.parse([Array(head.utf8)]) }
        let chunk = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1" + String(repeating: ";", count: 5000)
        #expect(throws: LoadResponseParser.Malformed.self) { try Self.parse([Array(chunk.utf8)]) }
    }

    @Test("reset forgets a partial response")
    func resetForgets() throws {
        var parser = LoadResponseParser(keepsBodies: true)
        var input = ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        #expect(try parser.next(from: &input) == nil)
        parser.reset()
        var next = ByteBuffer(string: Self.accepted)
        #expect(try parser.next(from: &next).map(Seen.init) == Seen(202, body: ""))
        #expect(parser.connectionClosed() == nil)
    }
}
