import Events
import Foundation

/// The database form of an ack log's key, computed by the service's own functions (`events.idempotency_key`
/// is the first 16 bytes of a SHA-256). A line is one of two domains:
/// - `sdk:<dialect>:<write key length>:<write key><message id>`: a Segment (or PostHog) message id,
///   written so by `bench load --format segment`; the service keys it with ``IdempotencyKey/scoped``,
///   which hashes exactly this text;
/// - anything else: a client key of our own API (`idempotency_key`), hashed as `client:` + key.
/// `bench load` refuses run ids that start with `sdk:`, so the two never overlap.
enum CheckKeyHash {
    static func uuidBytes(ackLine: String) throws -> [UInt8] {
        try key(ackLine: ackLine).bytes
    }

    static func key(ackLine: String) throws -> IdempotencyKey {
        guard ackLine.hasPrefix(SDKAckKey.domain) else { return .client(ackLine) }
        guard let sdk = SDKAckKey(line: ackLine) else {
            throw CheckError("ack log line \(ackLine) starts with \(SDKAckKey.domain) but is not sdk:<dialect>:<write key length>:<write key><id>")
        }
        return .scoped(dialect: sdk.dialect, writeKey: sdk.writeKey, messageID: sdk.messageID)
    }

    /// 8-4-4-4-12 lowercase hex, as PostgreSQL prints a uuid.
    static func uuidString(_ bytes: some Collection<UInt8>) -> String {
        IdempotencyKey(bytes: bytes)?.uuidString ?? ""
    }
}

/// An SDK message id in the ack log: `sdk:<dialect>:<write key length>:<write key><id>`, the text the
/// service hashes for it (the length lets a write key hold any character, `:` included).
struct SDKAckKey: Equatable {
    static let domain = "sdk:"

    var dialect: SDKDialect
    var writeKey: String
    var messageID: String

    /// What precedes every message id of one dialect and write key; `bench load` appends the ids.
    static func prefix(dialect: SDKDialect, writeKey: String) -> String {
        "\(domain)\(dialect.rawValue):\(writeKey.utf8.count):\(writeKey)"
    }

    init(dialect: SDKDialect, writeKey: String, messageID: String) {
        self.dialect = dialect
        self.writeKey = writeKey
        self.messageID = messageID
    }

    init?(line: String) {
        let utf8 = Array(line.utf8)
        let parts = utf8.dropFirst(Self.domain.utf8.count).split(separator: UInt8(ascii: ":"), maxSplits: 2, omittingEmptySubsequences: false)
        guard line.hasPrefix(Self.domain), parts.count == 3,
            let dialect = SDKDialect(rawValue: String(decoding: parts[0], as: UTF8.self)),
            parts[1].count <= 9, parts[1].allSatisfy({ (48...57).contains($0) }),
            let length = Int(String(decoding: parts[1], as: UTF8.self)), length <= parts[2].count
        else { return nil }
        let rest = parts[2]
        self.dialect = dialect
        writeKey = String(decoding: rest.prefix(length), as: UTF8.self)
        messageID = String(decoding: rest.dropFirst(length), as: UTF8.self)
        guard !messageID.isEmpty else { return nil }
    }

    var line: String { Self.prefix(dialect: dialect, writeKey: writeKey) + messageID }
}

/// The keys of an ack log: one per line, as `bench load --ack-log` appends them. A key appears more
/// than once when a duplicate was acknowledged too (or several runs share the log); it must still be
/// one row, so the check works on the distinct keys.
struct CheckAckLog {
    var lines = 0
    /// Distinct keys in first-seen order.
    var keys: [String] = []

    init(path: String) throws {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw CheckError("cannot read ack log \(path): \(error.localizedDescription)")
        }
        var seen = Set<String>()
        for line in String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline) {
            let key = line.trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty else { continue }
            lines += 1
            if seen.insert(key).inserted { keys.append(key) }
        }
    }
}

struct CheckError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
