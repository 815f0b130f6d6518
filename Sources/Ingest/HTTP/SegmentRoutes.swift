import APISupport
import Events
import Foundation
import Hummingbird
import WAL

/// Registers Segment's HTTP Tracking API: `POST /v1/track`, `/v1/page`, `/v1/screen`,
/// `/v1/identify`, `/v1/group`, `/v1/alias`, `/v1/batch` and `/v1/import`.
///
/// An answer of 200 `{"success":true,…}` means the valid messages are durable in the WAL, as 202
/// means on `/events/bulk`. The write key comes from HTTP Basic auth (key as user name) or
/// `writeKey` in the body; with `writeKeys` set it must pass (401 otherwise, nothing stored).
public func addSegmentRoutes<Context: RequestContext>(
    to router: some RouterMethods<Context>,
    wal: WriteAheadLog,
    configuration: IngestConfiguration,
    writeKeys: WriteKeyCheck?
) {
    let handler = SDKIngestHandler(wal: wal, configuration: configuration, writeKeys: writeKeys, routes: ["segment"])
    for call in SegmentCall.allCases {
        router.post(RouterPath(stringLiteral: "/v1/\(call.rawValue)")) { request, _ in
            let key = SegmentAuth.writeKey(request.headers.firstValue(.authorization))
            return try await handler.handle(request, route: "segment", dialect: .segment) { parser, body, received in
                parser.parseSegment(body, call: call, headerWriteKey: key, receivedAtMicros: received)
            }
        }
    }
    for path in ["/v1/batch", "/v1/import"] {
        router.post(RouterPath(stringLiteral: path)) { request, _ in
            let key = SegmentAuth.writeKey(request.headers.firstValue(.authorization))
            return try await handler.handle(request, route: "segment", dialect: .segment) { parser, body, received in
                parser.parseSegment(body, call: nil, headerWriteKey: key, receivedAtMicros: received)
            }
        }
    }
}

enum SegmentAuth {
    /// The user name of `Authorization: Basic base64(writeKey:)`; `nil` for anything else.
    static func writeKey(_ header: String?) -> String? {
        guard let header, header.count > 6, header.prefix(6).lowercased() == "basic " else { return nil }
        guard let data = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
              let text = String(data: data, encoding: .utf8)
        else { return nil }
        let user = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        return user.isEmpty ? nil : user
    }
}
