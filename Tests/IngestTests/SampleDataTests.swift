import Events
import Foundation
import Hummingbird
import HummingbirdTesting
import TestSupport
import Testing

@testable import Ingest

/// The checked-in files in `data/`, which the README's examples use, through the real routes.
@Suite("Sample data")
struct SampleDataTests {
    static let dataDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("data")

    @Test func everySampleEventIsAcceptedAsNDJSON() async throws {
        let body = try Data(contentsOf: Self.dataDirectory.appendingPathComponent("sample-events.ndjson"))
        let lines = String(decoding: body, as: UTF8.self).split(separator: "\n").count
        let harness = try IngestHarness()
        try await harness.app.test(.router) { client in
            try await client.execute(
                uri: "/events/bulk", method: .post, headers: [.contentType: "application/x-ndjson"],
                body: ByteBuffer(bytes: body)
            ) { response in
                #expect(response.status == .accepted)
                let json = try IngestRouteTests.json(response.body)
                #expect(json["accepted"] as? Int == lines)
                #expect(json["rejected"] as? Int == 0)
            }
        }
        #expect(try harness.storedEvents().count == lines)
        try await harness.close()
    }

    @Test func everyInvalidEventGetsItsDocumentedError() async throws {
        let text = try String(contentsOf: Self.dataDirectory.appendingPathComponent("invalid-events.ndjson"), encoding: .utf8)
        struct Case: Sendable {
            var body: Data
            var status: Int?
            var field: String?
            var code: String?
            var description: String
        }
        let cases: [Case] = try text.split(separator: "\n").map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
            let event = object["event"] as Any
            let body: Data = if let raw = event as? String { Data(raw.utf8) } else {
                try JSONSerialization.data(withJSONObject: event)
            }
            return Case(
                body: body, status: object["status"] as? Int, field: object["field"] as? String,
                code: object["code"] as? String, description: object["description"] as? String ?? "")
        }
        #expect(cases.count >= 20)
        let harness = try IngestHarness()
        try await harness.app.test(.router) { client in
            for testCase in cases {
                try await client.execute(uri: "/events", method: .post, body: ByteBuffer(bytes: testCase.body)) { response in
                    #expect(response.status.code == testCase.status, "\(testCase.description)")
                    let error = try IngestRouteTests.errorBody(response.body)
                    #expect(error.field == testCase.field, "\(testCase.description)")
                    #expect(error.code == testCase.code, "\(testCase.description)")
                }
            }
        }
        #expect(try harness.storedEvents().isEmpty)
        try await harness.close()
    }
}
