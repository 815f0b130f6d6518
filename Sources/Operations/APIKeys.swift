/// A set of API keys (`INGEST_API_KEYS`, `QUERY_API_KEYS`), checked in constant time.
///
/// The check's running time depends only on the presented token's length and the number of keys,
/// never on how many leading bytes match, so timing cannot reveal a key byte by byte. Its
/// `description` prints a count, never a key, so logging the settings cannot leak them.
public struct APIKeys: Sendable, CustomStringConvertible {
    private let keys: [[UInt8]]

    /// Keys with surrounding whitespace trimmed; empty ones are dropped (`"a,,b,"` is two keys).
    public init(_ keys: some Sequence<String>) {
        self.keys = keys.compactMap { key in
            let trimmed = key.trimmingASCIIWhitespace()
            return trimmed.isEmpty ? nil : Array(trimmed.utf8)
        }
    }

    /// `"key1,key2"`, as the environment variables hold them.
    public init(commaSeparated: String) {
        self.init(commaSeparated.split(separator: ",", omittingEmptySubsequences: false).map(String.init))
    }

    /// No keys: the routes stay open.
    public var isEmpty: Bool { keys.isEmpty }
    public var count: Int { keys.count }
    public var description: String { "\(keys.count) API key(s)" }

    /// Whether `token` is one of the keys. Compares against every key, to the end, without branching
    /// on the bytes.
    public func contains(_ token: some Collection<UInt8>) -> Bool {
        let candidate = Array(token)
        var matched: UInt8 = 0
        for key in keys {
            // Index the key modulo its length so the loop always runs over the candidate's bytes.
            var difference: UInt8 = key.count == candidate.count ? 0 : 1
            for index in 0..<candidate.count {
                difference |= candidate[index] ^ key[index % key.count]
            }
            matched |= difference == 0 ? 1 : 0
        }
        return matched == 1 && !candidate.isEmpty
    }
}

extension String {
    func trimmingASCIIWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
