/// # TestSupport
///
/// Helpers the test targets and bench share, so none ships in a production target: scratch
/// databases (``ScratchDatabase``), a private PostgreSQL cluster (``PrivatePostgres``), temporary
/// directories, test events built through the real parser (``EventFactory``), ``Shared`` state for
/// escaping closures, the deterministic ``SplitMix64`` and the bounded ``waitUntil(timeout:polling:_:)``.
///
/// May import `Store`, `Events` and swift-log.
public enum TestSupport {}
