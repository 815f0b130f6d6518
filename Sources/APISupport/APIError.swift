import Foundation
import HTTPTypes
import Hummingbird

/// The one error shape every HTTP route answers with:
/// `{"error": {"code": "...", "message": "...", "field": "..."}}`.
///
/// Routes throw it (or map their own errors to it) so clients always get JSON naming what was wrong,
/// and never SQL text or internals.
public struct APIError: Error, HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var field: String?
    /// Seconds for a `Retry-After` header (503 and 429).
    public var retryAfterSeconds: Int?

    public init(
        status: HTTPResponse.Status,
        code: String,
        message: String,
        field: String? = nil,
        retryAfterSeconds: Int? = nil
    ) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var headers: HTTPFields {
        var fields: HTTPFields = [.contentType: Response.jsonContentType]
        if let retryAfterSeconds { fields[.retryAfter] = String(retryAfterSeconds) }
        return fields
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var buffer = ByteBuffer()
        buffer.writeBytes(jsonBody())
        return Response(status: status, headers: headers, body: .init(byteBuffer: buffer))
    }

    /// The JSON body; written by hand so the field order is stable and no encoder is needed.
    public func jsonBody() -> [UInt8] {
        var out = #"{"error":{"code":"# + JSONString.quote(code) + #","message":"# + JSONString.quote(message)
        if let field { out += #","field":"# + JSONString.quote(field) }
        out += "}}"
        return Array(out.utf8)
    }
}

extension APIError {
    public static func badRequest(_ code: String, _ message: String, field: String? = nil) -> APIError {
        APIError(status: .badRequest, code: code, message: message, field: field)
    }

    public static func unavailable(_ code: String, _ message: String, retryAfterSeconds: Int = 1) -> APIError {
        APIError(status: .serviceUnavailable, code: code, message: message, retryAfterSeconds: retryAfterSeconds)
    }
}

/// Minimal JSON string quoting for hand-written response bodies (and logfmt's quoted values).
public enum JSONString {
    public static func quote(_ string: String) -> String {
        quote(string) { scalar in "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16) }
    }

    /// `string` in double quotes with `\"`, `\\`, `\n`, `\r` and `\t` escaped, and any other control
    /// character (below U+0020) replaced by `otherControl` of it.
    public static func quote(_ string: String, otherControl: (Unicode.Scalar) -> String) -> String {
        var out = "\""
        out.reserveCapacity(string.utf8.count + 2)
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let s where s.value < 0x20: out += otherControl(s)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
        return out
    }
}
