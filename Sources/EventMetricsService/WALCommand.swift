import ArgumentParser
import Foundation
import WAL

/// `wal inspect DIR` and `wal verify DIR`: look at a WAL directory without starting the service.
struct WALCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wal",
        abstract: "Inspect or verify a WAL directory.",
        subcommands: [WALInspectCommand.self, WALVerifyCommand.self]
    )
}

struct WALInspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Segments, batches, records, raw and stored bytes, compression ratio, first and last position."
    )

    @Argument(help: "The WAL directory.")
    var directory: String

    func run() throws {
        print(WALReport.text(try WALInspector.inspect(directory: directory)))
    }
}

struct WALVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every batch's checksum: exit 0 when clean, 1 on corruption (file and offset), 2 on a torn tail."
    )

    @Argument(help: "The WAL directory.")
    var directory: String

    func run() throws {
        let verification = WALInspector.verify(directory: directory)
        print(WALReport.text(verification))
        throw ExitCode(verification.exitCode)
    }
}
