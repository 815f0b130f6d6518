import Testing
@testable import WAL

/// Recovery as pure functions over bytes: `RecoveryScanner` finds batches and bad regions,
/// `RecoveryPlanner` decides torn tail versus corruption. No files involved.
@Suite struct RecoveryScannerTests {
    static let threeBatches: [[[UInt8]]] = [
        [record("first-a"), record("first-b")],
        [record("second")],
        [record("third-a"), record("third-b"), record("third-c")],
    ]

    private func plan(_ segments: [(String, [UInt8], UInt64)], mode: WALRecoveryMode = .strict) throws(WALError) -> RecoveryPlan {
        try RecoveryPlanner.plan(segments.map { ($0.0, scan($0.1, id: $0.2)) }, mode: mode)
    }

    @Test func cleanSegmentHasEveryBatch() throws {
        let (bytes, offsets) = segmentBytes(batches: Self.threeBatches)
        let result = scan(bytes)
        #expect(result.isClean)
        #expect(result.batches.map { Int($0.offset) } == offsets)
        #expect(result.nextSequence == 7)
        let plan = try plan([("s1", bytes, 1)])
        #expect(plan.actions.isEmpty)
        #expect(plan.nextSequence == 7)
    }

    /// Prometheus TestWALRepair_ReadingError, torn-record case: every possible cut of the last batch.
    @Test func lastBatchTruncatedAtEveryOffsetIsATornTail() throws {
        let (bytes, offsets) = segmentBytes(batches: Self.threeBatches)
        let last = offsets[2]
        for cut in last..<bytes.count {
            let torn = Array(bytes[0..<cut])
            let result = scan(torn)
            #expect(result.batches.count == 2, "cut at \(cut)")
            #expect(result.badRegions.isEmpty)
            if cut == last {
                #expect(result.tail == nil)
            } else {
                #expect(result.tail?.range == UInt64(last)..<UInt64(cut))
                let plan = try plan([("s1", torn, 1)])
                #expect(plan.actions == [.truncate(path: "s1", offset: UInt64(last), defect: result.tail!.defect)])
                #expect(plan.segments.first?.size == UInt64(last))
                #expect(plan.nextSequence == 4)
            }
        }
    }

    /// Zeros after the last batch are zero-filled space (or a batch the crash lost whole, never
    /// acknowledged): trimmed, in any segment, and not reported as a torn tail.
    @Test func zeroFilledTailIsTrimmedNotTorn() throws {
        let (bytes, offsets) = segmentBytes(batches: Self.threeBatches)
        let zeroed = Array(bytes[0..<offsets[2]]) + [UInt8](repeating: 0, count: 4096)
        let result = scan(zeroed)
        #expect(result.tail == nil)
        #expect(result.zeroTail == UInt64(offsets[2])..<UInt64(zeroed.count))
        let plan = try plan([("s1", zeroed, 1)])
        #expect(plan.actions == [.trimZeros(path: "s1", offset: UInt64(offsets[2]))])
        #expect(plan.segments[0].batches == 2)
        #expect(plan.segments[0].size == UInt64(offsets[2]))
        #expect(plan.nextSequence == 4)

        // An older segment sealed before its zeros were cut (a crash right after rotation).
        let (second, _) = segmentBytes(id: 2, firstSequence: 4, batches: [[record("fourth")]])
        let twoSegments = try self.plan([("s1", zeroed, 1), ("s2", second, 2)])
        #expect(twoSegments.actions == [.trimZeros(path: "s1", offset: UInt64(offsets[2]))])
        #expect(twoSegments.nextSequence == 5)
    }

