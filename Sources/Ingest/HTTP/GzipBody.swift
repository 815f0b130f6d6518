import Foundation
import APISupport
import CZlib
import NIOCore

/// Inflates `Content-Encoding: gzip` request bodies with bounds, so a compressed body cannot cost
/// more memory than an uncompressed one may.
///
/// The output may not exceed `maxBytes` (the route's body limit, which therefore applies to the
/// decompressed size) nor `max(minRatioFloorBytes, compressed × maxRatio)`: a small "gzip bomb"
/// is refused with 413 as soon as inflating passes the bound, never after.
struct GzipBody {
    var maxBytes: Int
    var maxRatio: Int
    /// Bodies up to this size are accepted whatever their ratio (a small, very repetitive batch).
    var ratioFloorBytes: Int = 1 << 20

    func inflate(_ compressed: ByteBuffer) throws -> ByteBuffer {
        let (scaled, overflow) = compressed.readableBytes.multipliedReportingOverflow(by: maxRatio)
        let bound = min(maxBytes, max(ratioFloorBytes, overflow ? Int.max : scaled))
        var stream = z_stream()
        guard czlib_inflate_init_gzip(&stream) == Z_OK else {
            throw APIError(status: .internalServerError, code: "inflate_unavailable", message: "The server could not start decompressing.")
        }
        defer { inflateEnd(&stream) }
        var output = ByteBuffer()
        output.reserveCapacity(min(bound, max(4096, compressed.readableBytes * 4)))
        /// How inflating ended.
        enum Outcome { case done, overBound, trailingBytes, invalid }
        let outcome: Outcome = compressed.withUnsafeReadableBytes { input -> Outcome in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(input.count)
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let (result, produced): (Int32, Int) = chunk.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(out.count)
                    let result = CZlib.inflate(&stream, Z_NO_FLUSH)
                    return (result, out.count - Int(stream.avail_out))
                }
                if output.readableBytes + produced > bound { return .overBound }
                output.writeBytes(chunk[0..<produced])
                switch result {
                case Z_STREAM_END: return stream.avail_in == 0 ? .done : .trailingBytes
                case Z_OK: continue
                case Z_BUF_ERROR where stream.avail_in == 0: return .invalid  // input ended before the stream did
                case Z_BUF_ERROR: continue
                default: return .invalid
                }
            }
        }
        switch outcome {
        case .done:
            return output
        case .overBound:
            throw APIError(
                status: .contentTooLarge, code: "body_too_large",
                message: "The decompressed body is larger than \(bound) bytes (at most \(maxBytes) bytes, and at most \(maxRatio) times the compressed size above \(ratioFloorBytes) bytes); split it into smaller requests.",
                field: "body"
            )
        case .trailingBytes:
            throw APIError.badRequest("malformed_gzip", "The body has bytes after the end of its gzip stream.", field: "body")
        case .invalid:
            throw APIError.badRequest("malformed_gzip", "The body is not valid gzip (Content-Encoding: gzip).", field: "body")
        }
    }
}

/// The `Content-Encoding` values the ingest routes understand.
enum ContentEncoding {
    case identity, gzip

    /// No header or `identity` is plain; `gzip` (or `x-gzip`) is inflated; anything else is 415.
    init(header: String?) throws {
        guard let header else { self = .identity; return }
        switch header.trimmingCharacters(in: .whitespaces).lowercased() {
        case "", "identity": self = .identity
        case "gzip", "x-gzip": self = .gzip
        default:
            throw APIError(
                status: .unsupportedMediaType, code: "unsupported_encoding",
                message: "Send the body plain or with Content-Encoding: gzip, not \(header).", field: "Content-Encoding"
            )
        }
    }
}
