import Foundation
import TestSupport
import Testing
@testable import WAL

/// Replays the inputs `scripts/fuzz --target wal` keeps (`fuzz/regressions/wal/`) and its seed corpus
/// through the calls `fuzz/WALFuzz.swift` makes: every input must give a correct answer, never a trap.
@Suite struct FuzzRegressionTests {
    static func inputs(_ folder: String) -> [(name: String, bytes: [UInt8])] { FuzzInputs.load(folder) }

    @Test func regressionInputsGiveAnswersNotTraps() {
        for (name, bytes) in Self.inputs("regressions/wal") {
            exercise(bytes, name)
            let repaired = bytes.withUnsafeBytes { repairingChecksums($0) }
            exercise(repaired, name + " (checksums repaired)")
        }
    }

    @Test func seedSegmentsWrittenByTheRealWALScanClean() throws {
        let seeds = Self.inputs("corpus/wal")
        #expect(!seeds.isEmpty)
        for (name, bytes) in seeds {
            let scan = bytes.withUnsafeBytes { RecoveryScanner.scan($0, segmentId: 1) }
            #expect(scan.isClean, "\(name)")
            #expect(!scan.batches.isEmpty, "\(name)")
            exercise(bytes, name)
        }
    }

    /// A batch whose checksum is right but whose sequence numbers run past UInt64.max used to trap
    /// the scanner (`firstSequence + recordCount`); now its header is bad bytes like any other.
    @Test func batchWithOverflowingSequenceNumbersIsBadBytes() throws {
        let bytes = try #require(Self.inputs("regressions/wal").first { $0.name == "batch-sequence-overflow.wal" }?.bytes)
        let scan = bytes.withUnsafeBytes { RecoveryScanner.scan($0, segmentId: 1) }
        #expect(scan.header != nil)
        #expect(scan.batches.isEmpty)
        let tail = try #require(scan.tail)
        #expect(tail.range == UInt64(SegmentHeader.size)..<UInt64(bytes.count))
        guard case .badField(let text) = tail.defect else {
            Issue.record("expected a bad field, got \(tail.defect)")
            return
        }
        #expect(text.contains("overflow"))
        // As the newest segment it is a torn tail; as an older one, corruption.
        let plan = try RecoveryPlanner.plan([("s1", scan)], mode: .strict)
        #expect(plan.actions == [.truncate(path: "s1", offset: UInt64(SegmentHeader.size), defect: tail.defect)])
        let next = SegmentHeader(segmentId: 2, firstSequence: scan.nextSequence ?? 1).encode()
        let nextScan = next.withUnsafeBytes { RecoveryScanner.scan($0, segmentId: 2) }
        #expect(throws: WALError.self) { try RecoveryPlanner.plan([("s1", scan), ("s2", nextScan)], mode: .strict) }
    }

    /// Open scans the newest segment without decoding (`PayloadCheck.checksum`): on every input, with
    /// and without repaired checksums, it must find the header, tail and zero tail the decoding scan
    /// finds, and the same batches, except that the decoding scan makes an undecodable one a bad region.
    @Test func theChecksumScanFindsWhatTheDecodingScanFinds() {
        for (name, bytes) in Self.inputs("regressions/wal") + Self.inputs("corpus/wal") {
            for input in [bytes, bytes.withUnsafeBytes { repairingChecksums($0) }] {
                let quick = input.withUnsafeBytes { RecoveryScanner.scan($0, segmentId: 1, payloads: .checksum) }
                let full = scan(input)
                #expect(quick.header == full.header && quick.tail == full.tail && quick.zeroTail == full.zeroTail, "\(name)")
                #expect(full.batches.allSatisfy { quick.batches.contains($0) }, "\(name)")
                let undecodable = quick.batches.filter { !full.batches.contains($0) }.map { $0.offset..<$0.end }
                #expect(undecodable.allSatisfy { range in full.badRegions.contains { $0.range == range } }, "\(name)")
            }
        }
    }

    // MARK: the calls of fuzz/WALFuzz.swift

    private func exercise(_ bytes: [UInt8], _ name: String) {
        bytes.withUnsafeBytes { raw in
            checkSegment(raw, name)
            checkFrame(raw, at: 0, name)
            checkFrame(raw, at: SegmentHeader.size, name)
        }
    }

    private func checkSegment(_ bytes: UnsafeRawBufferPointer, _ name: String) {
        let scan = RecoveryScanner.scan(bytes, segmentId: 1)
        var scratch: [UInt8] = []
        for frame in scan.batches {
            #expect(frame.end <= UInt64(bytes.count), "\(name)")
            let payload = UnsafeRawBufferPointer(rebasing: bytes[(Int(frame.offset) + BatchHeader.size)..<Int(frame.end)])
            let records = try? BatchCodec.decode(header: frame.header, payload: payload, scratch: &scratch, collect: true).get()
            #expect(records?.count == Int(frame.header.recordCount), "\(name): batch at \(frame.offset)")
        }
        if let tail = scan.tail { #expect(tail.range.upperBound == UInt64(bytes.count), "\(name)") }

        let second = SegmentHeader(segmentId: 2, firstSequence: scan.nextSequence ?? 1).encode()
        let secondScan = second.withUnsafeBytes { RecoveryScanner.scan($0, segmentId: 2) }
        for input in [[("s1", scan)], [("s1", scan), ("s2", secondScan)]] {
            #expect(throws: Never.self, "\(name): skip mode") { try RecoveryPlanner.plan(input, mode: .skipCorrupt) }
            do {
                _ = try RecoveryPlanner.plan(input, mode: .strict)
            } catch {
                #expect(error.code == .corruption && error.file != nil && error.offset != nil, "\(name)")
            }
        }
    }

    private func checkFrame(_ bytes: UnsafeRawBufferPointer, at offset: Int, _ name: String) {
        guard bytes.count >= offset + BatchHeader.size else { return }
        let headerBytes = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + BatchHeader.size)])
        let segmentId = headerBytes.loadLE(at: 24, as: UInt64.self)
        guard case .success(let header) = BatchHeader.parse(headerBytes, expectedSegmentId: segmentId),
              header.frameLength <= bytes.count - offset, header.rawLength <= 1 << 16 else { return }
        let payload = UnsafeRawBufferPointer(rebasing: bytes[(offset + BatchHeader.size)..<(offset + header.frameLength)])
        var scratch: [UInt8] = []
        guard case .success(let records) = BatchCodec.decode(header: header, payload: payload, scratch: &scratch, collect: true) else { return }
        var encoder = BatchEncoder()
        for record in records { encoder.add(record) }
        encoder.compress()
        let frame: [UInt8] = encoder.withFrame(segmentId: segmentId, firstSequence: header.firstSequence) { Array($0) }
        let again = frame.withUnsafeBytes { frame -> [[UInt8]]? in
            var scratch: [UInt8] = []
            guard case .success(let location) = BatchFrame.check(frame, at: 0, segmentId: segmentId, scratch: &scratch) else { return nil }
            return try? BatchCodec.decode(
                header: location.header, payload: UnsafeRawBufferPointer(rebasing: frame[BatchHeader.size...]),
                scratch: &scratch, collect: true
            ).get()
        }
        #expect(again == records, "\(name): frame at \(offset)")
    }
}
