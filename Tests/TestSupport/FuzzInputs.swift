import Foundation

/// The inputs `scripts/fuzz` keeps (`fuzz/regressions/<target>/`) and its seeds (`fuzz/corpus/<target>/`),
/// for the suites that replay them on every `swift test`.
public enum FuzzInputs {
    /// `fuzz/` at the top of the repository.
    public static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fuzz")

    /// Every file of `fuzz/<folder>` (dot files left out), sorted by name.
    public static func load(_ folder: String) -> [(name: String, bytes: [UInt8])] {
        let folder = directory.appendingPathComponent(folder)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { name in
            (name, [UInt8](FileManager.default.contents(atPath: folder.appendingPathComponent(name).path) ?? Data()))
        }
    }
}
