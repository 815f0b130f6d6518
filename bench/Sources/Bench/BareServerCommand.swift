import ArgumentParser
import Hummingbird

/// The ingest benchmark's baseline: a Hummingbird server whose `POST /events` reads the body and
/// answers 202 without parsing or touching the WAL. The real service's rate is reported as a share
/// of this one's, measured in the same run on the same machine.
struct BareServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bare-server",
        abstract: "Serve a bare 202 handler on 127.0.0.1 (the ingest benchmark's baseline)."
    )

    @Option(help: "Port to listen on.")
    var port: Int = 8090

    @Option(name: .customLong("max-body-bytes"), help: "Largest body read.")
    var maxBodyBytes: Int = 16 << 20

    func run() async throws {
        let router = Router()
        let limit = maxBodyBytes
        router.post("/events") { request, _ -> Response in
            _ = try await request.body.collect(upTo: limit)
            return Response(status: .accepted, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"status":"accepted"}"#)))
        }
        router.post("/events/bulk") { request, _ -> Response in
            _ = try await request.body.collect(upTo: limit)
            return Response(status: .accepted, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"accepted":0,"rejected":0,"errors":[]}"#)))
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "bare"))
        try await app.runService()
    }
}
