import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import ServiceLifecycle
import Store
import TestSupport
import Testing
import WAL

@testable import EventMetricsService

/// The service as `serve` builds it: `buildApplication` with real settings (a WAL in a temporary
/// folder, a fresh unmigrated database, the replayer and the query pool), on a real socket.
@Suite("buildApplication")
struct BuildApplicationTests {
    @Test func postedEventIsCountedByTheMetricsRoute() async throws {
        try await ScratchDatabase.with(prefix: "app_test") { database in
            let directory = try TemporaryDirectory("app-test")
            defer { directory.remove() }
            var wal = WALConfiguration(directory: directory.appending("wal"))
            wal.minFreeDiskBytes = 0
            var settings = ServiceSettings(wal: wal)
            settings.port = 0
            settings.nodeID = "app-test"
            settings.databaseURL = database.url
            let logger = Logger(label: "app-test", factory: { _ in SwiftLogNoOpLogHandler() })
            let app = try await buildApplication(settings, logger: logger)

            try await app.test(.live) { client in
                let event = EventFactory.json(user: "user_1", name: "app_test_event")
                try await client.execute(
                    uri: "/events", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: event)
                ) { response in
                    #expect(response.status == .accepted)
                    #expect(response.headers[.contentType] == "application/json; charset=utf-8")
                }
                // The replayer applies the event (and migrated the empty database at start) shortly;
                // ask until it is counted, within a bound.
                let deadline = ContinuousClock.now + .seconds(30)
                var body = ""
                repeat {
                    let response = try await client.execute(uri: "/metrics?event_name=app_test_event", method: .get)
                    #expect(response.status == .ok)
                    body = String(buffer: response.body)
                    if body.contains(#""total_count":1,"#) { break }
                    try await Task.sleep(for: .milliseconds(50))
                } while ContinuousClock.now < deadline
                #expect(body.contains(#""total_count":1,"#), "\(body)")
                #expect(body.contains(#""unique_user_count":1"#), "\(body)")
                try await client.execute(uri: "/ready", method: .get) { #expect($0.status == .ok) }
            }
        }
    }
}

/// A listener that cannot bind names itself, its address and the setting to change.
@Suite("Listener start-up errors")
struct ListenerStartErrorTests {
    struct FailingListener: Service {
        let errno: CInt
        func run() async throws { throw IOError(errnoCode: errno, reason: "bind(descriptor:ptr:bytes:)") }
    }

    @Test func portInUseNamesTheListenerAndThePort() async throws {
        let service = ListenerService(
            name: "admin", host: "127.0.0.1", port: 9464, portSetting: "--admin-port (env ADMIN_PORT)",
            listener: FailingListener(errno: EADDRINUSE))
        var text = ""
        do {
            try await service.run()
        } catch let error as ListenerStartError {
            text = "\(error)"
        }
        #expect(text.contains("admin listener"))
        #expect(text.contains("127.0.0.1:9464"))
        #expect(text.contains("--admin-port"))
    }
}
