import Testing
@testable import WAL

/// The shared bookkeeping, without threads or files.
@Suite struct WALStateTests {
    private func state(sizes: [UInt64], skip: [UInt64: [Range<UInt64>]] = [:]) -> WALState {
        let segments = sizes.enumerated().map { index, size in
            RecoveredSegment(id: UInt64(index + 1), path: "s\(index + 1)", size: size, batches: 1, records: 1,
                             firstSequence: UInt64(index + 1), skipRanges: skip[UInt64(index + 1)] ?? [])
        }
        return WALState(recovered: segments, nextSequence: UInt64(sizes.count + 1), freeBytes: 1 << 40, quarantinedBytes: 0)
    }

    private func pending(_ records: Int, bytes: Int) async -> PendingAppend {
        // A continuation nobody resumes: these tests only look at queue bookkeeping.
        await withCheckedContinuation { (outer: CheckedContinuation<PendingAppend, Never>) in
            Task {
                _ = try? await withCheckedThrowingContinuation { (inner: CheckedContinuation<WALAppendResult, any Error>) in
                    outer.resume(returning: PendingAppend(records: Array(repeating: [], count: records), rawBytes: bytes, continuation: inner))
                    inner.resume(throwing: CancellationError())
                }
            }
        }
    }

    @Test func readStepsWalkSegmentsAndSkipRanges() {
        let state = state(sizes: [100, 200, 150], skip: [2: [32..<80]])
        #expect(state.durableEnd == WALPosition(segment: 3, offset: 150))
        #expect(state.readStep(at: .start) == .move(WALPosition(segment: 1, offset: 32)))
        #expect(state.readStep(at: WALPosition(segment: 1, offset: 32)) == .read(path: "s1", offset: 32, limit: 100))
        #expect(state.readStep(at: WALPosition(segment: 1, offset: 100)) == .move(WALPosition(segment: 2, offset: 32)))
        #expect(state.readStep(at: WALPosition(segment: 2, offset: 32)) == .move(WALPosition(segment: 2, offset: 80)))
        #expect(state.readStep(at: WALPosition(segment: 3, offset: 150)) == .caughtUp)
        #expect(state.hasDurableData(after: WALPosition(segment: 2, offset: 200)))
        #expect(!state.hasDurableData(after: WALPosition(segment: 3, offset: 150)))
    }

    @Test func logicalBytesAndReplayMarks() {
        var state = state(sizes: [100, 200, 150])
        #expect(state.unreplayedBytes(after: .start) == 450)
        #expect(state.unreplayedBytes(after: WALPosition(segment: 2, offset: 50)) == 300)
        state.markReplayed(upTo: WALPosition(segment: 2, offset: 200))
        #expect(state.writtenLogicalEnd - state.replayedLogical == 150)
        state.markReplayed(upTo: WALPosition(segment: 1, offset: 40))  // never moves back
        #expect(state.replayed == WALPosition(segment: 2, offset: 200))
        let removed = state.removeSegments(below: WALPosition(segment: 2, offset: 200))
        #expect(removed.map(\.id) == [1, 2])
        #expect(state.segments.map(\.id) == [3])
        #expect(state.writtenLogicalEnd - state.replayedLogical == 150)
        #expect(state.removeSegments(below: WALPosition(segment: 9, offset: 0)).isEmpty)  // never the active one
    }

    @Test func groupsRespectBoundsAndNumberRecords() async {
        var state = state(sizes: [32])
        for records in [3, 4, 5] {
            #expect(state.admit(await pending(records, bytes: records * 100), maxUnreplayedBytes: .max, minFreeDiskBytes: 0) == nil)
        }
        let first = state.takeGroup(maxBytes: 800, maxRecords: 100)
        #expect(first?.appends.map(\.records.count) == [3, 4])
        #expect(first?.firstSequence == 2)
        let second = state.takeGroup(maxBytes: 10, maxRecords: 1)  // one oversized append still goes alone
        #expect(second?.appends.map(\.records.count) == [5])
        #expect(second?.firstSequence == 9)
        #expect(state.takeGroup(maxBytes: 800, maxRecords: 100) == nil)
        #expect(state.queuedBytes == 0)
    }

    @Test func admitRefusesOverCapAndBelowFloorWithoutQueueing() async {
        var state = state(sizes: [1_000])
        #expect(state.admit(await pending(1, bytes: 100), maxUnreplayedBytes: 1_100, minFreeDiskBytes: 0)?.code == .overCapacity)
        state.freeBytes = 500
        #expect(state.admit(await pending(1, bytes: 100), maxUnreplayedBytes: .max, minFreeDiskBytes: 400)?.code == .diskFull)
        #expect(state.queue.isEmpty)
        _ = state.fail(WALError(.io, "boom"))
        #expect(state.admit(await pending(1, bytes: 1), maxUnreplayedBytes: .max, minFreeDiskBytes: 0)?.code == .failed)
    }
}
