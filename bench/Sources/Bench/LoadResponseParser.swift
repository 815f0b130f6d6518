import NIOCore

/// What `bench load` needs from one HTTP/1.1 response.
struct LoadResponse {
    var status: Int
    /// `Retry-After` in whole seconds, when the server gave a number.
    var retryAfter: Int?
    /// The server closes the connection after this response (`Connection: close`, or HTTP/1.0
    /// without keep-alive): nothing more may be sent on it.
    var closesConnection: Bool
    /// The body, when the parser keeps bodies (bulk answers, which list refused events); else nil.
    var body: ByteBuffer?
}

/// A minimal HTTP/1.1 response parser: status, the four headers the load client acts on, and the
/// framing (Content-Length, chunked, or until close). It reads straight from the channel's buffers
/// and allocates nothing for a bodiless or skipped body, so a response costs the load generator a
/// scan of ~150 bytes; NIOHTTP1's decoder would build an `HTTPResponseHead` with a header array per
/// response, which at wrk-class rates is a measurable share of the client's CPU.
///
/// A pure state machine, fed by the connection: ``next(from:)`` consumes what it can and returns a
/// complete response, or nil when it needs more bytes. It consumes a head or a chunk-size line only
/// when all of it is there; the caller keeps the unconsumed rest and prepends it to the next read.
struct LoadResponseParser {
    struct Malformed: Error, CustomStringConvertible {
        var description: String
    }

    private enum State {
        case head
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        /// The CRLF after a chunk's data.
        case chunkDataEnd
        /// Trailer lines after the last chunk, up to an empty line.
        case trailers
        case untilClose
    }

    /// Longest head accepted; a server sending more is not one this tool measures.
    static let maxHeadBytes = 64 << 10

    /// Keep response bodies (bulk answers); otherwise they are skipped without a copy.
    let keepsBodies: Bool
    private var state = State.head
    /// The head of the response whose body is being read.
    private var current = LoadResponse(status: 0, retryAfter: nil, closesConnection: false)

    init(keepsBodies: Bool) {
        self.keepsBodies = keepsBodies
    }

    /// Forgets any partial response (the connection closed or is being replaced).
    mutating func reset() {
        state = .head
        current = LoadResponse(status: 0, retryAfter: nil, closesConnection: false)
    }

    /// The connection closed: a response whose body runs until close is complete now.
    mutating func connectionClosed() -> LoadResponse? {
        guard case .untilClose = state else { return nil }
        let response = current
        reset()
        return response
    }

    /// Consumes bytes from `input` and returns the next complete response, or nil when more bytes
    /// are needed (the unconsumed bytes, if any, are an incomplete line the caller must keep).
    mutating func next(from input: inout ByteBuffer) throws -> LoadResponse? {
        while true {
            switch state {
            case .head:
                guard let head = try Self.parseHead(&input) else { return nil }
                // 1xx answers precede the real one; we never send Expect, but a server may still.
                if (100..<200).contains(head.response.status) { continue }
                current = head.response
                current.body = keepsBodies ? ByteBuffer() : nil
                if head.response.status == 204 || head.response.status == 304 {
                    return finish()
                } else if head.chunked {
                    state = .chunkSize
                } else if let length = head.contentLength {
                    if length == 0 { return finish() }
                    state = .fixedBody(remaining: length)
                } else {
                    state = .untilClose
                    current.closesConnection = true
                }
            case .fixedBody(let remaining):
                let taken = take(&input, upTo: remaining)
                if taken == remaining { return finish() }
                state = .fixedBody(remaining: remaining - taken)
                return nil
            case .chunkSize:
                guard let line = try Self.line(&input) else { return nil }
                // Hex digits, then optional `;extensions`.
                var size = 0
                var digits = 0
                for byte in line {
                    guard let value = Self.hexValue(byte) else { break }
                    size = size &* 16 &+ value
                    digits += 1
                    guard digits <= 12 else { throw Malformed(description: "chunk size too large") }
                }
                guard digits > 0 else { throw Malformed(description: "bad chunk size line") }
                state = size == 0 ? .trailers : .chunkData(remaining: size)
            case .chunkData(let remaining):
                let taken = take(&input, upTo: remaining)
                if taken < remaining {
                    state = .chunkData(remaining: remaining - taken)
                    return nil
                }
                state = .chunkDataEnd
            case .chunkDataEnd:
                guard let line = try Self.line(&input) else { return nil }
                guard line.isEmpty else { throw Malformed(description: "chunk data longer than its size") }
                state = .chunkSize
            case .trailers:
                guard let line = try Self.line(&input) else { return nil }
                if line.isEmpty { return finish() }
            case .untilClose:
                _ = take(&input, upTo: input.readableBytes)
                return nil
            }
        }
    }

    private mutating func finish() -> LoadResponse {
        let response = current
        reset()
        return response
    }

    /// Moves up to `limit` body bytes out of `input` (into the kept body, if bodies are kept).
    private mutating func take(_ input: inout ByteBuffer, upTo limit: Int) -> Int {
        let count = min(limit, input.readableBytes)
        if keepsBodies, var slice = input.readSlice(length: count) {
            current.body!.writeBuffer(&slice)
        } else {
            input.moveReaderIndex(forwardBy: count)
        }
        return count
    }

    private struct Head {
        var response: LoadResponse
        var contentLength: Int?
        var chunked = false
    }

