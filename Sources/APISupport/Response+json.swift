import Hummingbird

extension Response {
    /// A JSON answer with the Content-Type every JSON route uses.
    public static func json(status: HTTPResponse.Status, _ body: String) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: body))
        )
    }
}
