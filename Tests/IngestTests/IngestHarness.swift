import Events
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import TestSupport
import Testing
import WAL

@testable import Ingest

/// Every ingest route (`/events`, `/events/bulk`, Segment's and PostHog's) over a real WAL in a
/// temporary directory, for the route tests to drive through HummingbirdTesting.
struct IngestHarness {
    let directory: TemporaryDirectory
    let wal: WriteAheadLog
    let app: Application<RouterResponder<BasicRequestContext>>

    /// - Parameter keys: the SDK write keys accepted; nil accepts any.
    init(
        configuration: IngestConfiguration = IngestConfiguration(), keys: [String]? = nil,
        wal walConfiguration: ((inout WALConfiguration) -> Void)? = nil
    ) throws {
        directory = try TemporaryDirectory()
        var config = WALConfiguration(directory: directory.appending("wal"))
        walConfiguration?(&config)
        wal = try WriteAheadLog.open(config, logger: Logger(label: "test"))
        let router = Router()
        var check: WriteKeyCheck?
        if let keys { check = { key in keys.contains(key) } }
        addIngestRoutes(to: router, wal: wal, configuration: configuration)
        addSDKRoutes(to: router, wal: wal, configuration: configuration, writeKeys: check)
        app = Application(router: router)
    }

    /// Every event durable in the WAL, in order.
    func storedEvents() throws -> [Event] {
        let reader = wal.reader(from: wal.stats.oldestPosition)
        var events: [Event] = []
        while let batch = try reader.next() {
            events += try batch.records.map { try EventRecordCodec.decode($0) }
        }
        return events
    }

    func close() async throws {
        try await wal.close()
        directory.remove()
    }

    /// Posts `body(i)` to `uri` 100 times on a WAL capped at 2 KiB: some posts are acknowledged with
    /// `accepted`, the rest refused with 503, `Retry-After` and `wal_over_capacity` (read from the
    /// JSON answer by `errorCode`); exactly the acknowledged events are in the WAL.
    static func expectOverCapacityRefusals(
        uri: String, headers: HTTPFields = [:], accepted: HTTPResponse.Status,
        errorCode: @escaping @Sendable ([String: Any]) -> String?, body: @escaping @Sendable (Int) -> String
    ) async throws {
        let harness = try IngestHarness { $0.maxUnreplayedBytes = 2_048 }
        try await harness.app.test(.router) { client in
            var statuses: [HTTPResponse.Status] = []
            for i in 0..<100 {
                try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: body(i))) { response in
                    statuses.append(response.status)
                    if response.status == .serviceUnavailable {
                        #expect(response.headers[.retryAfter] != nil)
                        let answer = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
                        #expect(errorCode(answer ?? [:]) == "wal_over_capacity")
                    }
                }
            }
            #expect(statuses.contains(accepted))
            #expect(statuses.contains(.serviceUnavailable))
            #expect(try harness.storedEvents().count == statuses.filter { $0 == accepted }.count)
        }
        try await harness.close()
    }
}