    /// A batch whose first bytes read back as zeros but whose later bytes made it is torn, not
    /// zero-filled space: only zeros all the way to the end are trimmed quietly.
    @Test func zerosFollowedByDataAreATornTail() throws {
        let (bytes, offsets) = segmentBytes(batches: Self.threeBatches)
        var torn = bytes
        for index in offsets[2]..<(offsets[2] + BatchHeader.size) { torn[index] = 0 }
        let result = scan(torn)
        #expect(result.zeroTail == nil)
        #expect(result.tail?.range.lowerBound == UInt64(offsets[2]))
        guard case .truncate("s1", UInt64(offsets[2]), _) = try plan([("s1", torn, 1)]).actions.first else {
            Issue.record("expected a torn-tail truncation")
            return
        }
    }

    enum Damage: String, CaseIterable, Sendable {
        case badMagic, badHeaderField, badChecksum, badLength, badContent

        func apply(_ bytes: inout [UInt8], at offset: Int) {
            switch self {
            case .badMagic: bytes[offset] ^= 0xFF
            case .badHeaderField: bytes[offset + 4] = 9               // unknown batch type
            case .badChecksum: bytes[offset + BatchHeader.checksumOffset] ^= 0x01
            case .badLength: bytes[offset + 8] &+= 3                  // storedLength
            case .badContent: bytes[offset + BatchHeader.size + 2] ^= 0x40
            }
        }
    }

    /// Damage to the last batch is a torn tail; the same damage to a middle batch is corruption.
    @Test(arguments: Damage.allCases)
    func damageIsTornTailAtTheEndAndCorruptionInTheMiddle(damage: Damage) throws {
        let (bytes, offsets) = segmentBytes(batches: Self.threeBatches)

        var lastDamaged = bytes
        damage.apply(&lastDamaged, at: offsets[2])
        let tornPlan = try plan([("s1", lastDamaged, 1)])
        guard case .truncate("s1", UInt64(offsets[2]), _) = tornPlan.actions.first else {
            Issue.record("\(damage): expected truncation, got \(tornPlan.actions)")
            return
        }

        var middleDamaged = bytes
        damage.apply(&middleDamaged, at: offsets[1])
        #expect(scan(middleDamaged).badRegions.map(\.range) == [UInt64(offsets[1])..<UInt64(offsets[2])])
        #expect(throws: WALError.self) { try plan([("s1", middleDamaged, 1)]) }
        do {
            _ = try plan([("s1", middleDamaged, 1)])
        } catch {
            #expect(error.code == .corruption)
            #expect(error.file == "s1")
            #expect(error.offset == UInt64(offsets[1]))
        }

        // Skip mode quarantines the middle batch and keeps the others.
        let skipped = try plan([("s1", middleDamaged, 1)], mode: .skipCorrupt)
        guard case .quarantine("s1", let range, _) = skipped.actions.first else {
            Issue.record("\(damage): expected quarantine, got \(skipped.actions)")
            return
        }
        #expect(range == UInt64(offsets[1])..<UInt64(offsets[2]))
        #expect(skipped.segments[0].skipRanges == [range])
        #expect(skipped.segments[0].batches == 2)
        #expect(skipped.nextSequence == 7)
    }

    /// Every single-bit flip anywhere in a small segment is detected: recovery either truncates a
    /// torn last batch or reports corruption, and never accepts a changed batch.
    @Test func everySingleBitFlipIsDetected() throws {
        let (bytes, offsets) = segmentBytes(batches: Self.threeBatches)
        let original = scan(bytes)
        for bit in 0..<(bytes.count * 8) {
            var flipped = bytes
            flipped[bit / 8] ^= UInt8(1 << (bit % 8))
            let result = scan(flipped)
            // No batch that contains the flipped byte may be accepted.
            for batch in result.batches {
                #expect(!(batch.offset..<batch.end).contains(UInt64(bit / 8)), "bit \(bit) accepted")
                #expect(original.batches.contains(batch), "bit \(bit) produced a batch that was never written")
            }
            do {
                let plan = try RecoveryPlanner.plan([("s1", result)], mode: .strict)
                // Only a flip inside the last batch may be repaired, by cutting that batch off.
                #expect(bit / 8 >= offsets[2], "bit \(bit) repaired silently")
                guard case .truncate(_, let offset, _) = plan.actions.first else {
                    Issue.record("bit \(bit) not detected: \(plan.actions)")
                    continue
                }
                #expect(offset == UInt64(offsets[2]))
            } catch {
                #expect(error.code == .corruption)
                #expect(bit / 8 < offsets[2], "bit \(bit) in the last batch should be a torn tail")
            }
        }
    }

