import Foundation
import Logging
import Operations
import Testing

@testable import EventMetricsService

/// `serve`'s connection flags and the descriptor budget behind `--max-connections 0`.
@Suite("Connection options")
struct ConnectionOptionsTests {
    static let logger = Logger(label: "connection-options-test", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test func theBudgetKeepsDescriptorsForEverythingElse() {
        // prlimit --nofile=400 (scripts/flood-test --short): 2 event loops, a pool of 4.
        let reserved = DescriptorBudget.reserved(queryPoolSize: 4, eventLoops: 2)
        #expect(reserved == 138)
        let small = DescriptorBudget.ceiling(softLimit: 400, reserved: reserved)
        #expect(small.maxConnections == 246)
        #expect(small.refusalReserve == 16)
        #expect(small.maxConnections + small.refusalReserve + reserved == 400)
        // A large limit: the refusal share stops at 64.
        let large = DescriptorBudget.ceiling(softLimit: 20_000, reserved: reserved)
        #expect(large.refusalReserve == 64)
        #expect(large.maxConnections == 20_000 - reserved - 64)
        // A limit below the reserve still leaves a connection to answer with.
        #expect(DescriptorBudget.ceiling(softLimit: 50, reserved: reserved).maxConnections >= 1)
    }

    @Test func aLimitAboveTheBudgetIsLowered() {
        let limits = DescriptorBudget.Limits(soft: 400, hard: 400)
        let derived = DescriptorBudget.connectionLimits(requested: 0, limits: limits, queryPoolSize: 4, logger: Self.logger)
        let asked = DescriptorBudget.connectionLimits(requested: 5_000, limits: limits, queryPoolSize: 4, logger: Self.logger)
        #expect(asked.maxConnections == derived.maxConnections)
        let modest = DescriptorBudget.connectionLimits(requested: 10, limits: limits, queryPoolSize: 4, logger: Self.logger)
        #expect(modest.maxConnections == 10)
        let huge = DescriptorBudget.connectionLimits(requested: 0, limits: .init(soft: 1 << 20, hard: 1 << 20), queryPoolSize: 4, logger: Self.logger)
        #expect(huge.maxConnections == 10_000)
    }

    @Test func flagsBecomeSettings() throws {
        let options = try ConnectionOptions.parse([
            "--max-connections", "50", "--idle-timeout-seconds", "2.5", "--request-read-timeout-seconds", "1",
            "--write-timeout-seconds", "4", "--max-request-line-bytes", "4096",
        ])
        #expect(options.maxConnections == 50)
        let settings = options.settings(maxConnections: 50, refusalReserve: 3)
        #expect(settings.idleTimeout == .milliseconds(2_500))
        #expect(settings.requestReadTimeout == .seconds(1))
        #expect(settings.writeTimeout == .seconds(4))
        #expect(settings.maxRequestLineBytes == 4_096)
        #expect(settings.refusalReserve == 3)
        #expect(throws: (any Error).self) { try ConnectionOptions.parse(["--idle-timeout-seconds", "0"]) }
        #expect(throws: (any Error).self) { try ConnectionOptions.parse(["--max-request-line-bytes", "10"]) }
    }

    @Test func environmentVariablesAreTheDefaults() throws {
        setenv("REQUEST_READ_TIMEOUT_SECONDS", "7", 1)
        setenv("MAX_REQUEST_LINE_BYTES", "2048", 1)
        defer {
            unsetenv("REQUEST_READ_TIMEOUT_SECONDS")
            unsetenv("MAX_REQUEST_LINE_BYTES")
        }
        let options = try ConnectionOptions.parse([])
        #expect(options.requestReadTimeoutSeconds == 7)
        #expect(options.maxRequestLineBytes == 2_048)
        #expect(options.idleTimeoutSeconds == 30)
    }
}
