import APISupport
import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// The first handler of every client connection, on raw bytes before the HTTP decoder:
///
/// - a connection over the limit gets a canned 503 with `Retry-After` and is closed;
/// - a request must be read in full within `requestReadTimeout` of its first byte (headers and body
///   trickled in, slowloris), else the connection is closed; ``RequestEndHandler`` says where it ends;
/// - a request line longer than `maxRequestLineBytes` gets 414 with the JSON error (the decoder's own
///   limit is 80 KiB and answers an empty 400);
/// - a response the client does not read for `writeTimeout` (the channel stays unwritable) closes it.
///
/// Confined to its channel's event loop, like every channel handler.
final class ConnectionGuardHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let connectionGuard: ConnectionGuard
    private var settings: ConnectionSettings { connectionGuard.settings }
    private let refuse: Bool
    private var context: ChannelHandlerContext?
    /// When the request being read got its first byte; nil between requests.
    private var readStarted: NIODeadline?
    /// At most one per connection, re-armed lazily when it fires (as Hummingbird's idle timer is):
    /// a request costs a clock read, not a timer scheduled and cancelled.
    private var readTimer: Scheduled<Void>?
    /// Bytes of the current request line seen so far; nil once its line feed has been seen.
    private var requestLineBytes: Int? = 0
    private var writeDeadline: Scheduled<Void>?
    /// Set once a canned error was written: input is discarded until the close.
    private var rejected = false

    init(connectionGuard: ConnectionGuard, refuse: Bool) {
        self.connectionGuard = connectionGuard
        self.refuse = refuse
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if refuse && context.channel.isActive { refuseConnection(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimers()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        if refuse && !rejected { refuseConnection(context) }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimers()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if rejected { return }
        let bytes = unwrapInboundIn(data)
        if readStarted == nil {
            let now = NIODeadline.now()
            readStarted = now
            requestLineBytes = 0
            if readTimer == nil { armReadTimer(context, at: now + TimeAmount(settings.requestReadTimeout)) }
        }
        if let seen = requestLineBytes {
            let lineFeed = bytes.readableBytesView.firstIndex(of: UInt8(ascii: "\n"))
            let length = seen + (lineFeed.map { $0 - bytes.readerIndex } ?? bytes.readableBytes)
            if length > settings.maxRequestLineBytes {
                connectionGuard.longRequestLines.increment()
                reject(context, APIError(
                    status: .uriTooLong, code: "request_line_too_long",
                    message: "The request line (method, path and query string) is longer than \(settings.maxRequestLineBytes) bytes.",
                    field: "url"))
                return
            }
            requestLineBytes = lineFeed == nil ? length : nil
        }
        context.fireChannelRead(data)
    }

    /// The decoder has read a request's end: it is no longer being read.
    func requestEnded() {
        readStarted = nil
    }

    /// Closes the connection at `deadline` if the request that started it is still being read; a
    /// later request gets the timer re-armed for its own deadline.
    private func armReadTimer(_ context: ChannelHandlerContext, at deadline: NIODeadline) {
        readTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            readTimer = nil
            guard let started = readStarted, let context = self.context else { return }
            let due = started + TimeAmount(settings.requestReadTimeout)
            if NIODeadline.now() >= due {
                connectionGuard.readTimeouts.increment()
                context.close(promise: nil)
            } else {
                armReadTimer(context, at: due)
            }
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            writeDeadline?.cancel()
            writeDeadline = nil
        } else if writeDeadline == nil {
            writeDeadline = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(settings.writeTimeout)) { [self] in
                writeDeadline = nil
                connectionGuard.writeTimeouts.increment()
                self.context?.close(promise: nil)
            }
        }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The client closed its side after reading our error: nothing more to wait for.
        if rejected, let event = event as? ChannelEvent, event == .inputClosed {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func refuseConnection(_ context: ChannelHandlerContext) {
        connectionGuard.refused.increment()
        reject(context, APIError.unavailable(
            "too_many_connections", "The server has too many open connections; retry shortly.", retryAfterSeconds: 1))
    }

    /// Writes `error` as a complete HTTP/1.1 response straight to the socket, shuts the sending side,
    /// discards what the client still sends, and closes when it closes or after `refusalLinger`.
    private func reject(_ context: ChannelHandlerContext, _ error: APIError) {
        rejected = true
        cancelTimers()
        let body = error.jsonBody()
        var head = "HTTP/1.1 \(error.status.code) \(error.status.reasonPhrase)\r\n"
        head += "Content-Type: application/json; charset=utf-8\r\nContent-Length: \(body.count)\r\nConnection: close\r\n"
        if let seconds = error.retryAfterSeconds { head += "Retry-After: \(seconds)\r\n" }
        head += "\r\n"
        var buffer = context.channel.allocator.buffer(capacity: head.utf8.count + body.count)
        buffer.writeString(head)
        buffer.writeBytes(body)
        let loop = context.eventLoop.assumeIsolated()
        context.writeAndFlush(NIOAny(buffer)).assumeIsolated().whenComplete { [self] _ in
            self.context?.close(mode: .output, promise: nil)
        }
        _ = loop.scheduleTask(in: TimeAmount(settings.refusalLinger)) { [self] in
            self.context?.close(promise: nil)
        }
    }

    private func cancelTimers() {
        readTimer?.cancel()
        readTimer = nil
        writeDeadline?.cancel()
        writeDeadline = nil
    }
}

/// After the HTTP decoder: tells the ``ConnectionGuardHandler`` when a request has been read to its
/// end, which the bytes alone do not say (a body's length is in its headers or its chunks).
final class RequestEndHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart

    private let head: ConnectionGuardHandler

    init(head: ConnectionGuardHandler) {
        self.head = head
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = unwrapInboundIn(data) { head.requestEnded() }
        context.fireChannelRead(data)
    }
}
