import Testing
@testable import WAL

@Suite struct ConcurrencyTests {
    /// 64 appenders × 1,000 records, real fdatasync: every acknowledged record is read back, each
    /// appender's records in the order it appended them, and sequence numbers are unique and
    /// contiguous (1…64,000) and match what each append was told.
    @Test func sixtyFourConcurrentAppendersAreAllDurableAndOrdered() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let appenders = 64
        let perAppender = 1_000
        let config = configuration(directory) { $0.segmentSize = 256 << 10 }

        let acknowledged = try await withWAL(config) { wal in
            try await withThrowingTaskGroup(of: [UInt64: [UInt8]].self) { group in
                for appender in 0..<appenders {
                    group.addTask {
                        var mine: [UInt64: [UInt8]] = [:]
                        for index in 0..<perAppender {
                            let body = record("{\"appender\":\(appender),\"index\":\(index)}")
                            let result = try await wal.append(body)
                            #expect(result.count == 1)
                            mine[result.firstSequence] = body
                        }
                        return mine
                    }
                }
                var all: [UInt64: [UInt8]] = [:]
                for try await part in group { all.merge(part) { first, _ in first } }
                return all
            }
        }
        #expect(acknowledged.count == appenders * perAppender)
        #expect(Set(acknowledged.keys) == Set(1...UInt64(appenders * perAppender)))

        // Read back after reopening: durable, not just in memory.
        try await withWAL(config) { wal in
            var nextIndex = [Int](repeating: 0, count: appenders)
            var expectedSequence: UInt64 = 1
            for batch in try readAll(wal) {
                #expect(batch.firstSequence == expectedSequence)
                for (offset, body) in batch.records.enumerated() {
                    let sequence = batch.firstSequence + UInt64(offset)
                    #expect(acknowledged[sequence] == body)
                    let text = String(decoding: body, as: UTF8.self)
                    let fields = text.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
                    guard fields.count == 2 else {
                        Issue.record("unexpected record \(text)")
                        continue
                    }
                    #expect(fields[1] == nextIndex[fields[0]], "appender \(fields[0]) out of order")
                    nextIndex[fields[0]] = fields[1] + 1
                }
                expectedSequence = batch.firstSequence + UInt64(batch.records.count)
            }
            #expect(nextIndex == [Int](repeating: perAppender, count: appenders))
            #expect(wal.stats.lastSequence == UInt64(appenders * perAppender))
        }
    }
}
