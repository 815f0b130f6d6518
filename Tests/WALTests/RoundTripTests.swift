import Foundation
import Testing
@testable import WAL

@Suite struct RoundTripTests {
    @Test func manyRecordsAcrossRotationsRoundTrip() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let config = configuration(directory) { $0.segmentSize = 4096 }
        // 16 appenders × 60 records of 10–310 bytes: tens of groups, many rotations.
        let written = try await withWAL(config) { wal -> [UInt64: [UInt8]] in
            let results = try await withThrowingTaskGroup(of: [(UInt64, [UInt8])].self) { group in
                for appender in 0..<16 {
                    group.addTask {
                        var mine: [(UInt64, [UInt8])] = []
                        for index in 0..<60 {
                            let body = record("a\(appender)-r\(index)-" + String(repeating: "x", count: (appender * 37 + index * 11) % 300))
                            let result = try await wal.append(body)
                            mine.append((result.firstSequence, body))
                        }
                        return mine
                    }
                }
                var all: [(UInt64, [UInt8])] = []
                for try await part in group { all += part }
                return all
            }
            #expect(wal.stats.segmentCount >= 4)
            return Dictionary(uniqueKeysWithValues: results)
        }
        #expect(written.count == 960)

        // Reopen: recovery finds everything, sequences continue.
        try await withWAL(config) { wal in
            let batches = try readAll(wal)
            var seen: [UInt64: [UInt8]] = [:]
            for batch in batches {
                for (index, body) in batch.records.enumerated() { seen[batch.firstSequence + UInt64(index)] = body }
            }
            #expect(seen == written)
            #expect(Set(batches.map(\.position.segment)).count == wal.stats.segmentCount)
            #expect(wal.stats.lastSequence == 960)
            let next = try await wal.append(record("after reopen"))
            #expect(next.firstSequence == 961)
        }
    }
}
