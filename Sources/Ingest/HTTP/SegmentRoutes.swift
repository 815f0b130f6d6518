import APISupport
import Events
import Foundation
import Hummingbird
import WAL

/// Registers Segment's HTTP Tracking API: `POST /v1/track`, `/v1/page`, `/v1/screen`,
/// `/v1/identify`, `/v1/group`, `/v1/alias`, `/v1/batch` and `/v1/import`.
///
/// Success is 200 `{"success":true,…}`. The write key comes from HTTP Basic auth (key as user
/// name) or `writeKey` in the body.
func addSegmentRoutes<Context: RequestContext>(to router: some RouterMethods<Context>, handler: SDKIngestHandler) {
    // One route per call, and the two that carry a batch of any calls.
    let calls: [(path: String, call: SegmentCall?)] =
        SegmentCall.allCases.map { ("/v1/\($0.rawValue)", $0) } + [("/v1/batch", nil), ("/v1/import", nil)]
    for (path, call) in calls {
        router.post(RouterPath(stringLiteral: path)) { request, _ in
            let key = SegmentAuth.writeKey(request.headers.firstValue(.authorization))
            return try await handler.handle(request, dialect: .segment) { parser, body, received in
                parser.parseSegment(body, call: call, headerWriteKey: key, receivedAtMicros: received)
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
