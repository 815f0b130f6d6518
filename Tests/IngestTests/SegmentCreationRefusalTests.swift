import Events
import Foundation
import Hummingbird
import HummingbirdTesting
import Synchronization
import TestSupport
import Testing
import WAL

@testable import Ingest

/// Issue #23 at the HTTP layer: when the WAL cannot create its next segment because the process is
/// out of file descriptors, that request gets 503 + `Retry-After` (not a WAL that refuses everything
/// until a restart), and ingestion resumes by itself once descriptors are back.
@Suite struct SegmentCreationRefusalTests {
    @Test func outOfDescriptorsAnswers503AndIngestionResumes() async throws {
        let fileSystem = DescriptorStarvedFileSystem()
        let harness = try IngestHarness(wal: { $0.fileSystem = fileSystem; $0.segmentSize = 2_048 })
        try await harness.app.test(.router) { client in
            // From now on every open fails; the first rotation still works (its file was opened ahead),
            // a later one cannot create its file.
            fileSystem.starved.store(true, ordering: .relaxed)
            var refusal: (code: String, retryAfter: String?)?
            var accepted = 0
            for i in 0..<300 where refusal == nil {
                try await client.execute(uri: "/events", method: .post, body: ByteBuffer(string: EventFactory.json(user: "fd\(i)"))) { response in
                    if response.status == .accepted {
                        accepted += 1
                    } else {
                        #expect(response.status == .serviceUnavailable)
                        refusal = (try IngestRouteTests.errorBody(response.body).code, response.headers[.retryAfter])
                    }
                }
            }
            #expect(refusal?.code == "wal_segment_unavailable")
            #expect(refusal?.retryAfter == "1")
            #expect(!harness.wal.isFailed)

            fileSystem.starved.store(false, ordering: .relaxed)
            try await client.execute(uri: "/events", method: .post, body: ByteBuffer(string: EventFactory.json(user: "after"))) { response in
                #expect(response.status == .accepted)
            }
            let stored = try harness.storedEvents()
            #expect(stored.count == accepted + 1)
            #expect(stored.last?.userID == "after")
        }
        try await harness.close()
    }
}

/// The real file system, except that every `open` fails with EMFILE while `starved` is set.
final class DescriptorStarvedFileSystem: ForwardingFileSystem {
    let starved = Atomic<Bool>(false)
    let base = POSIXFileSystem()

    func open(_ path: String, mode: WALOpenMode) throws -> CInt {
        if starved.load(ordering: .relaxed) { throw WALError.system(errno: EMFILE, operation: "open", file: path) }
        return try base.open(path, mode: mode)
    }
}