    @Test func corruptionInAnOlderSegmentNamesFileAndOffset() throws {
        let (older, olderOffsets) = segmentBytes(id: 1, firstSequence: 1, batches: Self.threeBatches)
        let (newer, _) = segmentBytes(id: 2, firstSequence: 7, batches: [[record("next")]])
        #expect(try plan([("s1", older, 1), ("s2", newer, 2)]).nextSequence == 8)

        // A torn-looking end of an older segment is still corruption: older segments end cleanly.
        let cut = Array(older[0..<(older.count - 3)])
        do {
            _ = try plan([("s1", cut, 1), ("s2", newer, 2)])
            Issue.record("expected corruption")
        } catch {
            #expect(error.code == .corruption)
            #expect(error.file == "s1")
            #expect(error.offset == UInt64(olderOffsets[2]))
        }
        let skipped = try plan([("s1", cut, 1), ("s2", newer, 2)], mode: .skipCorrupt)
        #expect(skipped.actions.contains { if case .quarantine("s1", _, _) = $0 { true } else { false } })
    }

    @Test func badSegmentHeaderWithBatchesAfterItIsCorruption() throws {
        var (bytes, _) = segmentBytes(batches: Self.threeBatches)
        bytes[9] ^= 0x10  // the segment id inside the header
        do {
            _ = try plan([("s1", bytes, 1)])
            Issue.record("expected corruption")
        } catch {
            #expect(error.code == .corruption)
            #expect(error.offset == 0)
        }
    }

    @Test func newestSegmentWithoutValidHeaderOrBatchIsRemoved() throws {
        let (older, _) = segmentBytes(id: 1, batches: Self.threeBatches)
        let plan = try plan([("s1", older, 1), ("s2", [1, 2, 3], 2)])
        #expect(plan.actions == [.removeNewest(path: "s2")])
        #expect(plan.segments.map(\.id) == [1])
        #expect(plan.nextSequence == 7)
    }

    @Test func missingSegmentAndSequenceGapAreCorruption() throws {
        let (first, _) = segmentBytes(id: 1, firstSequence: 1, batches: Self.threeBatches)
        let (third, _) = segmentBytes(id: 3, firstSequence: 7, batches: [[record("x")]])
        #expect(throws: WALError.self) { try plan([("s1", first, 1), ("s3", third, 3)]) }
        let (gapped, _) = segmentBytes(id: 2, firstSequence: 9, batches: [[record("x")]])
        #expect(throws: WALError.self) { try plan([("s1", first, 1), ("s2", gapped, 2)]) }
        let skipped = try plan([("s1", first, 1), ("s2", gapped, 2)], mode: .skipCorrupt)
        #expect(skipped.nextSequence == 10)
    }

    /// Garbage full of fake magic numbers: the scan ends, finds nothing valid, and calls it all tail.
    @Test func scanOfGarbageEnds() {
        var generator = SystemRandomNumberGenerator()
        var garbage = SegmentHeader(segmentId: 1, firstSequence: 1).encode()
        for index in 0..<20_000 {
            if index % 97 == 0 {
                withUnsafeBytes(of: BatchHeader.magic.littleEndian) { garbage.append(contentsOf: $0) }
            } else {
                garbage.append(UInt8.random(in: 0...255, using: &generator))
            }
        }
        let result = scan(garbage)
        #expect(result.batches.isEmpty)
        #expect(result.tail?.range == UInt64(SegmentHeader.size)..<UInt64(garbage.count))
    }
}
