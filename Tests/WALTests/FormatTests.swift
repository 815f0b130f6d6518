import CCRC32C
import Testing
@testable import WAL

@Suite struct FormatTests {
    @Test func crc32cMatchesTheStandardCheckValueOnBothPaths() {
        let bytes = Array("123456789".utf8)
        #expect(bytes.withUnsafeBytes { CRC32C.checksum($0) } == 0xE306_9283)
        let long = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let hardware = long.withUnsafeBytes { ccrc32c_extend(0, $0.baseAddress, $0.count) }
        let software = long.withUnsafeBytes { ccrc32c_extend_software(0, $0.baseAddress, $0.count) }
        #expect(hardware == software)
    }

    @Test func segmentNamesAreTwentyDigitIds() {
        #expect(SegmentFile.name(for: 1) == "00000000000000000001.wal")
        #expect(SegmentFile.id(fromName: "00000000000000000042.wal") == 42)
        #expect(SegmentFile.id(fromName: "00000000000000000042.wal.tmp") == nil)
        #expect(SegmentFile.id(fromName: "00000000000000000042.wal.64.quarantine") == nil)
        #expect(SegmentFile.id(fromName: "42.wal") == nil)
    }

    @Test func segmentHeaderRoundTripsAndRejectsDamage() {
        let header = SegmentHeader(segmentId: 7, firstSequence: 1234)
        var bytes = header.encode()
        #expect(bytes.count == SegmentHeader.size)
        #expect(bytes.withUnsafeBytes { SegmentHeader.decode($0, expectedSegmentId: 7) } == .success(header))
        #expect(bytes.withUnsafeBytes { SegmentHeader.decode($0, expectedSegmentId: 8) } == .failure(.wrongSegment(expected: 8, found: 7)))
        bytes[17] ^= 1
        guard case .failure(.checksumMismatch) = bytes.withUnsafeBytes({ SegmentHeader.decode($0, expectedSegmentId: 7) }) else {
            Issue.record("flipped header bit not detected")
            return
        }
    }

    @Test(arguments: [true, false])
    func batchRoundTripsCompressedOrRaw(compressible: Bool) throws {
        var generator = SystemRandomNumberGenerator()
        // Random bytes do not compress, so that batch is stored raw.
        let records: [[UInt8]] = compressible
            ? (0..<50).map { record("{\"event_name\":\"page_view\",\"channel\":\"web\",\"n\":\($0)}") }
            : [(0..<2000).map { _ in UInt8.random(in: 0...255, using: &generator) }]
        let (bytes, offsets) = segmentBytes(id: 3, firstSequence: 100, batches: [records])
        let result = scan(bytes, id: 3)
        #expect(result.isClean)
        let frame = try #require(result.batches.first)
        #expect(frame.offset == UInt64(offsets[0]))
        #expect(frame.header.isCompressed == compressible)
        #expect(frame.header.firstSequence == 100)
        #expect(frame.header.recordCount == UInt32(records.count))
        if compressible { #expect(Int(frame.header.storedLength) < Int(frame.header.rawLength) / 3) }
        var scratch: [UInt8] = []
        let payload = bytes[(offsets[0] + BatchHeader.size)...]
        let decoded = Array(payload).withUnsafeBytes {
            BatchCodec.decode(header: frame.header, payload: $0, scratch: &scratch, collect: true)
        }
        #expect(decoded == .success(records))
    }

    /// Zero-filled records compress close to LZ4's limit (~255×) and must still be accepted; a header
    /// claiming more expansion than LZ4 can produce is refused before anything is allocated.
    @Test func expansionBeyondLZ4sLimitIsABadHeader() throws {
        let records = [[UInt8]](repeating: [UInt8](repeating: 0, count: 100_000), count: 10)
        let (bytes, offsets) = segmentBytes(id: 3, firstSequence: 0, batches: [records])
        let result = scan(bytes, id: 3)
        #expect(result.isClean)
        let frame = try #require(result.batches.first)
        #expect(frame.header.isCompressed)
        #expect(Int(frame.header.rawLength) > 200 * Int(frame.header.storedLength))

        var forged = Array(bytes[offsets[0]..<(offsets[0] + BatchHeader.size)])
        let claimed = UInt32(frame.header.storedLength) * 256 + 65
        for i in 0..<4 { forged[12 + i] = UInt8(truncatingIfNeeded: claimed >> (8 * UInt32(i))) }
        let parsed = forged.withUnsafeBytes { BatchHeader.parse($0, expectedSegmentId: 3) }
        guard case .failure(.badField) = parsed else {
            Issue.record("a header claiming \(claimed) raw bytes was accepted: \(parsed)")
            return
        }
    }
}
