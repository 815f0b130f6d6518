import Store

/// Encodes seed events as `COPY events (…) FROM STDIN (FORMAT binary)` data.
///
/// Binary COPY spares the server from parsing text timestamps, arrays and numbers, which is most of
/// what a text COPY costs it; the server still parses the small metadata JSON into jsonb.
struct SeedRowEncoder {
    static let copyStatement = EventsTable.copyStatement
    static let nodeID = "seed"
    /// Bytes a row takes, roughly; only sizes the buffer.
    static let approximateRowBytes = 200

    private var generator: EventGenerator
    /// uid of `user_N` at index N (1 + N on a fresh database; read from `users` in any case).
    private let uids: [Int32]
    private let window: SeedTimeWindow
    private var uuid = [UInt8](repeating: 0, count: 16)
    private var metadata: [UInt8] = []

    init(seed: UInt64, uids: [Int32], window: SeedTimeWindow) {
        generator = EventGenerator(seed: seed)
        self.uids = uids
        self.window = window
    }

    /// Rows `range` of the load (row numbers place them in time), as a complete COPY stream.
    mutating func encode(rows range: Range<Int>) -> [UInt8] {
        var writer = CopyBinaryWriter(reservingCapacity: range.count * Self.approximateRowBytes + 64)
        for row in range {
            let ts = window.micros(row: row, jitter: generator.random.unit())
            let event = generator.next(timestamp: ts / 1_000_000)
            writer.beginRow(fieldCount: 11)
            writer.uuid(randomUUID())
            writer.text(EventCatalog.names[event.name])
            writer.text(EventCatalog.channels[event.channel])
            writer.text(event.campaign.map { EventCatalog.campaigns[$0] })
            writer.text(EventCatalog.userIDs[event.user])
            writer.int4(uids[event.user])
            writer.timestamp(unixMicros: ts)
            writer.textArray(EventCatalog.tagSets[event.tagMask])
            metadata.removeAll(keepingCapacity: true)
            event.appendMetadataJSON(to: &metadata)
            writer.jsonb(metadata)
            // Received a little after it happened, as through the real pipeline.
            writer.timestamp(unixMicros: ts + Int64(generator.random.below(500_000)))
            writer.text(Self.nodeID)
        }
        return writer.finish()
    }

    /// A random version-4 uuid: seed keys must not collide with the keys clients' events hash to.
    private mutating func randomUUID() -> [UInt8] {
        withUnsafeBytes(of: generator.random.next()) { uuid.replaceSubrange(0..<8, with: $0) }
        withUnsafeBytes(of: generator.random.next()) { uuid.replaceSubrange(8..<16, with: $0) }
        uuid[6] = uuid[6] & 0x0F | 0x40
        uuid[8] = uuid[8] & 0x3F | 0x80
        return uuid
    }
}

/// Spreads row numbers evenly over the last D days, in time order, as a live service would have
/// received them: the table's physical order then follows time, like production data.
struct SeedTimeWindow: Sendable {
    let startMicros: Int64
    let endMicros: Int64
    let rows: Int

    init(endingAtUnixMicros end: Int64, days: Int, rows: Int) {
        endMicros = end
        startMicros = end - Int64(days) * 86_400_000_000
        self.rows = rows
    }

    /// A time inside row `row`'s slot; `jitter` in [0, 1) picks where.
    func micros(row: Int, jitter: Double) -> Int64 {
        let slot = Double(endMicros - startMicros) / Double(max(rows, 1))
        return startMicros + Int64((Double(row) + jitter) * slot)
    }
}