    /// Parses a whole head (status line, headers, empty line) if `input` holds all of it.
    private static func parseHead(_ input: inout ByteBuffer) throws -> Head? {
        let parsed = try input.withUnsafeReadableBytes { bytes -> (Head, Int)? in
            guard let end = headEnd(bytes) else {
                if bytes.count > maxHeadBytes { throw Malformed(description: "response head over \(maxHeadBytes) bytes") }
                return nil
            }
            return (try parseHead(UnsafeRawBufferPointer(rebasing: bytes[..<end])), end + 4)
        }
        guard let (head, consumed) = parsed else { return nil }
        input.moveReaderIndex(forwardBy: consumed)
        return head
    }

    /// Offset of the CRLF CRLF that ends the head.
    private static func headEnd(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= 4 else { return nil }
        var index = 0
        while index <= bytes.count - 4 {
            if bytes[index] == 13, bytes[index + 1] == 10, bytes[index + 2] == 13, bytes[index + 3] == 10 { return index }
            index += 1
        }
        return nil
    }

    /// `HTTP/1.1 202 Accepted` and the header lines, without the final CRLF CRLF.
    private static func parseHead(_ head: UnsafeRawBufferPointer) throws -> Head {
        var lines = LineIterator(bytes: head)
        guard let statusLine = lines.next(), statusLine.count >= 12,
            statusLine.starts(with: "HTTP/1.".utf8), statusLine[statusLine.startIndex + 8] == 32
        else { throw Malformed(description: "bad status line") }
        let base = statusLine.startIndex
        let http10 = statusLine[base + 7] == UInt8(ascii: "0")
        var status = 0
        for offset in 9..<12 {
            let digit = Int(statusLine[base + offset]) - 48
            guard (0...9).contains(digit) else { throw Malformed(description: "bad status code") }
            status = status * 10 + digit
        }
        var result = Head(response: LoadResponse(status: status, retryAfter: nil, closesConnection: http10))
        while let line = lines.next() {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw Malformed(description: "header line without a colon") }
            let name = line[..<colon]
            let value = trimSpaces(line[(colon + 1)...])
            if equalsLowercase(name, "content-length") {
                guard let length = decimal(value) else { throw Malformed(description: "bad Content-Length") }
                result.contentLength = length
            } else if equalsLowercase(name, "transfer-encoding") {
                result.chunked = containsLowercase(value, "chunked")
            } else if equalsLowercase(name, "connection") {
                if containsLowercase(value, "close") { result.response.closesConnection = true }
                if http10, containsLowercase(value, "keep-alive") { result.response.closesConnection = false }
            } else if equalsLowercase(name, "retry-after") {
                result.response.retryAfter = decimal(value)
            }
        }
        return result
    }

    /// The lines of a head, each without its CRLF (a bare LF is accepted too); no allocation.
    private struct LineIterator {
        let bytes: UnsafeRawBufferPointer
        var position = 0

        mutating func next() -> Slice<UnsafeRawBufferPointer>? {
            guard position < bytes.count else { return nil }
            var end = position
            while end < bytes.count, bytes[end] != 10 { end += 1 }
            var line = bytes[position..<end]
            position = end + 1
            if line.last == 13 { line = line.dropLast() }
            return line
        }
    }

    /// One CRLF-terminated line (without it), consumed from `input`; nil if the line is incomplete.
    private static func line(_ input: inout ByteBuffer) throws -> [UInt8]? {
        guard let newline = input.readableBytesView.firstIndex(of: 10) else {
            if input.readableBytes > 4096 { throw Malformed(description: "chunk line over 4096 bytes") }
            return nil
        }
        let length = newline - input.readerIndex
        var line = input.readBytes(length: length)!
        input.moveReaderIndex(forwardBy: 1)
        if line.last == 13 { line.removeLast() }
        return line
    }

    private static func trimSpaces(_ value: Slice<UnsafeRawBufferPointer>) -> Slice<UnsafeRawBufferPointer> {
        var value = value
        while let first = value.first, first == 32 || first == 9 { value = value.dropFirst() }
        while let last = value.last, last == 32 || last == 9 { value = value.dropLast() }
        return value
    }

    /// ASCII case-insensitive equality with a lowercase literal.
    private static func equalsLowercase(_ bytes: Slice<UnsafeRawBufferPointer>, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        return lowercase.withUTF8Buffer { expected in
            zip(bytes, expected).allSatisfy { pair in pair.0 == pair.1 || pair.0 | 0x20 == pair.1 }
        }
    }

    /// Whether a comma-separated header value lists `token` (ASCII case-insensitive).
    private static func containsLowercase(_ bytes: Slice<UnsafeRawBufferPointer>, _ token: StaticString) -> Bool {
        var rest = bytes
        while !rest.isEmpty {
            let comma = rest.firstIndex(of: UInt8(ascii: ",")) ?? rest.endIndex
            if equalsLowercase(trimSpaces(rest[..<comma]), token) { return true }
            rest = comma < rest.endIndex ? rest[(comma + 1)...] : rest[rest.endIndex...]
        }
        return false
    }

    private static func decimal(_ bytes: Slice<UnsafeRawBufferPointer>) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 18 else { return nil }
        var value = 0
        for byte in bytes {
            guard (48...57).contains(byte) else { return nil }
            value = value * 10 + Int(byte - 48)
        }
        return value
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case 48...57: Int(byte - 48)
        case 97...102: Int(byte - 87)
        case 65...70: Int(byte - 55)
        default: nil
        }
    }
}
