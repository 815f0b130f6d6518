import Crypto
import Foundation

/// The database form of a client's idempotency key, computed exactly as the service does: the
/// first 16 bytes of SHA-256("client:" + key), stored in `events.idempotency_key uuid`. The
/// "client:" prefix keeps client keys apart from the keys the service derives from event fields.
enum CheckKeyHash {
    static func uuidBytes(clientKey: String) -> [UInt8] {
        Array(SHA256.hash(data: Array(("client:" + clientKey).utf8)).prefix(16))
    }

    /// 8-4-4-4-12 lowercase hex, as PostgreSQL prints a uuid.
    static func uuidString(_ bytes: some Collection<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(36)
        for (index, byte) in bytes.enumerated() {
            if index == 4 || index == 6 || index == 8 || index == 10 { out.append(UInt8(ascii: "-")) }
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
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
