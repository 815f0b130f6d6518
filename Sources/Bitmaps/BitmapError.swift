/// Why bytes could not be read as a bitmap.
public struct BitmapError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What was wrong, e.g. "array container 2 is not sorted".
    public var message: String
    /// The byte offset in the input where the problem was found.
    public var offset: Int

    public init(_ message: String, offset: Int) {
        self.message = message
        self.offset = offset
    }

    public var description: String { "invalid Roaring bitmap at byte \(offset): \(message)" }
}
