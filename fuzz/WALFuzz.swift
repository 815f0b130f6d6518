// libFuzzer entry for the WAL's byte parsing (`scripts/fuzz --target wal`), linked by `scripts/fuzz`
// with the real `WAL` target built with the fuzzer's instrumentation and testing enabled, so it
// reaches the internal entry points (segment header, batch frame, batch codec, recovery scanner and
// planner) through `@testable import`.
//
// Each input is used three ways:
// 1. as the bytes of segment 1 on disk: `RecoveryScanner.scan`, then `RecoveryPlanner.plan` in both
//    modes, alone and followed by a clean segment 2 (so the "not the newest segment" rules run too);
//    every batch the scan calls valid must decode with `collect: true` to its record count;
// 2. the same, after recomputing every CRC32C (`repairingChecksums`, in
//    Tests/WALTests/ChecksumRepair.swift, which scripts/fuzz compiles in), so mutated header fields
//    get past the checksum;
// 3. as one batch frame at offset 0 and at offset 32 (after a segment header), decoded with
//    `BatchCodec.decode` WITHOUT the CRC check, so the fuzzer reaches LZ4 and record framing without
//    having to forge checksums; records that decode are framed again by `BatchEncoder` and must come
//    back identical through `BatchFrame.check`.
// `Tests/WALTests/FuzzRegressionTests.swift` replays `fuzz/regressions/wal/` through the same calls.

@testable import WAL

@_cdecl("LLVMFuzzerTestOneInput")
public func walFuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    fuzzSegment(bytes)
    // The same bytes with every checksum made right, so that mutated header fields (sequences,
    // counts, lengths, ids) of otherwise plausible frames get past the CRC32C and into the logic.
    let repaired = repairingChecksums(bytes)
    if !repaired.elementsEqual(bytes) { repaired.withUnsafeBytes { fuzzSegment($0) } }
    fuzzFrame(bytes, at: 0)
    fuzzFrame(bytes, at: SegmentHeader.size)
    return 0
}

func fuzzSegment(_ bytes: UnsafeRawBufferPointer) {
    let scan = RecoveryScanner.scan(bytes, segmentId: 1)
    var scratch: [UInt8] = []
    var previousEnd = UInt64(min(bytes.count, SegmentHeader.size))
    for frame in scan.batches {
        require(frame.offset >= previousEnd && frame.end <= UInt64(bytes.count), "batch outside the file or overlapping")
        previousEnd = frame.end
        let payload = UnsafeRawBufferPointer(rebasing: bytes[(Int(frame.offset) + BatchHeader.size)..<Int(frame.end)])
        switch BatchCodec.decode(header: frame.header, payload: payload, scratch: &scratch, collect: true) {
        case .success(let records):
            require(records.count == Int(frame.header.recordCount), "a valid batch decodes to another record count")
            require(records.reduce(0) { $0 + 4 + $1.count } == Int(frame.header.rawLength), "records do not fill the raw payload")
        case .failure(let defect):
            fatalError("the scan called a batch valid that does not decode: \(defect)")
        }
    }
    for region in scan.badRegions + (scan.tail.map { [$0] } ?? []) {
        require(region.range.upperBound <= UInt64(bytes.count), "bad region outside the file")
    }
    if let tail = scan.tail { require(tail.range.upperBound == UInt64(bytes.count), "tail does not reach the end") }

    let next = scan.nextSequence ?? 1
    let second = SegmentHeader(segmentId: 2, firstSequence: next).encode()
    let secondScan = second.withUnsafeBytes { RecoveryScanner.scan($0, segmentId: 2) }
    require(secondScan.isClean, "a fresh segment header does not scan clean")

    for input in [[("00000000000000000001.wal", scan)], [("00000000000000000001.wal", scan), ("00000000000000000002.wal", secondScan)]] {
        do {
            let plan = try RecoveryPlanner.plan(input, mode: .skipCorrupt)
            checkPlan(plan, input: input)
        } catch {
            fatalError("skip mode refused bytes it should quarantine: \(error)")
        }
        do {
            let plan = try RecoveryPlanner.plan(input, mode: .strict)
            checkPlan(plan, input: input)
        } catch {
            require(error.code == .corruption && error.file != nil && error.offset != nil, "strict refusal without file and offset")
            require(!(scan.isClean && input.count == 1), "strict mode refused a clean segment")
        }
    }
}

func checkPlan(_ plan: RecoveryPlan, input: [(path: String, scan: SegmentScan)]) {
    for segment in plan.segments {
        guard let scan = input.first(where: { $0.path == segment.path })?.scan else { fatalError("plan names an unknown segment") }
        require(segment.size <= scan.fileSize, "recovered size beyond the file")
        for range in segment.skipRanges { require(range.upperBound <= segment.size, "skip range beyond the recovered size") }
    }
    require(plan.segments.count + plan.actions.filter { if case .removeNewest = $0 { true } else { false } }.count == input.count,
                 "a segment vanished from the plan")
}

func fuzzFrame(_ bytes: UnsafeRawBufferPointer, at offset: Int) {
    guard bytes.count >= offset + BatchHeader.size else { return }
    let headerBytes = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + BatchHeader.size)])
    let segmentId = headerBytes.loadLE(at: 24, as: UInt64.self)
    guard case .success(let header) = BatchHeader.parse(headerBytes, expectedSegmentId: segmentId) else { return }
    // Harness limit, not a format rule: a header may claim up to 1 GiB of raw payload, which decode
    // allocates up front. On disk the CRC32C gates that; here there is no CRC check, so stay small.
    guard header.frameLength <= bytes.count - offset, header.rawLength <= 1 << 16 else { return }
    let payload = UnsafeRawBufferPointer(rebasing: bytes[(offset + BatchHeader.size)..<(offset + header.frameLength)])
    var scratch: [UInt8] = []
    guard case .success(let records) = BatchCodec.decode(header: header, payload: payload, scratch: &scratch, collect: true) else { return }
    require(records.count == Int(header.recordCount), "decode returned another record count")

    var encoder = BatchEncoder()
    for record in records { encoder.add(record) }
    require(encoder.rawLength == Int(header.rawLength), "re-encoded raw length differs")
    encoder.compress()
    let again: [UInt8] = encoder.withFrame(segmentId: segmentId, firstSequence: header.firstSequence) { Array($0) }
    again.withUnsafeBytes { frame in
        var scratch: [UInt8] = []
        switch BatchFrame.check(frame, at: 0, segmentId: segmentId, scratch: &scratch) {
        case .success(let location):
            let payload = UnsafeRawBufferPointer(rebasing: frame[BatchHeader.size...])
            guard case .success(let decoded) = BatchCodec.decode(header: location.header, payload: payload, scratch: &scratch, collect: true) else {
                fatalError("a frame BatchEncoder made does not decode")
            }
            require(decoded == records, "records do not survive BatchEncoder and decode")
        case .failure(let defect):
            fatalError("a frame BatchEncoder made fails its check: \(defect)")
        }
    }
}

/// `precondition` that keeps its message in -O builds, so the fuzz log says which check failed.
func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError(message()) }
}
