import Hummingbird

extension Response {
    /// The Content-Type of every JSON answer, errors included.
    public static let jsonContentType = "application/json; charset=utf-8"

    /// A JSON answer; `body` is already JSON (the routes write their bodies by hand, in a stable order).
    public static func json(status: HTTPResponse.Status, _ body: String, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = jsonContentType
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
