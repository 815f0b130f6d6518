import Foundation
import Logging
import Synchronization
import Testing

@testable import Operations

/// Collects the lines a handler writes.
final class CapturedLines: Sendable {
    private let lines = Mutex<[String]>([])
    var output: LogOutput { LogOutput { line in self.lines.withLock { $0.append(line) } } }
    var all: [String] { lines.withLock { $0 } }
}

@Suite("Log handlers")
struct LogHandlerTests {
    func logger(_ format: LogFormat, level: Logger.Level = .info) -> (Logger, CapturedLines) {
        let captured = CapturedLines()
        let factory = format.handlerFactory(level: level, output: captured.output)
        return (Logger(label: "test", factory: factory), captured)
    }

    @Test func logfmtQuotesWhatNeedsIt() throws {
        var (logger, captured) = logger(.logfmt)
        logger[metadataKey: "node_id"] = "node-1"
        logger.info("WAL recovered", metadata: ["segments": "3", "file": "/tmp/a b/1.wal", "quote": "say \"hi\"\nbye", "empty": ""])
        let line = try #require(captured.all.first)
        #expect(line.hasPrefix("ts="))
        #expect(line.hasSuffix("\n"))
        #expect(line.filter { $0 == "\n" }.count == 1)
        #expect(line.contains(" level=info source=OperationsTests msg=\"WAL recovered\" "))
        #expect(line.contains(#" empty="" file="/tmp/a b/1.wal" node_id=node-1 quote="say \"hi\"\nbye" segments=3"#))
    }

    @Test func logfmtTimestampIsRFC3339UTCWithMilliseconds() throws {
        let (logger, captured) = logger(.logfmt)
        logger.notice("x")
        let line = try #require(captured.all.first)
        let ts = String(line.dropFirst(3).prefix { $0 != " " })
        #expect(ts.count == 24)
        #expect(ts.range(of: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"#, options: .regularExpression) != nil)
    }

    @Test func jsonLinesParseAndKeepFixedFieldsFirst() throws {
        var (logger, captured) = logger(.json)
        logger[metadataKey: "msg"] = "collides"
        logger.warning("PostgreSQL lost", metadata: ["error": "connection refused", "nested": ["a": ["1", "2"]]])
        let line = try #require(captured.all.first)
        #expect(line.hasPrefix(#"{"ts":""#))
        #expect(line.hasSuffix("}\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["level"] as? String == "warning")
        #expect(object["msg"] as? String == "PostgreSQL lost")
        #expect(object["meta.msg"] as? String == "collides")
        #expect(object["error"] as? String == "connection refused")
        #expect((object["nested"] as? [String: [String]])?["a"] == ["1", "2"])
    }

    @Test(arguments: LogFormat.allCases)
    func levelFiltersBelowTheConfiguredOne(format: LogFormat) {
        let (logger, captured) = logger(format, level: .warning)
        logger.info("not shown")
        logger.debug("not shown")
        logger.error("shown")
        #expect(captured.all.count == 1)
        #expect(captured.all.first?.contains("shown") == true)
    }
}
